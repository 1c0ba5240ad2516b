package projection_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/proto"
)

// log applies events to a view with consecutive sequences, as a feed would.
type log struct {
	view *projection.View
	seq  uint64
}

func newLog() *log { return &log{view: projection.NewView()} }

func (l *log) apply(at time.Time, msg proto.Message) uint64 {
	l.seq++
	l.view.Apply(ev(l.seq, at, msg))
	return l.seq
}

// draft creates a draft of did created at `at` and moves it to status.
func (l *log) draft(did, rkey string, at time.Time, status projection.Status) string {
	c := created(did, rkey, 1, nil)
	id := c.GetDraftId()
	l.apply(at, c)
	switch status {
	case projection.StatusScheduled:
		l.apply(at, &eventsv1.DraftScheduled{DraftId: id, ScheduledAt: ts(at.Add(time.Hour))})
	case projection.StatusPublishing:
		l.apply(at, &eventsv1.DraftPublishRequested{DraftId: id})
		l.apply(at, &eventsv1.DraftPublishing{DraftId: id, Attempt: 1, WriteTime: ts(at)})
	case projection.StatusPublished:
		l.apply(at, &eventsv1.DraftPublishing{DraftId: id, Attempt: 1, WriteTime: ts(at)})
		l.apply(at, &eventsv1.DraftPublished{DraftId: id})
	case projection.StatusFailed:
		l.apply(at, &eventsv1.DraftFailed{DraftId: id, Reason: "no"})
	case projection.StatusCancelled:
		l.apply(at, &eventsv1.DraftCancelled{DraftId: id})
	}
	return id
}

func TestViewWaitForCaughtUp(t *testing.T) {
	t.Parallel()
	l := newLog()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // returning at once must not depend on ctx
	if err := l.view.WaitFor(ctx, 0); err != nil {
		t.Fatalf("WaitFor(0) on an empty view: %v", err)
	}
	for range 5 {
		l.apply(tN(0), &eventsv1.AccountAuthorized{Did: alice})
	}
	for _, seq := range []uint64{1, 3, 5} {
		if err := l.view.WaitFor(ctx, seq); err != nil {
			t.Fatalf("WaitFor(%d) at 5: %v", seq, err)
		}
	}
	if got := l.view.Seq(); got != 5 {
		t.Fatalf("Seq = %d, want 5", got)
	}
}

func TestViewWaitForBlocksUntilApplied(t *testing.T) {
	t.Parallel()
	v := projection.NewView()
	done := make(chan error, 1)
	go func() { done <- v.WaitFor(context.Background(), 3) }()

	for seq := uint64(1); seq <= 2; seq++ {
		v.Apply(ev(seq, tN(0), &eventsv1.AccountAuthorized{Did: alice}))
		select {
		case err := <-done:
			t.Fatalf("WaitFor(3) returned at %d: %v", seq, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// An event this build cannot read still moves the view on.
	v.Apply(events.Event{Seq: 3})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitFor(3): %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitFor(3) still blocked after event 3")
	}
}

func TestViewWaitForHonoursContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := projection.NewView()
			v.Apply(ev(1, tN(0), &eventsv1.AccountAuthorized{Did: alice}))
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := v.WaitFor(ctx, 2)
			if !errors.Is(err, tc.want) {
				t.Fatalf("WaitFor = %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("WaitFor took %v to notice", d)
			}
		})
	}
}

