package clock_test

import (
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/clock"
)

func fired(tm clock.Timer) bool {
	select {
	case <-tm.C():
		return true
	default:
		return false
	}
}

func TestFakeTimerFiresWhenTimeReachesIt(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clock.NewFake(start)
	tm := c.NewTimer(10 * time.Second)
	c.Advance(9 * time.Second)
	if fired(tm) {
		t.Fatal("fired early")
	}
	c.Advance(time.Second)
	if !fired(tm) {
		t.Fatal("did not fire at its deadline")
	}
	if !c.Now().Equal(start.Add(10 * time.Second)) {
		t.Fatalf("now = %v", c.Now())
	}
}

func TestFakeTimerResetAndStop(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(time.Unix(0, 0))
	tm := c.NewTimer(time.Second)
	tm.Reset(5 * time.Second)
	c.Advance(2 * time.Second)
	if fired(tm) {
		t.Fatal("fired at the old deadline after Reset")
	}
	tm.Stop()
	c.Advance(10 * time.Second)
	if fired(tm) {
		t.Fatal("fired after Stop")
	}
	tm.Reset(0)
	if !fired(tm) {
		t.Fatal("Reset(0) did not fire at once")
	}
}

func TestRealClockTimer(t *testing.T) {
	t.Parallel()
	tm := clock.Real.NewTimer(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("real timer did not fire")
	}
}

func TestFakeAfterFunc(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(time.Unix(0, 0))
	called := make(chan struct{})
	c.AfterFunc(time.Second, func() { close(called) })
	stopped := c.AfterFunc(time.Second, func() { t.Error("a stopped AfterFunc ran") })
	stopped.Stop()
	c.Advance(999 * time.Millisecond)
	select {
	case <-called:
		t.Fatal("ran early")
	case <-time.After(20 * time.Millisecond):
	}
	c.Advance(time.Millisecond)
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("did not run at its time")
	}
}
