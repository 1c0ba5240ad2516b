package projection_test

import (
	"fmt"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
)

// BenchmarkViewApply applies full draft lifecycles (created, scheduled,
// claimed, published) of 10,000 drafts over many accounts, round and round.
func BenchmarkViewApply(b *testing.B) {
	const drafts = 10000
	pool := make([]events.Event, 0, 4*drafts)
	for i := range drafts {
		did := fmt.Sprintf("did:plc:account%d", i%100)
		at := tN(i)
		c := created(did, fmt.Sprint(i), 1, nil)
		pool = append(pool,
			ev(0, at, c),
			ev(0, at, &eventsv1.DraftScheduled{DraftId: c.DraftId, ScheduledAt: ts(at.Add(time.Hour))}),
			ev(0, at, &eventsv1.DraftPublishing{DraftId: c.DraftId, Attempt: 1, WriteTime: ts(at)}),
			ev(0, at, &eventsv1.DraftPublished{DraftId: c.DraftId, Cid: "bafy"}),
		)
	}
	v := projection.NewView()
	v.Observe(func(projection.Draft) {})
	var seq uint64
	for b.Loop() {
		e := pool[seq%uint64(len(pool))]
		seq++
		e.Seq = seq
		v.Apply(e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