func TestViewDraftByURINewestLifecycle(t *testing.T) {
	t.Parallel()
	l := newLog()
	first := created(alice, "p", 1, nil)
	second := created(alice, "p", 2, nil)
	l.apply(tN(0), first)
	l.apply(tN(1), &eventsv1.DraftScheduled{DraftId: first.GetDraftId(), ScheduledAt: ts(tN(2))})
	l.apply(tN(2), &eventsv1.DraftPublished{DraftId: first.GetDraftId()})
	l.apply(tN(3), second)
	// Late events of the ended lifecycle do not take the URI back.
	l.apply(tN(4), &eventsv1.DraftFailed{DraftId: first.GetDraftId()})

	got, ok := l.view.DraftByURI(postURI(alice, "p"))
	if !ok || got.ID != second.GetDraftId() || got.Lifecycle != 2 || got.Status != projection.StatusDraft {
		t.Fatalf("DraftByURI = %+v, %v; want lifecycle 2 as a draft", got, ok)
	}
	old, ok := l.view.Draft(first.GetDraftId())
	if !ok || old.Lifecycle != 1 || old.Status != projection.StatusFailed {
		t.Fatalf("Draft(lifecycle 1) = %+v, %v", old, ok)
	}
	if _, ok := l.view.DraftByURI(postURI(alice, "nope")); ok {
		t.Fatal("DraftByURI found an unknown URI")
	}
	if _, ok := l.view.Draft("nope"); ok {
		t.Fatal("Draft found an unknown ID")
	}
}

// Events of a draft the view never saw created are skipped, but still move
// the view's sequence.
func TestViewIgnoresUnknownDrafts(t *testing.T) {
	t.Parallel()
	l := newLog()
	calls := 0
	l.view.Observe(func(projection.Draft) { calls++ })
	l.apply(tN(0), &eventsv1.DraftScheduled{DraftId: "unknown", ScheduledAt: ts(tN(1))})
	l.apply(tN(0), &eventsv1.DraftPublishing{DraftId: "unknown", Attempt: 1})
	if _, ok := l.view.Draft("unknown"); ok {
		t.Fatal("a draft appeared without DraftCreated")
	}
	if n := len(l.view.Pending()); n != 0 {
		t.Fatalf("Pending has %d drafts", n)
	}
	if calls != 0 {
		t.Fatalf("observer called %d times", calls)
	}
	if l.view.Seq() != 2 {
		t.Fatalf("Seq = %d, want 2", l.view.Seq())
	}
}

func TestViewAccount(t *testing.T) {
	t.Parallel()
	l := newLog()
	l.apply(tN(0), &eventsv1.AccountAuthorized{Did: alice, PdsHost: "https://pds.example.com"})
	l.apply(tN(1), &eventsv1.AccountAuthorized{Did: bob})
	l.apply(tN(2), &eventsv1.AccountRevoked{Did: bob, Reason: "gone"})
	tests := []struct {
		did        string
		ok         bool
		authorized bool
		version    uint64
	}{
		{alice, true, true, 1},
		{bob, true, false, 3},
		{"did:plc:nobody", false, false, 0},
	}
	for _, tc := range tests {
		a, ok := l.view.Account(tc.did)
		if ok != tc.ok || a.Authorized != tc.authorized || a.Version != tc.version {
			t.Errorf("Account(%s) = %+v, %v; want ok %v authorized %v version %d", tc.did, a, ok, tc.ok, tc.authorized, tc.version)
		}
	}
}

func TestViewActiveCountAndPending(t *testing.T) {
	t.Parallel()
	l := newLog()
	want := map[projection.Status][]string{}
	for i, st := range []projection.Status{
		projection.StatusDraft, projection.StatusScheduled, projection.StatusPublishing,
		projection.StatusPublished, projection.StatusFailed, projection.StatusCancelled,
		projection.StatusScheduled, projection.StatusDraft,
	} {
		want[st] = append(want[st], l.draft(alice, fmt.Sprint(i), tN(i), st))
	}
	l.draft(bob, "b1", tN(0), projection.StatusScheduled)
	l.draft(bob, "b2", tN(0), projection.StatusCancelled)

	tests := []struct {
		did  string
		want int
	}{
		{alice, 5}, // 2 drafts, 2 scheduled, 1 publishing
		{bob, 1},
		{"did:plc:nobody", 0},
	}
	for _, tc := range tests {
		if got := l.view.ActiveCount(tc.did); got != tc.want {
			t.Errorf("ActiveCount(%s) = %d, want %d", tc.did, got, tc.want)
		}
	}

	var pending []string
	for _, d := range l.view.Pending() {
		if d.Status != projection.StatusScheduled && d.Status != projection.StatusPublishing {
			t.Errorf("Pending holds %s in status %s", d.ID, d.Status)
		}
		if d.DID == alice {
			pending = append(pending, d.ID)
		}
	}
	wantPending := slices.Concat(want[projection.StatusScheduled], want[projection.StatusPublishing])
	slices.Sort(pending)
	slices.Sort(wantPending)
	if !slices.Equal(pending, wantPending) {
		t.Fatalf("alice's pending drafts = %v, want %v", pending, wantPending)
	}
	if n := len(l.view.Pending()); n != len(wantPending)+1 {
		t.Fatalf("Pending has %d drafts, want %d", n, len(wantPending)+1)
	}
}

