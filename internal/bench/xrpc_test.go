package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
)

var xrpcRkeys = flag.Bool("xrpc.rkeys", true, "BenchmarkXRPCIngest's callers name a distinct rkey (false: none, the gateway picks a TID)")

// createRecordNSID is the XRPC method BenchmarkXRPCIngest calls, and so the
// lxm of its tokens.
const createRecordNSID = "com.atproto.repo.createRecord"

// xrpcRecord is the post every XRPC draft holds.
const xrpcRecord = `{"$type":"app.bsky.feed.post","text":"benchmark draft","createdAt":"2026-01-01T00:00:00.000Z"}`

// BenchmarkXRPCIngest is BenchmarkIngest over the reference's XRPC surface:
// POST /xrpc/com.atproto.repo.createRecord with a JSON body {repo,
// collection, rkey, record} and x-scheduled-at a year ahead (so the timer
// queues each draft and the publisher stays idle), from -ingest.workers
// callers at once over HTTP/1.1, each an account reusing one token, for
// -ingest.drafts drafts a run. It reports drafts/s and the latency of a call
// as the client sees it, and checks that every call was answered with its
// draft's URI and CID and that the view holds every draft, scheduled.
func BenchmarkXRPCIngest(b *testing.B) {
	workers, total := *ingestWorkers, *ingestDrafts
	ids := identities(b, workers)
	a := startAlf(b, nil, ids...)
	hc := httpClient(workers)
	later := time.Now().AddDate(1, 0, 0).UTC().Truncate(time.Millisecond)
	cid, err := record.CID([]byte(xrpcRecord))
	if err != nil {
		b.Fatal(err)
	}
	callers := make([]*xrpcCreator, workers)
	calls := make([]callFunc, workers)
	for w, id := range ids {
		callers[w] = newXRPCCreator(b, hc, "http://"+a.node.Addr(), id, later, *xrpcRkeys)
		calls[w] = callers[w].call
	}
	var samples []time.Duration
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		got, err := ingest(calls, total)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, got...)
	}
	b.StopTimer()
	if err := checkXRPCDrafts(a, callers, cid, later); err != nil {
		b.Fatal(err)
	}
	s := summarize(samples)
	rate := float64(len(samples)) / elapsed.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rate, "drafts/s")
	s.report(b, "call")
	b.Logf("xrpc ingest: %d createRecord calls from %d callers: %.0f drafts/s, call %s", len(samples), workers, rate, s)
}

// xrpcCreator is one caller: an account with one createRecord token,
// noting the URI and CID of every draft it was answered.
type xrpcCreator struct {
	hc        *http.Client
	url       string
	did       string
	auth      string // the Authorization header
	scheduled string // the x-scheduled-at header
	rkeys     bool
	answers   []createAnswer // only this caller's goroutine appends
}

// createAnswer is the part of createRecord's answer the benchmark checks.
type createAnswer struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

func newXRPCCreator(b *testing.B, hc *http.Client, base string, id *authtest.Identity, due time.Time, rkeys bool) *xrpcCreator {
	b.Helper()
	return &xrpcCreator{
		hc:        hc,
		url:       base + "/xrpc/" + createRecordNSID,
		did:       id.DID.String(),
		auth:      "Bearer " + id.Token(b, serviceDID, createRecordNSID, 30*time.Minute),
		scheduled: due.Format(time.RFC3339Nano),
		rkeys:     rkeys,
	}
}

// call creates the i-th draft of a run: a post, with its own rkey unless
// the caller names none.
func (c *xrpcCreator) call(ctx context.Context, base int64, i int) error {
	body := `{"repo":"` + c.did + `","collection":"app.bsky.feed.post"`
	want := ""
	if c.rkeys {
		k := rkey(base, i)
		body += `,"rkey":"` + k + `"`
		want = "at://" + c.did + "/app.bsky.feed.post/" + k
	}
	body += `,"record":` + xrpcRecord + `}`
	got, err := c.post(ctx, body)
	if err != nil {
		return fmt.Errorf("createRecord %d: %w", i, err)
	}
	if want != "" && got.URI != want {
		return fmt.Errorf("createRecord %d answered uri %q, want %q", i, got.URI, want)
	}
	c.answers = append(c.answers, got)
	return nil
}

// post sends one createRecord call and decodes a 200 answer.
func (c *xrpcCreator) post(ctx context.Context, body string) (createAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewBufferString(body))
	if err != nil {
		return createAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("X-Scheduled-At", c.scheduled)
	resp, err := c.hc.Do(req)
	if err != nil {
		return createAnswer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return createAnswer{}, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return createAnswer{}, fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	var a createAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return createAnswer{}, fmt.Errorf("answer %s: %w", raw, err)
	}
	return a, nil
}

// checkXRPCDrafts checks that every answered draft is in the view,
// scheduled for due with the record's CID, that every URI is distinct and
// that nothing was written to the PDS.
func checkXRPCDrafts(a *alf, callers []*xrpcCreator, cid string, due time.Time) error {
	view := a.node.View()
	seen := make(map[string]bool)
	for _, c := range callers {
		for _, ans := range c.answers {
			if seen[ans.URI] {
				return fmt.Errorf("two drafts answered uri %s", ans.URI)
			}
			seen[ans.URI] = true
			if err := checkXRPCDraft(view, ans, cid, due); err != nil {
				return err
			}
		}
	}
	if n := a.fake.Len(); n != 0 {
		return fmt.Errorf("the PDS received %d writes; the drafts are due in a year", n)
	}
	return nil
}

func checkXRPCDraft(view *projection.View, ans createAnswer, cid string, due time.Time) error {
	d, ok := view.DraftByURI(ans.URI)
	switch {
	case !ok:
		return fmt.Errorf("draft %s is not in the view", ans.URI)
	case d.Status != projection.StatusScheduled || !d.ScheduledAt.Equal(due):
		return fmt.Errorf("draft %s is %s for %s, want scheduled for %s", ans.URI, d.Status, d.ScheduledAt, due)
	case ans.CID != cid || d.CID != cid:
		return fmt.Errorf("draft %s has CID %s (answered %s), want %s", ans.URI, d.CID, ans.CID, cid)
	}
	return nil
}
