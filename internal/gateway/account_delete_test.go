package gateway_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/nats-io/nats.go/jetstream"
)

// DELETE /account removes everything alf holds of the caller, in every
// process: drafts (scheduled or not), schedules, triggers, blobs and
// events; a replay shows nothing of them, and bob's data is untouched.
func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	other := g.secondNode(t) // another process on the same NATS: a timer
	alice, bob := g.alice, g.bob
	a := alice.DID.String()

	scheduled := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice,
		header: map[string]string{"x-scheduled-at": "2031-01-01T00:00:00Z", "x-trigger": "webhook"}, body: createBody(a, "", postRecord)})
	sched := g.do(t, call{method: "POST", path: nsidSchedules + "createSchedule", as: alice, body: scheduleBody(dailyRule, `,"record":`+postRecord)})
	blob := g.do(t, call{method: "POST", path: "/blob", as: alice, lxm: "com.atproto.repo.uploadBlob", header: map[string]string{"Content-Type": "image/png"}, body: "\x05\x06\x07"})
	kept := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: bob, body: createBody(bob.DID.String(), "", postRecord)})
	for _, a := range []answer{scheduled, sched, blob, kept} {
		if a.status != 200 {
			t.Fatalf("fixture: %d %s", a.status, a.raw)
		}
	}
	trigger := scheduled.body["triggerUrl"].(string)
	schedID := sched.body["schedule"].(map[string]any)["id"].(string)
	if other.View().ActiveCount(a) != 2 {
		t.Fatalf("the other process sees %d active drafts of alice, want 2", other.View().ActiveCount(a))
	}

	if got := g.do(t, call{method: "DELETE", path: "/account"}); got.status != 401 || got.body["error"] != "AuthenticationRequired" {
		t.Fatalf("DELETE /account without a token: %d %s", got.status, got.raw)
	}
	del := g.do(t, call{method: "DELETE", path: "/account", as: alice, lxm: "alf.v1.AccountService.DeleteAccount"})
	if del.status != 200 || del.body["deleted"] != true {
		t.Fatalf("DELETE /account: %d %s", del.status, del.raw)
	}

	list := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?repo=" + a, as: alice})
	schedules := g.do(t, call{method: "GET", path: nsidSchedules + "listSchedules?repo=" + a, as: alice})
	if len(list.body["posts"].([]any)) != 0 || len(schedules.body["schedules"].([]any)) != 0 {
		t.Fatalf("after delete: posts %s, schedules %s", list.raw, schedules.raw)
	}
	key := trigger[strings.LastIndex(trigger, "/")+1:]
	if fire := g.do(t, call{method: "POST", path: "/triggers/" + key}); fire.status != 404 {
		t.Fatalf("trigger after delete: %d %s", fire.status, fire.raw)
	}
	waitFor(t, "the other process to forget alice", func() bool {
		_, ok := other.View().Schedule(schedID)
		return other.View().ActiveCount(a) == 0 && !ok
	})

	ctx := context.Background()
	store := g.node.Store()
	var left int
	if err := store.Replay(ctx, 1, events.AccountFilters(a), func(events.Event) error { left++; return nil }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d events of alice left in the log", left)
	}
	var all []string
	err := store.Replay(ctx, 1, nil, func(ev events.Event) error {
		all = append(all, ev.Subject)
		if ev.Envelope != nil && strings.Contains(ev.Envelope.String(), a) {
			t.Errorf("event %d (%s) still names alice", ev.Seq, ev.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("bob's events went too")
	}
	obj, err := store.JetStream().ObjectStore(ctx, events.ObjectBlobs)
	if err != nil {
		t.Fatal(err)
	}
	objects, err := obj.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Fatal(err)
	}
	for _, o := range objects {
		if strings.HasPrefix(o.Name, events.AccountToken(a)) {
			t.Fatalf("blob %s of alice left", o.Name)
		}
	}
	if got := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + kept.body["uri"].(string), as: bob}); got.status != 200 {
		t.Fatalf("bob's draft after alice's delete: %d %s", got.status, got.raw)
	}
	// Deleting again is fine, and alice can start over.
	if again := g.do(t, call{method: "DELETE", path: "/account", as: alice, lxm: "alf.v1.AccountService.DeleteAccount"}); again.status != 200 {
		t.Fatalf("second delete: %d %s", again.status, again.raw)
	}
	if fresh := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: alice, body: createBody(a, "", postRecord)}); fresh.status != 200 {
		t.Fatalf("create after delete: %d %s", fresh.status, fresh.raw)
	}
}

// secondNode starts a timer on the gateway's NATS, as another process.
func (g *gateway) secondNode(t *testing.T) *node.Node {
	t.Helper()
	opts := g.opts
	opts.Roles, opts.Listener, opts.Addr = node.Roles{Timer: true}, nil, ""
	n, err := node.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
