package events_test

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/events"
)

// collector records what a feed hands over.
type collector struct {
	mu     sync.Mutex
	events []events.Event
	more   chan struct{} // signalled on every event
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) handle(ev events.Event) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

func (c *collector) seqs() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]uint64, len(c.events))
	for i, ev := range c.events {
		out[i] = ev.Seq
	}
	return out
}

// waitLen waits until at least n events arrived.
func (c *collector) waitLen(t *testing.T, n int) []uint64 {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := c.seqs(); len(got) >= n {
			return got
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("feed delivered %v, want %d events", c.seqs(), n)
		}
	}
}

// appendN appends n new drafts of alice and returns their sequences.
func appendN(t *testing.T, store *events.Store, tag string, n int) []uint64 {
	t.Helper()
	ctx := testContext(t)
	seqs := make([]uint64, 0, n)
	for i := range n {
		uri := postURI(alice, fmt.Sprintf("%s-%d", tag, i))
		seq, err := store.Append(ctx, events.DraftSubject(alice, events.DraftID(uri, 1)), 0, createdEnv(alice, uri, 1))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func TestFeedDeliversInOrderAndFollows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from uint64
		want func(before []uint64) []uint64
	}{
		{"from 1", 1, func(b []uint64) []uint64 { return b }},
		{"from 0 means the start", 0, func(b []uint64) []uint64 { return b }},
		{"from the middle", 4, func(b []uint64) []uint64 { return b[3:] }},
		{"from past the end", 11, func([]uint64) []uint64 { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			store := events.NewStore(provisioned(t))
			before := appendN(t, store, "before", 10)

			c := newCollector()
			feed := events.NewFeed(store.JetStream(), nil, c.handle)
			if err := feed.Start(ctx, tc.from); err != nil {
				t.Fatal(err)
			}
			defer feed.Stop()
			if err := feed.Start(ctx, tc.from); err == nil {
				t.Fatal("second Start succeeded")
			}

			want := tc.want(before)
			// New appends keep arriving after the backlog.
			want = append(slices.Clone(want), appendN(t, store, "after", 5)...)
			got := c.waitLen(t, len(want))
			if !slices.Equal(got, want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, ev := range c.events {
				if ev.Envelope == nil || ev.Type() != "DraftCreated" {
					t.Fatalf("event %d: type %q", ev.Seq, ev.Type())
				}
			}
		})
	}
}

func TestFeedStopEndsDelivery(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	c := newCollector()
	feed := events.NewFeed(store.JetStream(), nil, c.handle)
	if err := feed.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.waitLen(t, len(appendN(t, store, "a", 3)))

	stopped := make(chan struct{})
	go func() {
		feed.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	feed.Stop() // a second Stop is harmless

	appendN(t, store, "b", 3)
	time.Sleep(300 * time.Millisecond)
	if got := c.seqs(); len(got) != 3 {
		t.Fatalf("feed delivered %v after Stop, want only the 3 events before it", got)
	}

	// A stopped feed can start again, from where the caller left off.
	if err := feed.Start(ctx, 4); err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer feed.Stop()
	if got := c.waitLen(t, 6); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("after restart: %v", got)
	}
}

// Stop returns only when the handler is no longer running.
func TestFeedStopWaitsForHandler(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	appendN(t, store, "a", 1)
	entered := make(chan struct{})
	var mu sync.Mutex
	running := false
	feed := events.NewFeed(store.JetStream(), nil, func(events.Event) {
		mu.Lock()
		running = true
		mu.Unlock()
		close(entered)
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		running = false
		mu.Unlock()
	})
	if err := feed.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	<-entered
	feed.Stop()
	mu.Lock()
	defer mu.Unlock()
	if running {
		t.Fatal("Stop returned while the handler was running")
	}
}

func TestFeedHandsOnUnreadableEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := provisioned(t)
	store := events.NewStore(js)
	appendN(t, store, "a", 1)
	if _, err := js.Publish(ctx, events.DraftSubject(alice, "garbage"), []byte{0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, events.DraftSubject(alice, "future"), futureEnvelope(t)); err != nil {
		t.Fatal(err)
	}
	appendN(t, store, "b", 1)

	c := newCollector()
	feed := events.NewFeed(js, slog.New(slog.DiscardHandler), c.handle)
	if err := feed.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	defer feed.Stop()
	if got := c.waitLen(t, 4); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("delivered %v, want 1..4", got)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, wantNil := range []bool{false, true, true, false} {
		if got := c.events[i].Envelope == nil; got != wantNil {
			t.Errorf("event %d: envelope nil = %v, want %v", c.events[i].Seq, got, wantNil)
		}
	}
}
