package content_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/latency-fabric/alf/internal/content"
)

// The JSON object a content URL answers is the record of the occurrence.
// The test server is on loopback, which only AllowPrivate permits.
func ExampleFetcher_Fetch() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, `{"$type":"app.bsky.feed.post","text":"post #%s of %s"}`, q.Get("fireCount"), q.Get("scheduledAt"))
	}))
	defer srv.Close()
	f := content.New(content.Config{AllowPrivate: true})

	occurrence := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	record, err := f.Fetch(context.Background(), srv.URL+"/next?token=s3cret", 3, occurrence)
	if err != nil {
		var cerr *content.Error
		if errors.As(err, &cerr) && cerr.Temporary {
			fmt.Println("retry later:", err)
			return
		}
		fmt.Println("give up:", err)
		return
	}
	fmt.Println(string(record))
	// Output:
	// {"$type":"app.bsky.feed.post","text":"post #3 of 2026-03-01T09:00:00.000Z"}
}

// By default a URL on a private address is refused before any connection.
func ExampleFetcher_Fetch_private() {
	f := content.New(content.Config{})
	_, err := f.Fetch(context.Background(), "http://169.254.169.254/latest/meta-data/?token=s3cret", 1, time.Now())

	var cerr *content.Error
	fmt.Println(errors.As(err, &cerr), cerr.Temporary)
	fmt.Println(err)
	// Output:
	// true false
	// content URL at 169.254.169.254 is a private address (169.254.169.254), which alf refuses to fetch
}
