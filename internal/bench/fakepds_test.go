package bench_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/internal/bench"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/record"
)

const (
	alice = syntax.DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	post  = "app.bsky.feed.post"
	body  = `{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-01-01T00:00:00.000Z"}`
)

// The fake answers like a PDS: a create takes a free rkey only (and the
// refusal reads as an unknown outcome, so the publisher reads back), a put
// replaces, a delete of a missing record succeeds. Every write is noted.
func TestFakePDSWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		do      func(c pds.Client) error
		wantErr func(error) bool
		present bool
	}{
		{"create", func(c pds.Client) error { return create(c, "k1") }, isNil, true},
		{"create twice", func(c pds.Client) error { _ = create(c, "k1"); return create(c, "k1") }, pds.UnknownOutcome, true},
		{"put twice", func(c pds.Client) error { _ = put(c, "k1"); return put(c, "k1") }, isNil, true},
		{"create then delete", func(c pds.Client) error { _ = create(c, "k1"); return del(c, "k1") }, isNil, false},
		{"delete missing", func(c pds.Client) error { return del(c, "k1") }, isNil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := bench.NewFakePDS()
			c, _ := f.Client(context.Background(), alice)
			before := time.Now()
			if err := tt.do(c); !tt.wantErr(err) {
				t.Fatalf("unexpected answer: %v", err)
			}
			_, _, err := c.GetRecord(context.Background(), post, "k1")
			if present := err == nil; present != tt.present {
				t.Fatalf("record present = %v (%v), want %v", present, err, tt.present)
			}
			if !tt.present && !errors.Is(err, pds.ErrNotFound) {
				t.Fatalf("GetRecord of a missing record: %v, want ErrNotFound", err)
			}
			for _, w := range f.Writes() {
				if w.DID != alice || w.Rkey != "k1" || w.At.Before(before) {
					t.Errorf("write noted as %+v", w)
				}
			}
		})
	}
}

func isNil(err error) bool { return err == nil }

func create(c pds.Client, rkey string) error {
	_, err := c.CreateRecord(context.Background(), post, rkey, []byte(body))
	return err
}

func put(c pds.Client, rkey string) error {
	_, err := c.PutRecord(context.Background(), post, rkey, []byte(body))
	return err
}

func del(c pds.Client, rkey string) error {
	_, err := c.DeleteRecord(context.Background(), post, rkey)
	return err
}

// GetRecord reads a record back with its CID (computed then: writes answer
// without one, so the fake's CID work is not charged to alf's publish path).
func TestFakePDSResultCID(t *testing.T) {
	t.Parallel()
	f := bench.NewFakePDS()
	c, _ := f.Client(context.Background(), alice)
	res, err := c.CreateRecord(context.Background(), post, "k1", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want, err := record.CID([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	got, value, err := c.GetRecord(context.Background(), post, "k1")
	if err != nil || got != want || string(value) != body {
		t.Fatalf("read back %s %s (%v), want %s %s", got, value, err, want, body)
	}
	if wantURI := "at://" + alice.String() + "/" + post + "/k1"; res.URI != wantURI {
		t.Fatalf("URI %s, want %s", res.URI, wantURI)
	}
}

// WaitWrites returns once enough writes arrived, and gives up with ctx.
func TestFakePDSWaitWrites(t *testing.T) {
	t.Parallel()
	f := bench.NewFakePDS()
	c, _ := f.Client(context.Background(), alice)
	go func() {
		for i := range 3 {
			_ = create(c, fmt.Sprintf("k%d", i))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.WaitWrites(ctx, 3); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.WaitWrites(short, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitWrites for a 4th write: %v, want deadline exceeded", err)
	}
	f.Reset()
	if n := f.Len(); n != 0 {
		t.Fatalf("%d writes after Reset", n)
	}
}

func ExampleFakePDS() {
	ctx := context.Background()
	fake := bench.NewFakePDS() // node.Options{Accounts: fake} publishes to it
	due := time.Now()

	c, _ := fake.Client(ctx, "did:plc:ewvi7nxzyoun6zhxrhs64oiz")
	_, err := c.CreateRecord(ctx, "app.bsky.feed.post", "3l3qo2vuowo2b",
		[]byte(`{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-01-01T00:00:00.000Z"}`))
	_, again := c.CreateRecord(ctx, "app.bsky.feed.post", "3l3qo2vuowo2b",
		[]byte(`{"$type":"app.bsky.feed.post","text":"hi","createdAt":"2026-01-01T00:00:00.000Z"}`))

	_ = fake.WaitWrites(ctx, 2)
	for _, w := range fake.Writes() {
		fmt.Println(w.Op, w.Rkey, w.Err != "", w.At.Sub(due) >= 0)
	}
	fmt.Println(err, pds.UnknownOutcome(again))
	// Output:
	// create 3l3qo2vuowo2b false true
	// create 3l3qo2vuowo2b true true
	// <nil> true
}
