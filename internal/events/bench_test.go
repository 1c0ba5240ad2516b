package events_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/latency-fabric/alf/internal/events"
)

// BenchmarkAppend measures appends to new aggregates (expected version 0),
// one writer at a time and from parallel writers.
func BenchmarkAppend(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		ctx := testContext(b)
		store := events.NewStore(provisioned(b))
		i := 0
		for b.Loop() {
			i++
			if _, err := store.Append(ctx, benchSubject(0, i), 0, scheduledEnv("d")); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
	b.Run("parallel", func(b *testing.B) {
		ctx := testContext(b)
		store := events.NewStore(provisioned(b))
		var worker atomic.Int64
		b.SetParallelism(8) // appends wait on the server: many writers per core
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := int(worker.Add(1))
			i := 0
			for pb.Next() {
				i++
				if _, err := store.Append(ctx, benchSubject(w, i), 0, scheduledEnv("d")); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}

func benchSubject(worker, i int) string {
	return events.DraftSubject(alice, events.Token(fmt.Sprintf("%d/%d", worker, i)))
}
