package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const (
	alice = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
	bob   = "did:web:bob.example.com"
)

func postURI(did, rkey string) string { return "at://" + did + "/app.bsky.feed.post/" + rkey }

func TestAppendExpectedVersion(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := provisioned(t)
	store := events.NewStore(js)
	uri := postURI(alice, "a")
	id := events.DraftID(uri, 1)
	subject := events.DraftSubject(alice, id)
	other := events.DraftSubject(alice, events.DraftID(postURI(alice, "b"), 1))

	// Steps run in order on one store; version is the subject's last sequence.
	steps := []struct {
		name     string
		subject  string
		expected func(version uint64) uint64
		wantErr  error
		wantSeq  uint64
	}{
		{"new aggregate at 0", subject, func(uint64) uint64 { return 0 }, nil, 1},
		{"again at 0", subject, func(uint64) uint64 { return 0 }, events.ErrConflict, 0},
		{"ahead of the subject", subject, func(v uint64) uint64 { return v + 5 }, events.ErrConflict, 0},
		{"at the right version", subject, func(v uint64) uint64 { return v }, nil, 2},
		{"at the old version", subject, func(v uint64) uint64 { return v - 1 }, events.ErrConflict, 0},
		{"another aggregate is new at 0", other, func(uint64) uint64 { return 0 }, nil, 3},
		{"first subject still at its own version", subject, func(uint64) uint64 { return 2 }, nil, 4},
	}
	versions := map[string]uint64{}
	for _, st := range steps {
		env := createdEnv(alice, uri, 1)
		seq, err := store.Append(ctx, st.subject, st.expected(versions[st.subject]), env)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
		if seq != st.wantSeq {
			t.Fatalf("%s: seq = %d, want %d", st.name, seq, st.wantSeq)
		}
		if err == nil {
			versions[st.subject] = seq
		}
	}
	if last, err := store.LastSeq(ctx); err != nil || last != 4 {
		t.Fatalf("LastSeq = %d, %v; want 4", last, err)
	}
}

func TestAppendSetsTypeHeader(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := provisioned(t)
	store := events.NewStore(js)
	if store.JetStream() != js {
		t.Fatal("JetStream() is not the context the store was made with")
	}
	st, err := js.Stream(ctx, events.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range catalogue {
		subject := events.DraftSubject(alice, events.Token(tc.name))
		seq, err := store.Append(ctx, subject, 0, events.New(alice, t0, tc.msg))
		if err != nil {
			t.Fatalf("append %s: %v", tc.name, err)
		}
		raw, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := raw.Header.Get(events.HeaderType); got != tc.name {
			t.Errorf("%s header = %q, want %q", events.HeaderType, got, tc.name)
		}
		if raw.Subject != subject {
			t.Errorf("stored on %q, want %q", raw.Subject, subject)
		}
		env, err := events.Decode(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		if events.TypeOf(env) != tc.name {
			t.Errorf("stored payload is a %s, want %s", events.TypeOf(env), tc.name)
		}
	}
}

// A retried append of the same envelope (same id) within the duplicate
// window is stored once and answers with the original sequence.
func TestAppendRetryIsStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	uri := postURI(alice, "retry")
	subject := events.DraftSubject(alice, events.DraftID(uri, 1))
	env := createdEnv(alice, uri, 1)
	first, err := store.Append(ctx, subject, 0, env)
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.Append(ctx, subject, 0, env)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again != first {
		t.Fatalf("retry seq = %d, want the original %d", again, first)
	}
	if last, _ := store.LastSeq(ctx); last != first {
		t.Fatalf("log holds %d events after a retry, want %d", last, first)
	}
}

func TestAppendRaceHasOneWinner(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	const writers, rounds = 8, 5
	uri := postURI(alice, "race")
	id := events.DraftID(uri, 1)
	subject := events.DraftSubject(alice, id)

	var version uint64
	for round := range rounds {
		seqs := make([]uint64, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				env := scheduledEnv(id)
				if version == 0 {
					env = createdEnv(alice, uri, 1)
				}
				seqs[w], errs[w] = store.Append(ctx, subject, version, env)
			})
		}
		close(start)
		wg.Wait()

		var winners []uint64
		for w, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, seqs[w])
			case errors.Is(err, events.ErrConflict):
			default:
				t.Fatalf("round %d writer %d: %v", round, w, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners %v, want exactly 1", round, len(winners), winners)
		}
		version = winners[0]
	}
	if last, _ := store.LastSeq(ctx); last != rounds {
		t.Fatalf("log holds %d events, want %d (one per round)", last, rounds)
	}
}