func TestViewObservers(t *testing.T) {
	t.Parallel()
	l := newLog()
	type seen struct {
		observer int
		status   projection.Status
		version  uint64
		shown    bool // the view already showed this state
	}
	var got []seen
	for i := range 2 {
		l.view.Observe(func(d projection.Draft) {
			cur, _ := l.view.Draft(d.ID) // must not deadlock: called outside the lock
			got = append(got, seen{i, d.Status, d.Version, cur.Version == d.Version && l.view.Seq() == d.Version})
		})
	}
	c := created(alice, "p", 1, nil)
	l.apply(tN(0), c)                                                   // 1
	l.apply(tN(0), &eventsv1.AccountAuthorized{Did: alice})             // 2: not a draft
	l.apply(tN(1), &eventsv1.DraftPublishRequested{DraftId: c.DraftId}) // 3
	l.seq++
	l.view.Apply(events.Event{Seq: l.seq})                       // 4: unreadable
	l.apply(tN(2), &eventsv1.DraftCancelled{DraftId: c.DraftId}) // 5

	want := []seen{
		{0, projection.StatusDraft, 1, true}, {1, projection.StatusDraft, 1, true},
		{0, projection.StatusScheduled, 3, true}, {1, projection.StatusScheduled, 3, true},
		{0, projection.StatusCancelled, 5, true}, {1, projection.StatusCancelled, 5, true},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("observers saw\n %v\nwant\n %v", got, want)
	}
}

