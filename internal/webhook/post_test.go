package webhook_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/webhook"
)

type signatureVector struct {
	Name      string `json:"name"`
	Key       string `json:"key"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func loadSignatureVectors(t *testing.T) []signatureVector {
	t.Helper()
	data, err := os.ReadFile("testdata/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []signatureVector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return file.Vectors
}

func TestSignMatchesVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadSignatureVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			if got := webhook.Sign([]byte(v.Key), []byte(v.Body)); got != v.Signature {
				t.Errorf("Sign = %s, want %s", got, v.Signature)
			}
			if !webhook.Verify([]byte(v.Key), []byte(v.Body), v.Signature) {
				t.Error("Verify rejects the vector's signature")
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	v := loadSignatureVectors(t)[0]
	hexSum := strings.TrimPrefix(v.Signature, "sha256=")
	tests := []struct {
		name, key, body, signature string
	}{
		{"changed body", v.Key, v.Body + " ", v.Signature},
		{"other key", v.Key + "x", v.Body, v.Signature},
		{"no prefix", v.Key, v.Body, hexSum},
		{"other algorithm", v.Key, v.Body, "sha1=" + hexSum},
		{"not hex", v.Key, v.Body, "sha256=zz" + hexSum[2:]},
		{"truncated", v.Key, v.Body, v.Signature[:len(v.Signature)-2]},
		{"empty", v.Key, v.Body, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if webhook.Verify([]byte(tt.key), []byte(tt.body), tt.signature) {
				t.Error("Verify accepted a wrong signature")
			}
		})
	}
}

func TestNewNoticeJSON(t *testing.T) {
	t.Parallel()
	plus2 := time.FixedZone("+02", 2*60*60)
	at := time.Date(2026, 3, 1, 11, 0, 0, 123_456_789, plus2) // 09:00:00.123456789Z
	uri := "at://did:plc:abc/app.bsky.feed.post/3l2s5xxv2ze2c"
	tests := []struct {
		name string
		cid  string
		want string
	}{
		{"create", "bafyreig", `{"uri":"` + uri + `","cid":"bafyreig","publishedAt":"2026-03-01T09:00:00.123Z"}`},
		{"delete leaves cid out", "", `{"uri":"` + uri + `","publishedAt":"2026-03-01T09:00:00.123Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := events.New("alf:publisher", at, &eventsv1.DraftPublished{DraftId: "d", Cid: tt.cid})
			body, err := json.Marshal(webhook.NewNotice(uri, env))
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tt.want {
				t.Errorf("body = %s\nwant   %s", body, tt.want)
			}
		})
	}
}

func TestNewChecksTheURLWithoutShowingIt(t *testing.T) {
	t.Parallel()
	store := events.NewStore(nil)
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"https", "https://hooks.example.com/s3cret", true},
		{"http with port and query", "http://127.0.0.1:8080/hook?token=s3cret", true},
		{"relative", "/hook/s3cret", false},
		{"other scheme", "ftp://hooks.example.com/s3cret", false},
		{"no host", "https:///s3cret", false},
		{"does not parse", "https://hooks.example.com/%zz/s3cret", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := webhook.New(webhook.Config{Store: store, URL: tt.url})
			if (err == nil) != tt.ok {
				t.Fatalf("New(%q) err = %v, want ok %v", tt.url, err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the URL's secret: %v", err)
			}
		})
	}
	if _, err := webhook.New(webhook.Config{URL: "https://hooks.example.com/"}); err == nil {
		t.Error("New without a store succeeded")
	}
}
