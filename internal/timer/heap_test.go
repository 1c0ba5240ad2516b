package timer

import (
	"testing"
	"time"
)

func TestQueuePopsInDueOrder(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := newQueue()
	for _, it := range []item{
		{at: base.Add(3 * time.Second), id: "c", version: 1},
		{at: base.Add(time.Second), id: "b", version: 1},
		{at: base.Add(time.Second), id: "a", version: 1},
		{at: base.Add(2 * time.Second), id: "d", version: 1},
		{at: base.Add(5 * time.Second), id: "e", version: 1},
	} {
		q.push(it)
	}
	got := q.popDue(base.Add(3 * time.Second))
	want := []string{"a", "b", "d", "c"} // by time, ties by id
	if len(got) != len(want) {
		t.Fatalf("popped %d, want %d", len(got), len(want))
	}
	for i, it := range got {
		if it.id != want[i] {
			t.Errorf("pop %d = %s, want %s", i, it.id, want[i])
		}
	}
	if next, ok := q.next(); !ok || !next.Equal(base.Add(5*time.Second)) {
		t.Fatalf("next = %v %v, want e's time", next, ok)
	}
}

func TestQueueKeepsOneEntryPerDraftVersion(t *testing.T) {
	t.Parallel()
	at := time.Unix(100, 0)
	q := newQueue()
	if !q.push(item{at: at, id: "a", version: 7}) {
		t.Fatal("first push refused")
	}
	if q.push(item{at: at, id: "a", version: 7}) {
		t.Fatal("same draft version queued twice")
	}
	if !q.push(item{at: at.Add(time.Second), id: "a", version: 9}) {
		t.Fatal("newer version refused")
	}
	if q.len() != 2 {
		t.Fatalf("len = %d, want 2 (the old entry stays until popped: lazy deletion)", q.len())
	}
	popped := q.popDue(at.Add(time.Hour))
	if len(popped) != 2 || popped[0].version != 7 || popped[1].version != 9 {
		t.Fatalf("popped %v", popped)
	}
	if len(q.queued) != 0 {
		t.Fatalf("queued index not emptied: %v", q.queued)
	}
}