// replayLog appends an interleaved history of two accounts and returns the
// sequences of each account's events.
func replayLog(t *testing.T, store *events.Store) (all, aliceSeqs []uint64) {
	t.Helper()
	ctx := testContext(t)
	type step struct {
		did     string
		subject string
		env     *eventsv1.Envelope
	}
	a1, a2, b1 := postURI(alice, "1"), postURI(alice, "2"), postURI(bob, "1")
	steps := []step{
		{alice, events.DraftSubject(alice, events.DraftID(a1, 1)), createdEnv(alice, a1, 1)},
		{bob, events.DraftSubject(bob, events.DraftID(b1, 1)), createdEnv(bob, b1, 1)},
		{alice, events.AccountSubject(alice), events.New(alice, t0, &eventsv1.AccountAuthorized{Did: alice})},
		{alice, events.DraftSubject(alice, events.DraftID(a1, 1)), scheduledEnv(events.DraftID(a1, 1))},
		{bob, events.AccountSubject(bob), events.New(bob, t0, &eventsv1.AccountAuthorized{Did: bob})},
		{alice, "alf.evt.schedule." + events.AccountToken(alice) + "." + events.Token("s1"), scheduledEnv("s1")},
		{alice, events.DraftSubject(alice, events.DraftID(a2, 1)), createdEnv(alice, a2, 1)},
		{bob, events.DraftSubject(bob, events.DraftID(b1, 1)), scheduledEnv(events.DraftID(b1, 1))},
	}
	versions := map[string]uint64{}
	for _, s := range steps {
		seq, err := store.Append(ctx, s.subject, versions[s.subject], s.env)
		if err != nil {
			t.Fatal(err)
		}
		versions[s.subject] = seq
		all = append(all, seq)
		if s.did == alice {
			aliceSeqs = append(aliceSeqs, seq)
		}
	}
	return all, aliceSeqs
}

func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	all, aliceSeqs := replayLog(t, store)
	last := all[len(all)-1]
	tests := []struct {
		name    string
		from    uint64
		filters []string
		want    []uint64
	}{
		{"from 1", 1, nil, all},
		{"from 0 means the start", 0, nil, all},
		{"from the middle", 4, nil, all[3:]},
		{"from the last", last, nil, all[len(all)-1:]},
		{"past the end", last + 1, nil, nil},
		{"one account", 1, events.AccountFilters(alice), aliceSeqs},
		{"one account from the middle", 5, events.AccountFilters(alice), []uint64{6, 7}},
		{"one account, none after from", 8, events.AccountFilters(alice), nil},
		{"an account with no events", 1, events.AccountFilters("did:plc:nobody"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := replaySeqs(t, ctx, store, tc.from, tc.filters)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Replay(from %d) = %v, want %v", tc.from, got, tc.want)
			}
		})
	}
}

func TestReplayEmptyStream(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	for _, from := range []uint64{0, 1, 100} {
		if got := replaySeqs(t, ctx, store, from, nil); len(got) != 0 {
			t.Fatalf("Replay(from %d) on an empty log = %v", from, got)
		}
	}
}

// Replay crosses fetch batches without losing or repeating an event.
func TestReplayLongLog(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	const n = 700
	var want []uint64
	for i := range n {
		uri := postURI(alice, fmt.Sprint(i))
		seq, err := store.Append(ctx, events.DraftSubject(alice, events.DraftID(uri, 1)), 0, createdEnv(alice, uri, 1))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, seq)
	}
	if got := replaySeqs(t, ctx, store, 1, nil); !slices.Equal(got, want) {
		t.Fatalf("Replay gave %d events (first %v), want %d", len(got), got[:min(len(got), 5)], n)
	}
	if got := replaySeqs(t, ctx, store, 1, events.AccountFilters(alice)); !slices.Equal(got, want) {
		t.Fatalf("filtered Replay gave %d events, want %d", len(got), n)
	}
}

