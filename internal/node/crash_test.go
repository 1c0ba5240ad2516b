package node_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/publisher"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A publisher killed after its PDS write and before its ack: the message is
// redelivered to another publisher, which takes the claim over, finds the
// record already written (read-back by CID) and records it published. One
// record on the PDS, one DraftPublished in the log.
func TestPublisherCrashAfterWriteYieldsOneRecord(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	srv := natsServer(t)
	dir := auth.NewDirectory(h.PLCURL, nil)
	n := startNode(t, connectNATS(t, srv), dir, node.Roles{Gateway: true, Timer: true}, nil)
	u := signIn(t, h, 2)
	drafts, accounts := u.clients(n)
	connectAccount(t, u, accounts)

	// Publisher A writes to the PDS, then "dies": its connection to NATS is
	// closed before it can record the outcome or ack.
	ncA := connectNATS(t, srv)
	written := make(chan struct{})
	release := make(chan struct{})
	crashing := &afterWrite{sessions: sessionsOn(t, ncA, dir), written: written, release: release}
	const ackWait = time.Second
	startNode(t, ncA, dir, node.Roles{Publisher: true}, func(o *node.Options) {
		o.Accounts = crashing
		o.Publisher = publisher.Config{AckWait: ackWait}
	})

	marker := fmt.Sprintf("alf crash %d", time.Now().UnixNano())
	d := createDraft(t, drafts, markedPost(t, marker, timestamppb.New(time.Now().Add(500*time.Millisecond))))
	select {
	case <-written:
	case <-time.After(20 * time.Second):
		t.Fatal("publisher A never wrote")
	}
	ncA.Close()
	close(release)
	if got := countPosts(t, u.client, marker); got != 1 {
		t.Fatalf("%d records after A's write, want 1", got)
	}
	if s := getDraft(t, drafts, d.Uri).Status; s != alfv1.DraftStatus_DRAFT_STATUS_PUBLISHING {
		t.Fatalf("draft after the crash is %s, want publishing (claimed, no outcome)", s)
	}

	// Publisher B gets the redelivered message.
	ncB := connectNATS(t, srv)
	startNode(t, ncB, dir, node.Roles{Publisher: true}, func(o *node.Options) {
		o.Publisher = publisher.Config{AckWait: ackWait}
	})
	pub := awaitStatus(t, drafts, d.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)

	if got := countPosts(t, u.client, marker); got != 1 {
		t.Fatalf("%d records after redelivery, want exactly 1", got)
	}
	if rec := getRecord(t, u.client, "app.bsky.feed.post", pub.Rkey); rec.CID != pub.PublishedCid {
		t.Fatalf("record CID %s, draft says %s", rec.CID, pub.PublishedCid)
	}
	counts := eventCounts(t, n.Store(), u.acct.DID)
	if counts["DraftPublishing"] != 2 || counts["DraftPublished"] != 1 {
		t.Fatalf("events = %v, want 2 claims (one a takeover) and 1 DraftPublished", counts)
	}
}

// afterWrite performs writes through real sessions, then reports and
// blocks until released: a publisher frozen between write and ack.
type afterWrite struct {
	sessions *pds.Sessions
	written  chan struct{}
	release  chan struct{}
	once     sync.Once
}

func (a *afterWrite) Client(ctx context.Context, did syntax.DID) (pds.Client, error) {
	c, err := a.sessions.Client(ctx, did)
	if err != nil {
		return nil, err
	}
	return &frozenClient{Client: c, a: a}, nil
}

type frozenClient struct {
	pds.Client
	a *afterWrite
}

func (c *frozenClient) CreateRecord(ctx context.Context, collection, rkey string, record []byte) (pds.Result, error) {
	res, err := c.Client.CreateRecord(ctx, collection, rkey, record)
	c.a.once.Do(func() { close(c.a.written) })
	<-c.a.release
	return res, err
}

// sessionsOn opens the app-password sessions the nodes keep, over nc.
func sessionsOn(t *testing.T, nc *nats.Conn, dir identity.Directory) *pds.Sessions {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), events.BucketSessions)
	if err != nil {
		t.Fatal(err)
	}
	return pds.NewSessions(kv, testKey, dir, nil)
}

// eventCounts counts an account's events by type.
func eventCounts(t *testing.T, store *events.Store, did string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	err := store.Replay(context.Background(), 1, events.AccountFilters(did), func(ev events.Event) error {
		counts[ev.Type()]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts
}
