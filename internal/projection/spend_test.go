package projection_test

import (
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/projection"
)

// publishN publishes n posts for did, one a minute from tN(0).
func publishN(v *projection.View, did string, n int) {
	seq := uint64(1000)
	for i := range n {
		c := created(did, "3kspend"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1, nil)
		seq++
		v.Apply(ev(seq, tN(i), c))
		seq++
		v.Apply(ev(seq, tN(i), &eventsv1.DraftPublishing{DraftId: c.DraftId, Attempt: 1, WriteTime: ts(tN(i))}))
		seq++
		v.Apply(ev(seq, tN(i), &eventsv1.DraftPublished{DraftId: c.DraftId}))
	}
}

func TestWriteAtKeepsAccountsWithinBudget(t *testing.T) {
	t.Parallel()
	v := projection.NewView()
	publishN(v, alice, 10) // 30 points, one write a minute from tN(0) to tN(9)
	hour := projection.Budget{Points: 33, Window: time.Hour}
	now := tN(10)
	tests := []struct {
		name string
		cost int
		did  string
		want time.Time
	}{
		{"fits", 3, alice, now},
		{"one over: wait for the first write to leave the hour", 4, alice, tN(0).Add(time.Hour)},
		{"needs two writes to leave", 9, alice, tN(1).Add(time.Hour)},
		{"another account is not charged", 33, bob, now},
	}
	for _, tt := range tests {
		if got := v.WriteAt(tt.did, tt.cost, now, hour); !got.Equal(tt.want) {
			t.Errorf("%s: WriteAt = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := v.WriteAt(alice, 3, tN(0).Add(2*time.Hour), hour); !got.Equal(tN(0).Add(2 * time.Hour)) {
		t.Errorf("after the window: %v", got)
	}
	day := projection.Budget{Points: 30, Window: 24 * time.Hour}
	if got := v.WriteAt(alice, 1, now, hour, day); !got.Equal(tN(0).Add(24 * time.Hour)) {
		t.Errorf("day budget: %v, want a day after the first write", got)
	}
}