func TestReplayStopsAtHandlerError(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	store := events.NewStore(provisioned(t))
	replayLog(t, store)
	stop := errors.New("enough")
	calls := 0
	err := store.Replay(ctx, 1, nil, func(ev events.Event) error {
		calls++
		if ev.Seq == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Replay err = %v, want the handler's error", err)
	}
	if calls != 3 {
		t.Fatalf("handler called %d times, want 3", calls)
	}
}

// An event this build cannot decode (here: an event type added by a newer
// build, unknown to this one) is handed on with a nil Envelope, as Event
// documents and Feed does, so a replay does not end at it.
func TestReplayHandsOnUnreadableEvents(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	js := provisioned(t)
	store := events.NewStore(js)
	subject := events.DraftSubject(alice, events.Token("future"))
	if _, err := store.Append(ctx, subject, 0, scheduledEnv("d")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subject, futureEnvelope(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, subject, 2, scheduledEnv("d")); err != nil {
		t.Fatal(err)
	}
	var got []events.Event
	err := store.Replay(ctx, 1, nil, func(ev events.Event) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("Replay handed on %d events, want 3", len(got))
	}
	if got[1].Seq != 2 || got[1].Envelope != nil {
		t.Fatalf("unreadable event = seq %d envelope %v, want seq 2 and no envelope", got[1].Seq, got[1].Envelope)
	}
	if got[2].Envelope == nil {
		t.Fatal("the event after the unreadable one lost its envelope")
	}
}

// futureEnvelope is an Envelope holding an event in a oneof field this
// build does not know (field 99), as a newer build would write it.
func futureEnvelope(t *testing.T) []byte {
	t.Helper()
	data, err := proto.Marshal(&eventsv1.Envelope{Id: events.NewID(), Actor: "alf:future"})
	if err != nil {
		t.Fatal(err)
	}
	data = protowire.AppendTag(data, 99, protowire.BytesType)
	return protowire.AppendBytes(data, []byte{0x0a, 0x01, 'x'})
}

func replaySeqs(t *testing.T, ctx context.Context, store *events.Store, from uint64, filters []string) []uint64 {
	t.Helper()
	var seqs []uint64
	err := store.Replay(ctx, from, filters, func(ev events.Event) error {
		if ev.Envelope == nil {
			return fmt.Errorf("event %d has no envelope", ev.Seq)
		}
		seqs = append(seqs, ev.Seq)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay(from %d): %v", from, err)
	}
	return seqs
}

// AppendGuarded decides on every draft of an account at once: an append
// made at the account's last draft sequence fails once any of its drafts
// moved, and other accounts do not interfere.
func TestAppendGuardedByAccountDrafts(t *testing.T) {
	t.Parallel()
	js := provisioned(t)
	store := events.NewStore(js)
	ctx := testContext(t)
	const alice, bob = "did:plc:alice", "did:plc:bob"
	appendTo := func(did, draft, guard string, expected uint64) (uint64, error) {
		env := events.New("test", t0, &eventsv1.DraftCancelled{DraftId: draft})
		return store.AppendGuarded(ctx, events.DraftSubject(did, draft), guard, expected, env)
	}
	guard := events.AccountDraftsFilter(alice)
	first, err := appendTo(alice, "d1", guard, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := appendTo(bob, "d1", events.AccountDraftsFilter(bob), 0); err != nil {
		t.Fatalf("another account's guard: %v", err)
	}
	if _, err := appendTo(alice, "d2", guard, 0); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("stale guard: %v, want ErrConflict", err)
	}
	if _, err := appendTo(alice, "d2", guard, first); err != nil {
		t.Fatalf("fresh guard: %v", err)
	}
}
