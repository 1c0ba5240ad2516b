package node_test

import (
	"connectrpc.com/connect"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/syntax"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pds"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// failingPDS answers every write with an error (fault injection) and
// records when each attempt arrived, by the fake clock.
type failingPDS struct {
	clock *clock.Fake
	err   error

	mu       sync.Mutex
	attempts []time.Time
}

func (f *failingPDS) Client(_ context.Context, did syntax.DID) (pds.Client, error) {
	return &failingClient{f: f, did: did}, nil
}

func (f *failingPDS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.attempts)
}

type failingClient struct {
	f   *failingPDS
	did syntax.DID
}

func (c *failingClient) DID() syntax.DID { return c.did }
func (c *failingClient) CreateRecord(context.Context, string, string, []byte) (pds.Result, error) {
	c.f.mu.Lock()
	c.f.attempts = append(c.f.attempts, c.f.clock.Now())
	c.f.mu.Unlock()
	return pds.Result{}, c.f.err
}
func (c *failingClient) PutRecord(ctx context.Context, col, rkey string, rec []byte) (pds.Result, error) {
	return c.CreateRecord(ctx, col, rkey, rec)
}
func (c *failingClient) DeleteRecord(ctx context.Context, col, rkey string) (pds.Result, error) {
	return c.CreateRecord(ctx, col, rkey, nil)
}
func (c *failingClient) GetRecord(context.Context, string, string) (string, []byte, error) {
	return "", nil, pds.ErrNotFound
}

// UploadBlob fails too, without counting as an attempt.
func (c *failingClient) UploadBlob(context.Context, string, io.Reader, int64) (pds.BlobRef, error) {
	return pds.BlobRef{}, c.f.err
}
func (c *failingClient) ApplyWrites(ctx context.Context, writes []pds.Write) ([]pds.Result, error) {
	_, err := c.CreateRecord(ctx, "", "", nil)
	return nil, err
}

// A PDS that keeps failing with a retryable error: alf tries again after 1,
// 5 and 15 minutes, then fails the draft with the PDS's message.
func TestRetryableFailuresBackOffThenFail(t *testing.T) {
	t.Parallel()
	id := authtest.NewIdentity(t)
	start := time.Now().Truncate(time.Second)
	fake := clock.NewFake(start)
	pdsFake := &failingPDS{clock: fake, err: &pds.Error{Status: 503, Name: "Unavailable", Message: "down for maintenance"}}
	n := startNode(t, connectNATS(t, natsServer(t)), authtest.Directory(id), node.All, func(o *node.Options) {
		o.Clock = fake
		o.Accounts = pdsFake
	})
	drafts := testDrafts(t, n, id)
	req := textPost(t, "retry me")
	req.ScheduledAt = timestamppb.New(start.Add(time.Second))
	d := createDraft(t, drafts, req)

	waits := []time.Duration{time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}
	for i, wait := range waits {
		// Just before the due time: no attempt yet.
		fake.Advance(wait - time.Millisecond)
		time.Sleep(50 * time.Millisecond)
		if got := pdsFake.count(); got != i {
			t.Fatalf("attempt %d came early: %d attempts", i+1, got)
		}
		fake.Advance(time.Millisecond)
		eventually(t, 5*time.Second, "the next attempt", func() bool { return pdsFake.count() == i+1 })
		eventually(t, 5*time.Second, "the attempt's outcome", func() bool {
			got := getDraft(t, drafts, d.Uri)
			return got.Attempts == uint32(i+1) && got.Status != alfv1.DraftStatus_DRAFT_STATUS_PUBLISHING
		})
	}
	got := getDraft(t, drafts, d.Uri)
	if got.Status != alfv1.DraftStatus_DRAFT_STATUS_FAILED || got.Attempts != 4 {
		t.Fatalf("after 4 attempts: %s with %d attempts, want failed with 4", got.Status, got.Attempts)
	}
	if got.FailureReason != "Unavailable: down for maintenance" {
		t.Fatalf("failure reason = %q", got.FailureReason)
	}
	fake.Advance(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if pdsFake.count() != 4 {
		t.Fatalf("%d attempts after the draft failed, want 4", pdsFake.count())
	}
}

// slowPDS takes its time over each write (fault injection).
type slowPDS struct {
	failingPDS
	delay time.Duration
}

func (s *slowPDS) Client(_ context.Context, did syntax.DID) (pds.Client, error) {
	return &slowClient{failingClient{f: &s.failingPDS, did: did}, s.delay}, nil
}

type slowClient struct {
	failingClient
	delay time.Duration
}

func (c *slowClient) CreateRecord(ctx context.Context, col, rkey string, rec []byte) (pds.Result, error) {
	c.f.mu.Lock()
	c.f.attempts = append(c.f.attempts, time.Now())
	c.f.mu.Unlock()
	time.Sleep(c.delay)
	return pds.Result{URI: "at://" + c.did.String() + "/" + col + "/" + rkey, CID: "bafyreislow"}, nil
}

// A write that takes longer than the ack wait is heartbeated: the message
// is not redelivered, the draft is claimed and written once.
func TestSlowWriteIsHeartbeatedNotRedelivered(t *testing.T) {
	t.Parallel()
	id := authtest.NewIdentity(t)
	slow := &slowPDS{delay: 1500 * time.Millisecond}
	n := startNode(t, connectNATS(t, natsServer(t)), authtest.Directory(id), node.All, func(o *node.Options) {
		o.Accounts = slow
		o.Publisher.AckWait = 300 * time.Millisecond
	})
	drafts := testDrafts(t, n, id)
	d := createDraft(t, drafts, textPost(t, "slow"))
	if _, err := drafts.PublishDraft(context.Background(), connect.NewRequest(&alfv1.PublishDraftRequest{Uri: d.Uri})); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, drafts, d.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)
	if got := slow.count(); got != 1 {
		t.Fatalf("%d writes, want 1", got)
	}
	if counts := eventCounts(t, n.Store(), id.DID.String()); counts["DraftPublishing"] != 1 {
		t.Fatalf("events %v, want a single claim", counts)
	}
}
