package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/webhook"
	"github.com/nats-io/nats.go/jetstream"
)

const did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

// t0 has nanoseconds, so the notice's millisecond truncation shows.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 123_456_789, time.UTC)

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// request is one POST the test server received.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint whose answers the test scripts: answer is
// called with the 0-based number of the request and returns the status to
// answer (0 for 204).
type receiver struct {
	srv    *httptest.Server
	answer func(n int, r *http.Request) int

	mu       sync.Mutex
	requests []request
	running  int // handlers under way
	peak     int // most handlers under way at once
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// ok answers 204 to every request.
func ok(int, *http.Request) int { return 0 }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.requests)
	rc.requests = append(rc.requests, request{header: r.Header.Clone(), body: body})
	rc.running++
	rc.peak = max(rc.peak, rc.running)
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.running--
		rc.mu.Unlock()
	}()
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	status := rc.answer(n, r)
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}

func (rc *receiver) received() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.requests...)
}

// peakRunning is the most requests the receiver handled at once.
func (rc *receiver) peakRunning() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.peak
}

func (rc *receiver) bodies() []string {
	var out []string
	for _, r := range rc.received() {
		out = append(out, string(r.body))
	}
	return out
}

// logBuffer collects log lines from concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rig is a provisioned embedded NATS and a place for the notifier's logs.
type rig struct {
	js    jetstream.JetStream
	store *events.Store
	logs  *logBuffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	js := natstest.Provisioned(t)
	return &rig{js: js, store: events.NewStore(js), logs: new(logBuffer)}
}

// start runs a notifier on the rig, stopped when the test ends; cfg's
// Store and Log are filled in.
func (r *rig) start(t *testing.T, cfg webhook.Config) *webhook.Notifier {
	t.Helper()
	cfg.Store = r.store
	cfg.Log = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// draft is one draft lifecycle appended to the log.
type draft struct {
	id, uri, subject string
	version          uint64
}

// create appends the DraftCreated of a new draft.
func (r *rig) create(t *testing.T, rkey string, action eventsv1.Action) *draft {
	t.Helper()
	uri := "at://" + did + "/app.bsky.feed.post/" + rkey
	d := &draft{id: events.DraftID(uri, 1), uri: uri}
	d.subject = events.DraftSubject(did, d.id)
	created := &eventsv1.DraftCreated{
		DraftId: d.id, Uri: uri, Did: did, Collection: "app.bsky.feed.post",
		Rkey: rkey, Action: action, Lifecycle: 1,
	}
	if action != eventsv1.Action_ACTION_DELETE {
		created.Record = []byte(`{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-03-01T09:00:00.000Z"}`)
		created.Cid = "bafyreidraft" + rkey
	}
	r.append(t, d, events.New(did, t0, created))
	return d
}

// append adds one event to the draft at its current version.
func (r *rig) append(t *testing.T, d *draft, env *eventsv1.Envelope) {
	t.Helper()
	seq, err := r.store.Append(testContext(t), d.subject, d.version, env)
	if err != nil {
		t.Fatal(err)
	}
	d.version = seq
}

// publish appends the draft's DraftPublished, at t0, and returns it.
func (r *rig) publish(t *testing.T, d *draft, cid string) *eventsv1.Envelope {
	t.Helper()
	env := events.New("alf:publisher", t0, &eventsv1.DraftPublished{DraftId: d.id, Cid: cid, Rev: "3l2rev"})
	r.append(t, d, env)
	return env
}

// settle waits until the notifier's consumer has settled every event in
// the log: delivered, and acknowledged or given up, none waiting for a
// retry. Every POST it made has then been answered. The log's last event
// must be a draft event (one the consumer's filter selects).
func (r *rig) settle(t *testing.T, durable string) {
	t.Helper()
	ctx := testContext(t)
	last, err := r.store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := r.js.Consumer(ctx, events.StreamEvents, durable)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= last {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumer did not settle at %d: %+v", last, info)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitRequests waits until the receiver has had at least n requests.
func waitRequests(t *testing.T, rc *receiver, n int) []request {
	t.Helper()
	ctx := testContext(t)
	for {
		if got := rc.received(); len(got) >= n {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("receiver got %d requests, want %d", len(rc.received()), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
