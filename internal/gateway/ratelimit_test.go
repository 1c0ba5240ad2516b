package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/node"
)

// Each account has its rate: past its burst (a fifth of a minute's worth,
// at least 10) it gets 429 RateLimitExceeded with Retry-After on XRPC and
// resource_exhausted on Connect; other accounts are not held up.
func TestRateLimitPerAccount(t *testing.T) {
	t.Parallel()
	g := startTuned(t, node.Roles{Gateway: true}, func(o *node.Options) { o.RateLimits.PerAccount = 60 })
	list := func(who string) call {
		id := g.alice
		if who == "bob" {
			id = g.bob
		}
		return call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?repo=" + id.DID.String(), as: id}
	}
	for i := range 12 {
		if a := g.do(t, list("alice")); a.status != 200 {
			t.Fatalf("call %d within the burst: %d %s", i+1, a.status, a.raw)
		}
	}
	limited := g.do(t, list("alice"))
	expect{status: http.StatusTooManyRequests, name: "RateLimitExceeded"}.check(t, limited)
	if a := g.do(t, list("bob")); a.status != 200 {
		t.Fatalf("bob held up by alice's rate: %d", a.status)
	}
	_, err := g.drafts(t, g.alice).ListDrafts(context.Background(), connect.NewRequest(&alfv1.ListDraftsRequest{}))
	var ce *connect.Error
	if code(err) != connect.CodeResourceExhausted || !asConnect(err, &ce) || ce.Meta().Get("Retry-After") == "" {
		t.Fatalf("Connect over the rate: %v", err)
	}
}

// Each client address has its rate too, health checks aside.
func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	g := startTuned(t, node.Roles{Gateway: true}, func(o *node.Options) { o.RateLimits.PerIP = 60 })
	for range 12 {
		g.do(t, call{method: "GET", path: "/nope"})
	}
	req, _ := http.NewRequest("GET", g.base+"/nope", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the address's rate: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if a := g.do(t, call{method: "GET", path: "/health"}); a.status != 200 {
		t.Fatalf("/health limited: %d", a.status)
	}
}

func asConnect(err error, target **connect.Error) bool { return errors.As(err, target) }
