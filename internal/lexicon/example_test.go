package lexicon_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/latency-fabric/alf/internal/lexicon"
)

func Example() {
	cat, err := lexicon.Load()
	if err != nil {
		panic(err)
	}

	m, ok := cat.Method("town.roundabout.scheduledPosts.listPosts")
	fmt.Println(m.Kind, ok, m.HTTPMethod())

	params, err := cat.Params(m.NSID, url.Values{"repo": {"did:plc:alice"}})
	fmt.Println(params["repo"], params["limit"], err)

	_, err = cat.Input("town.roundabout.scheduledPosts.schedulePost", "application/json",
		[]byte(`{"uri":"at://did:plc:alice/app.bsky.feed.post/3kw9mts3abc","publishAt":"tomorrow"}`))
	var e *lexicon.Error
	if errors.As(err, &e) {
		fmt.Printf("%d {%q: %q, %q: %q}\n", e.Status, "error", e.Name, "message", e.Message)
	}
	// Output:
	// query true GET
	// did:plc:alice 50 <nil>
	// 400 {"error": "InvalidRequest", "message": "Input/publishAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"}
}
