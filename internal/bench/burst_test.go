package bench_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/bench"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	burstDrafts   = flag.Int("burst.drafts", 10000, "drafts due at one instant in BenchmarkDueBurst")
	burstAccounts = flag.Int("burst.accounts", 100, "accounts the burst's drafts belong to")
	burstLead     = flag.Duration("burst.lead", 3*time.Second, "time between the end of the burst's set-up and the due instant")
	burstWorkers  = flag.Int("burst.workers", 0, "the publisher's Workers (0: its default)")
	burstProfile  = flag.String("burst.cpuprofile", "", "write a CPU profile of the burst's drain (from the end of set-up to the last write) to this file")
)

// burstRecord is the post every burst draft writes.
const burstRecord = `{"$type":"app.bsky.feed.post","text":"due at once","createdAt":"2026-01-01T00:00:00.000Z"}`

// BenchmarkDueBurst: -burst.drafts drafts, spread over -burst.accounts
// accounts, all due at one instant T; the all-in-one node publishes them to
// a fake PDS that answers at once. The drafts are set up by appending
// DraftCreated to the log directly (as the gateway would), then scheduled
// for T = set-up end + -burst.lead. It reports the lateness of each write
// (its arrival at the PDS − T), of each claim (the publisher's
// DraftPublishing − T), and the drain time (last arrival − T), and checks
// that every draft was written exactly once and ends published.
// -burst.cpuprofile writes a CPU profile of the drain alone.
func BenchmarkDueBurst(b *testing.B) {
	a := startAlf(b, func(o *node.Options) { o.Publisher.Workers = *burstWorkers })
	var late, claimed, drains []time.Duration
	for b.Loop() {
		r, err := dueBurst(a)
		if err != nil {
			b.Fatal(err)
		}
		late = append(late, r.late...)
		claimed = append(claimed, r.claimed...)
		drains = append(drains, r.drain)
	}
	s, c := summarize(late), summarize(claimed)
	drain := summarize(drains).max
	b.ReportMetric(0, "ns/op")
	s.report(b, "late")
	c.report(b, "claim")
	b.ReportMetric(ms(drain), "drain-ms")
	b.ReportMetric(float64(*burstDrafts)/drain.Seconds(), "drafts/s")
	b.Logf("due burst: %d drafts due at once: late %s; drained %s after the due instant; claimed %s",
		s.n, s, round(drain), c)
}

// burst is what one due burst measured.
type burst struct {
	late, claimed []time.Duration
	drain         time.Duration
}

// dueBurst sets up a burst, waits until it is published and checks it.
func dueBurst(a *alf) (burst, error) {
	store, view := a.node.Store(), a.node.View()
	a.fake.Reset()
	ids, due, err := setUpBurst(store, view, *burstDrafts, *burstAccounts, *burstLead)
	if err != nil {
		return burst{}, err
	}
	from := view.Seq() + 1
	stop, err := profileDrain(*burstProfile)
	if err != nil {
		return burst{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *burstLead+2*time.Minute)
	defer cancel()
	err = a.fake.WaitWrites(ctx, len(ids))
	stop()
	if err == nil {
		err = awaitStatus(ctx, view, ids, projection.StatusPublished)
	}
	if err != nil {
		return burst{}, err
	}
	writes := a.fake.Writes()
	if err := writtenOnce(writes, view, ids); err != nil {
		return burst{}, err
	}
	claimedAt, err := claims(ctx, store, from)
	if err != nil {
		return burst{}, err
	}
	var r burst
	for _, w := range writes {
		r.late = append(r.late, w.At.Sub(due))
	}
	for _, at := range claimedAt {
		r.claimed = append(r.claimed, at.Sub(due))
	}
	r.drain = writes[len(writes)-1].At.Sub(due)
	return r, nil
}

// profileDrain starts a CPU profile into path ("" for none) and returns
// what stops it.
func profileDrain(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-burst.cpuprofile (not with -cpuprofile): %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// setUpBurst appends n drafts over accounts accounts, from 64 writers at
// once, then schedules them all for one instant lead after the set-up ends
// and waits until the view shows it. It returns the draft IDs and the
// instant.
func setUpBurst(store *events.Store, view *projection.View, n, accounts int, lead time.Duration) ([]string, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cid, err := record.CID([]byte(burstRecord))
	if err != nil {
		return nil, time.Time{}, err
	}
	base := time.Now().UnixMicro()
	ids := make([]string, n)
	versions := make([]uint64, n)
	err = parallel(n, func(i int) error {
		did := benchDID(i % accounts)
		uri := "at://" + did + "/app.bsky.feed.post/" + rkey(base, i)
		ids[i] = events.DraftID(uri, 1)
		env := events.New(did, time.Now(), &eventsv1.DraftCreated{
			DraftId: ids[i], Uri: uri, Did: did, Collection: "app.bsky.feed.post", Rkey: rkey(base, i),
			Action: eventsv1.Action_ACTION_CREATE, Record: []byte(burstRecord), Cid: cid, Lifecycle: 1,
		})
		v, err := store.Append(ctx, events.DraftSubject(did, ids[i]), 0, env)
		versions[i] = v
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("create burst drafts: %w", err)
	}
	// T is only known now; the schedules take about as long as the creates.
	due := time.Now().Add(time.Since(time.UnixMicro(base)) + lead)
	err = parallel(n, func(i int) error {
		did := benchDID(i % accounts)
		env := events.New(did, time.Now(), &eventsv1.DraftScheduled{DraftId: ids[i], ScheduledAt: timestamppb.New(due)})
		v, err := store.Append(ctx, events.DraftSubject(did, ids[i]), versions[i], env)
		versions[i] = v
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("schedule burst drafts: %w", err)
	}
	if err := view.WaitFor(ctx, slices.Max(versions)); err != nil {
		return nil, time.Time{}, err
	}
	if left := time.Until(due); left < lead/3 {
		return nil, time.Time{}, fmt.Errorf("set-up ended %s before the due instant; raise -burst.lead", left)
	}
	return ids, due, nil
}

// parallel runs fn for 0..n-1 from 64 goroutines and returns the first
// error.
func parallel(n int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// writtenOnce checks that the PDS received exactly one write per draft, each
// applied, and that the view records the CID the PDS answered.
func writtenOnce(writes []bench.Write, view *projection.View, ids []string) error {
	if len(writes) != len(ids) {
		return fmt.Errorf("the PDS received %d writes for %d drafts", len(writes), len(ids))
	}
	seen := make(map[string]int, len(writes))
	for _, w := range writes {
		if w.Err != "" {
			return fmt.Errorf("write of %s refused: %s", w.Rkey, w.Err)
		}
		seen["at://"+w.DID.String()+"/"+w.Collection+"/"+w.Rkey]++
	}
	for _, id := range ids {
		d, _ := view.Draft(id)
		if seen[d.URI] != 1 {
			return fmt.Errorf("draft %s written %d times", d.URI, seen[d.URI])
		}
		if d.Status != projection.StatusPublished {
			return fmt.Errorf("draft %s is %s, want published", d.URI, d.Status)
		}
	}
	return nil
}