func TestViewListOrderAndFilter(t *testing.T) {
	t.Parallel()
	l := newLog()
	statuses := []projection.Status{
		projection.StatusDraft, projection.StatusScheduled, projection.StatusPublished,
		projection.StatusScheduled, projection.StatusCancelled, projection.StatusDraft,
	}
	ids := make([]string, len(statuses))
	for i, st := range statuses {
		ids[i] = l.draft(alice, fmt.Sprint(i), tN(i), st)
	}
	l.draft(bob, "b", tN(100), projection.StatusDraft)

	byStatus := func(st projection.Status) []string {
		var out []string
		for i := len(ids) - 1; i >= 0; i-- { // newest first
			if st == "" || statuses[i] == st {
				out = append(out, ids[i])
			}
		}
		return out
	}
	tests := []struct {
		name   string
		did    string
		status projection.Status
		want   []string
	}{
		{"all, newest first", alice, "", byStatus("")},
		{"scheduled", alice, projection.StatusScheduled, byStatus(projection.StatusScheduled)},
		{"draft", alice, projection.StatusDraft, byStatus(projection.StatusDraft)},
		{"none in status", alice, projection.StatusFailed, nil},
		{"another account", bob, "", []string{events.DraftID(postURI(bob, "b"), 1)}},
		{"unknown account", "did:plc:nobody", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, next, err := l.view.List(tc.did, projection.Query{Status: tc.status})
			if err != nil {
				t.Fatal(err)
			}
			if next != "" {
				t.Fatalf("next cursor %q on a single page", next)
			}
			if got := draftIDs(rows); !slices.Equal(got, tc.want) {
				t.Fatalf("List = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestViewListLimit(t *testing.T) {
	t.Parallel()
	l := newLog()
	for i := range 130 {
		l.draft(alice, fmt.Sprint(i), tN(i), projection.StatusDraft)
	}
	tests := []struct {
		limit, want int
	}{
		{0, 50}, {-3, 50}, {1, 1}, {37, 37}, {100, 100}, {101, 100}, {1000, 100},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			t.Parallel()
			rows, next, err := l.view.List(alice, projection.Query{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.want || next == "" {
				t.Fatalf("List(limit %d) = %d rows, next %q; want %d rows and a cursor", tc.limit, len(rows), next, tc.want)
			}
		})
	}
}

// Paging with random page sizes through rows that mostly share a CreatedAt
// yields every row exactly once, in List's order, also while new drafts
// arrive between pages.
func TestViewListPaginationUnderTies(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 42))
			l := newLog()
			n := 20 + rng.IntN(80) // one List page of 100 holds them all
			statuses := []projection.Status{projection.StatusDraft, projection.StatusScheduled, projection.StatusCancelled}
			for i := range n {
				at := tN(rng.IntN(3)) // three distinct creation times only
				l.draft(alice, fmt.Sprint(i), at, statuses[rng.IntN(len(statuses))])
			}
			status := []projection.Status{"", projection.StatusScheduled}[rng.IntN(2)]
			want := listAll(t, l.view, status)

			var got []string
			cursor := ""
			for page := 0; ; page++ {
				if page > n+1 {
					t.Fatalf("no end after %d pages", page)
				}
				rows, next, err := l.view.List(alice, projection.Query{Status: status, Limit: 1 + rng.IntN(15), Cursor: cursor})
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				got = append(got, draftIDs(rows)...)
				if next == "" {
					break
				}
				cursor = next
				// Newer drafts arriving between pages sort before the cursor.
				if rng.IntN(3) == 0 {
					l.draft(alice, fmt.Sprintf("late-%d", page), tN(10+page), projection.StatusScheduled)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged %d rows, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
}

func TestViewListBadCursor(t *testing.T) {
	t.Parallel()
	l := newLog()
	l.draft(alice, "p", tN(0), projection.StatusDraft)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		cursor string
	}{
		{"not base64", "!!!"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte("1:abc"))},
		{"no separator", enc("1234567")},
		{"no id", enc("1234567:")},
		{"time not a number", enc("noon:abc")},
		{"time overflows", enc(strings.Repeat("9", 30) + ":abc")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, next, err := l.view.List(alice, projection.Query{Cursor: tc.cursor})
			if !errors.Is(err, projection.ErrBadCursor) {
				t.Fatalf("List(cursor %q) = %d rows, %q, %v; want ErrBadCursor", tc.cursor, len(rows), next, err)
			}
		})
	}
}

// Readers run while a feed applies: the view is safe for concurrent use.
func TestViewConcurrentReaders(t *testing.T) {
	t.Parallel()
	l := newLog()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				l.view.List(alice, projection.Query{Limit: 10})
				l.view.Pending()
				l.view.ActiveCount(alice)
				l.view.DraftByURI(postURI(alice, "3"))
				l.view.Account(alice)
			}
		})
	}
	for i := range 200 {
		l.draft(alice, fmt.Sprint(i%20), tN(i), projection.StatusPublished)
	}
	cancel()
	wg.Wait()
	if err := l.view.WaitFor(context.Background(), l.seq); err != nil {
		t.Fatal(err)
	}
}

// listAll is every row of alice in List's order, from one page.
func listAll(t *testing.T, v *projection.View, status projection.Status) []string {
	t.Helper()
	rows, next, err := v.List(alice, projection.Query{Status: status, Limit: 100})
	if err != nil || next != "" {
		t.Fatalf("List all: next %q, %v", next, err)
	}
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID <= b.ID) {
			t.Fatalf("rows %d and %d out of order: %v/%s then %v/%s", i-1, i, a.CreatedAt, a.ID, b.CreatedAt, b.ID)
		}
	}
	return draftIDs(rows)
}

func draftIDs(rows []projection.Draft) []string {
	var ids []string
	for _, d := range rows {
		ids = append(ids, d.ID)
	}
	return ids
}
