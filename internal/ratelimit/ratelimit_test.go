package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(60, 3) // one a second, bursts of 3
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth call: %v, wait %s; want refused for up to 1 s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key shares the bucket")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("a second later the bucket has a token again")
	}
}

func TestZeroAllowsEverything(t *testing.T) {
	t.Parallel()
	l := New(0, 0)
	for range 1000 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("a zero limit refused a call")
		}
	}
	var none *Limiter
	if ok, _ := none.Allow("a"); !ok {
		t.Fatal("a nil limiter refused a call")
	}
}

func TestIdleBucketsAreDropped(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(60, 1)
	l.now = func() time.Time { return now }
	for i := range maxKeys {
		l.Allow(strconv.Itoa(i))
	}
	now = now.Add(time.Minute) // every bucket full again
	l.Allow("new")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets kept, want only the new one", n)
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{{time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {0, "1"}} {
		if got := Seconds(tc.in); got != tc.want {
			t.Errorf("Seconds(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
