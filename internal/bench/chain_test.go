package bench_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
)

var (
	chainSchedules = flag.Int("chain.schedules", 10000, "active schedules due at one instant in BenchmarkChainBurst")
	chainAccounts  = flag.Int("chain.accounts", 100, "accounts the schedules belong to")
	chainLead      = flag.Duration("chain.lead", 15*time.Second, "time from the start of set-up to the shared occurrence")
)

// BenchmarkChainBurst: -chain.schedules daily schedules, over
// -chain.accounts accounts, all with an occurrence at one instant T. They
// are created by appending ScheduleCreated (as the gateway does); the
// node's chainer queues each first occurrence; at T the publisher writes
// them all to a fake PDS, and the chainer queues every schedule's next
// occurrence (T + 24 h). It reports the time from T until the last next
// occurrence was queued, the per-schedule chain delay (its DraftPublished
// to the next DraftCreated), and checks that no schedule missed: each
// published once and queued exactly its next occurrence.
func BenchmarkChainBurst(b *testing.B) {
	a := startAlf(b, nil)
	var delays []time.Duration
	var queued, published, setup []time.Duration
	for b.Loop() {
		r, err := chainBurst(a)
		if err != nil {
			b.Fatal(err)
		}
		delays = append(delays, r.delays...)
		queued = append(queued, r.allQueued)
		published = append(published, r.published)
		setup = append(setup, r.setup)
	}
	d := summarize(delays)
	all := summarize(queued).max
	b.ReportMetric(0, "ns/op")
	d.report(b, "chain")
	b.ReportMetric(ms(all), "all-queued-ms")
	b.ReportMetric(float64(*chainSchedules)/all.Seconds(), "schedules/s")
	b.ReportMetric(ms(summarize(published).max), "all-published-ms")
	b.Logf("chain burst: %d schedules due at once: all published %s and all next occurrences queued %s after the instant (%.0f/s); chain delay %s; set-up (create + first occurrence) %s",
		d.n, round(summarize(published).max), round(all), float64(*chainSchedules)/all.Seconds(), d, round(summarize(setup).max))
}

type chainResult struct {
	delays    []time.Duration
	allQueued time.Duration
	published time.Duration // from the instant to the last DraftPublished
	setup     time.Duration
}

func chainBurst(a *alf) (chainResult, error) {
	store, view := a.node.Store(), a.node.View()
	a.fake.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), *chainLead+3*time.Minute)
	defer cancel()
	start := time.Now()
	due := start.Add(*chainLead).UTC().Truncate(time.Second)
	rule := fmt.Sprintf(`{"rule":{"type":"daily","time":{"type":"wall_time","hour":%d,"minute":%d,"second":%d,"timezone":"UTC"}}}`,
		due.Hour(), due.Minute(), due.Second())
	ids := make([]string, *chainSchedules)
	err := parallel(len(ids), func(i int) error {
		did := benchDID(i % *chainAccounts)
		ids[i] = fmt.Sprintf("bench-%d-%d", start.UnixNano(), i)
		env := events.New(did, time.Now(), &eventsv1.ScheduleCreated{
			ScheduleId: ids[i], Did: did, Collection: "app.bsky.feed.post", Rule: []byte(rule), Timezone: "UTC", Record: []byte(burstRecord),
		})
		_, err := store.Append(ctx, events.ScheduleSubject(did, ids[i]), 0, env)
		return err
	})
	if err != nil {
		return chainResult{}, fmt.Errorf("create schedules: %w", err)
	}
	if err := awaitQueued(ctx, view, ids, due); err != nil {
		return chainResult{}, fmt.Errorf("first occurrences: %w", err)
	}
	r := chainResult{setup: time.Since(start)}
	if left := time.Until(due); left < time.Second {
		return chainResult{}, fmt.Errorf("set-up ended %s before the shared occurrence; raise -chain.lead", left)
	}
	from := view.Seq() + 1
	next := due.Add(24 * time.Hour)
	if err := awaitQueued(ctx, view, ids, next); err != nil {
		return chainResult{}, fmt.Errorf("next occurrences: %w", err)
	}
	published, created, err := chainEvents(ctx, store, from, next)
	if err != nil {
		return chainResult{}, err
	}
	for _, id := range ids {
		s, _ := view.Schedule(id)
		if s.FireCount != 1 || s.Status != projection.ScheduleActive {
			return chainResult{}, fmt.Errorf("schedule %s: %s, fired %d times, want active and once", id, s.Status, s.FireCount)
		}
		pub, ok1 := published[id]
		c, ok2 := created[id]
		if !ok1 || !ok2 {
			return chainResult{}, fmt.Errorf("schedule %s: published %v, next created %v", id, ok1, ok2)
		}
		r.delays = append(r.delays, c.Sub(pub))
		r.allQueued = max(r.allQueued, c.Sub(due))
		r.published = max(r.published, pub.Sub(due))
	}
	if writes := len(a.fake.Writes()); writes != len(ids) {
		return chainResult{}, fmt.Errorf("the PDS received %d writes for %d occurrences", writes, len(ids))
	}
	return r, nil
}

// awaitQueued waits until every schedule has queued the occurrence at at,
// its draft created.
func awaitQueued(ctx context.Context, v *projection.View, ids []string, at time.Time) error {
	for _, id := range ids {
		for {
			seq := v.Seq()
			s, ok := v.Schedule(id)
			if ok && s.Pending != nil && s.Pending.At.Equal(at) {
				if _, created := v.Draft(s.Pending.DraftID); created {
					break
				}
			}
			if err := v.WaitFor(ctx, seq+1); err != nil {
				return fmt.Errorf("schedule %s has not queued %s: %w", id, at, err)
			}
		}
	}
	return nil
}

// chainEvents reads, from sequence from, when each schedule's occurrence
// was published and when its draft for the occurrence at next was created.
func chainEvents(ctx context.Context, store *events.Store, from uint64, next time.Time) (published, created map[string]time.Time, err error) {
	published, created = map[string]time.Time{}, map[string]time.Time{}
	occurrenceOf := map[string]string{} // draft ID → schedule ID, for drafts created before from
	err = store.Replay(ctx, 1, []string{events.DraftsFilter}, func(ev events.Event) error {
		at := ev.Envelope.GetOccurredAt().AsTime()
		if c := ev.Envelope.GetDraftCreated(); c != nil && c.GetOccurrence() != nil {
			occurrenceOf[c.GetDraftId()] = c.GetOccurrence().GetScheduleId()
			if ev.Seq >= from && c.GetOccurrence().GetAt().AsTime().Equal(next) {
				created[c.GetOccurrence().GetScheduleId()] = at
			}
		}
		if p := ev.Envelope.GetDraftPublished(); p != nil {
			if sid, ok := occurrenceOf[p.GetDraftId()]; ok {
				published[sid] = at
			}
		}
		return nil
	})
	return published, created, err
}
