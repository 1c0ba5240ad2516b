package timer

import (
	"container/heap"
	"time"
)

// item is one entry of the due heap: draft id at version is to be emitted
// at at (its due instant less the lead, or when its claim times out).
// Entries are never removed when a draft changes; a popped entry whose
// version is no longer the draft's is dropped (lazy deletion).
type item struct {
	at      time.Time
	id      string
	version uint64
}

// dueHeap is a min-heap of items by due time, then id.
type dueHeap []item

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].id < h[j].id
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// queue is the heap plus the newest version pushed per draft, so the same
// (draft, version) is never queued twice.
type queue struct {
	h      dueHeap
	queued map[string]uint64
}

func newQueue() *queue { return &queue{queued: make(map[string]uint64)} }

// push queues it unless the same draft version is already queued.
func (q *queue) push(it item) bool {
	if v, ok := q.queued[it.id]; ok && v == it.version {
		return false
	}
	q.queued[it.id] = it.version
	heap.Push(&q.h, it)
	return true
}

// popDue removes and returns every item due at or before now.
func (q *queue) popDue(now time.Time) []item {
	var out []item
	for len(q.h) > 0 && !q.h[0].at.After(now) {
		it := heap.Pop(&q.h).(item)
		if q.queued[it.id] == it.version {
			delete(q.queued, it.id)
		}
		out = append(out, it)
	}
	return out
}

// next is the due time of the head, if any.
func (q *queue) next() (time.Time, bool) {
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

func (q *queue) len() int { return len(q.h) }
