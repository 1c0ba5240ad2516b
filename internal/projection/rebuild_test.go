package projection_test

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

func provisioned(t *testing.T) jetstream.JetStream {
	t.Helper()
	return natstest.Provisioned(t)
}

// feedView is a view kept current by a feed from sequence 1.
func feedView(t *testing.T, ctx context.Context, js jetstream.JetStream) *projection.View {
	t.Helper()
	view := projection.NewView()
	feed := events.NewFeed(js, slog.New(slog.DiscardHandler), view.Apply)
	if err := feed.Start(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Stop)
	return view
}

// The state is rebuilt from the log: a fresh view fed from sequence 1 (or
// replayed) equals the view that followed the appends as they happened.
func TestViewRebuiltFromLog(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := provisioned(t)
	store := events.NewStore(js)
	live := feedView(t, ctx, js)

	// appendTo decides on the live view's version of the draft, as a command
	// handler does, and waits until the view shows the append.
	appendTo := func(did, id string, at time.Time, msg proto.Message) {
		t.Helper()
		subject, version := events.AccountSubject(did), uint64(0)
		if id != "" {
			subject = events.DraftSubject(did, id)
			d, _ := live.Draft(id)
			version = d.Version
		} else if a, ok := live.Account(did); ok {
			version = a.Version
		}
		seq, err := store.Append(ctx, subject, version, events.New(did, at, msg))
		if err != nil {
			t.Fatalf("append %T: %v", msg, err)
		}
		if err := live.WaitFor(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	p1, p2 := created(alice, "p1", 1, ptr(tN(30))), created(alice, "p2", 1, nil)
	p1b, q := created(alice, "p1", 2, nil), created(bob, "q", 1, ptr(tN(5)))
	appendTo(alice, "", tN(0), &eventsv1.AccountAuthorized{Did: alice, Method: eventsv1.AuthMethod_AUTH_METHOD_OAUTH, PdsHost: "https://pds"})
	appendTo(alice, p1.DraftId, tN(1), p1)
	appendTo(alice, p2.DraftId, tN(1), p2)
	appendTo(bob, q.DraftId, tN(2), q)
	appendTo(alice, p1.DraftId, tN(30), &eventsv1.DraftPublishing{DraftId: p1.DraftId, Attempt: 1, WriteTime: ts(tN(30)), DueVersion: 2})
	appendTo(alice, p1.DraftId, tN(31), &eventsv1.DraftAttemptFailed{DraftId: p1.DraftId, Attempt: 1, Reason: "502", RetryAt: ts(tN(35))})
	appendTo(alice, p1.DraftId, tN(35), &eventsv1.DraftPublishing{DraftId: p1.DraftId, Attempt: 2, WriteTime: ts(tN(35)), DueVersion: 6})
	appendTo(alice, p1.DraftId, tN(50), &eventsv1.DraftPublishing{DraftId: p1.DraftId, Attempt: 2, WriteTime: ts(tN(35)), DueVersion: 6, Takeover: true})
	appendTo(alice, p1.DraftId, tN(51), &eventsv1.DraftPublished{DraftId: p1.DraftId, Cid: "bafyout", Rev: "rev1", WriteTime: ts(tN(35))})
	appendTo(alice, p1b.DraftId, tN(52), p1b)
	appendTo(alice, p2.DraftId, tN(53), &eventsv1.DraftPublishRequested{DraftId: p2.DraftId})
	appendTo(bob, q.DraftId, tN(54), &eventsv1.DraftCancelled{DraftId: q.DraftId})
	appendTo(bob, "", tN(55), &eventsv1.AccountRevoked{Did: bob, Reason: "gone"})

	last, err := store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := feedView(t, ctx, js)
	if err := rebuilt.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	replayed := projection.NewView()
	err = store.Replay(ctx, 1, nil, func(ev events.Event) error {
		replayed.Apply(ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	ids := []string{p1.DraftId, p2.DraftId, p1b.DraftId, q.DraftId}
	want := snapshotOf(t, live, ids)
	if want.seq != last {
		t.Fatalf("live view at %d, log at %d", want.seq, last)
	}
	for name, v := range map[string]*projection.View{"fed from 1": rebuilt, "replayed": replayed} {
		if got := snapshotOf(t, v, ids); !reflect.DeepEqual(got, want) {
			t.Errorf("view %s differs from the live view:\n got %+v\nwant %+v", name, got, want)
		}
	}

	// Spot checks that the live view holds what the history says.
	d, _ := live.DraftByURI(postURI(alice, "p1"))
	if d.ID != p1b.DraftId {
		t.Errorf("DraftByURI(p1) is lifecycle %d, want 2", d.Lifecycle)
	}
	d, _ = live.Draft(p1.DraftId)
	if d.Status != projection.StatusPublished || d.Attempts != 2 || len(d.WriteTimes) != 2 || d.Version != 9 {
		t.Errorf("p1 = %s, want published after 2 attempts with 2 write times at version 9", dump(d))
	}
}

type viewSnapshot struct {
	seq      uint64
	drafts   map[string]projection.Draft
	accounts map[string]projection.Account
	lists    map[string][]string
	pending  []string
	active   map[string]int
}

func snapshotOf(t *testing.T, v *projection.View, ids []string) viewSnapshot {
	t.Helper()
	s := viewSnapshot{
		seq: v.Seq(), drafts: map[string]projection.Draft{}, accounts: map[string]projection.Account{},
		lists: map[string][]string{}, active: map[string]int{},
	}
	for _, id := range ids {
		d, ok := v.Draft(id)
		if !ok {
			t.Fatalf("draft %s missing", id)
		}
		s.drafts[id] = d
	}
	for _, did := range []string{alice, bob} {
		a, _ := v.Account(did)
		s.accounts[did] = a
		rows, _, err := v.List(did, projection.Query{})
		if err != nil {
			t.Fatal(err)
		}
		s.lists[did] = draftIDs(rows)
		s.active[did] = v.ActiveCount(did)
	}
	for _, d := range v.Pending() {
		s.pending = append(s.pending, d.ID)
	}
	slices.SortFunc(s.pending, strings.Compare)
	return s
}
