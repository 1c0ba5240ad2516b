// Package clock lets long-running loops read the time and wait through an
// interface, so tests can control time. Production code uses Real; tests use
// a Fake and move it with Advance.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine after d, unless stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a resettable one-shot timer, like *time.Timer.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	// Stop prevents the timer from firing; false if it already fired or
	// was stopped.
	Stop() bool
}

// Real is the system clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop() bool            { return r.t.Stop() }

// Fake is a clock that moves only when told to. Timers fire when Advance or
// Set passes their deadline.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a fake clock set to now.
func NewFake(now time.Time) *Fake { return &Fake{now: now} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward and fires the timers that are due.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t and fires the timers that are due.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
	for _, ft := range f.timers {
		if ft.armed && !ft.at.After(t) {
			ft.fire(t)
		}
	}
}

// NewTimer makes a timer that fires when the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.timers = append(f.timers, ft)
	f.arm(ft, d)
	return ft
}

// AfterFunc calls f when the fake time reaches now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := &fakeTimer{f: f, c: make(chan time.Time, 1), fn: fn}
	f.timers = append(f.timers, ft)
	f.arm(ft, d)
	return ft
}

func (f *Fake) arm(ft *fakeTimer, d time.Duration) {
	ft.at = f.now.Add(d)
	ft.armed = true
	if d <= 0 {
		ft.fire(f.now)
	}
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time
	fn    func() // AfterFunc timers call it instead of sending on c
	at    time.Time
	armed bool
}

// fire runs with the clock's lock held.
func (t *fakeTimer) fire(now time.Time) {
	t.armed = false
	if t.fn != nil {
		go t.fn()
		return
	}
	select {
	case t.c <- now:
	default:
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.arm(t, d)
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}
