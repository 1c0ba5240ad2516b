package gateway_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/seal"
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
	made, err := alfv1connect.NewAccountServiceClient(http.DefaultClient, g.base, signer(t, alice)).
		CreateApiKey(context.Background(), connect.NewRequest(&alfv1.CreateApiKeyRequest{Name: "bot"}))
	if err != nil {
		t.Fatal(err)
	}
	apiKey := map[string]string{"Authorization": "Bearer " + made.Msg.Secret}
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
	if got := g.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.listPosts?repo=" + a, header: apiKey}); got.status != 401 {
		t.Fatalf("API key after delete: %d %s", got.status, got.raw)
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
	err = store.Replay(ctx, 1, nil, func(ev events.Event) error {
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

// After ENCRYPTION_KEY is rotated (the old key in ENCRYPTION_KEYS_OLD), a
// trigger made before still fires and its owner still sees its URL. With
// the old key forgotten alf refuses to start, naming the key: the sealed
// OAuth client key cannot be opened.
func TestTriggersSurviveKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, _ := seal.NewKey()
	g := startTuned(t, node.Roles{Gateway: true}, func(o *node.Options) { o.Key = oldKey })
	a := g.alice.DID.String()
	made := g.do(t, call{method: "POST", path: "/xrpc/com.atproto.repo.createRecord", as: g.alice,
		header: map[string]string{"x-trigger": "webhook"}, body: createBody(a, "", postRecord)})
	trigger := made.body["triggerUrl"].(string)
	key := trigger[strings.LastIndex(trigger, "/")+1:]
	g.node.Stop()

	newKey, _ := seal.NewKey()
	if _, err := g.restartWith(t, newKey); err == nil || !strings.Contains(err.Error(), "ENCRYPTION_KEY") {
		t.Fatalf("start with the old key forgotten: %v, want a refusal naming ENCRYPTION_KEY", err)
	}
	rotated, err := g.restartWith(t, newKey.WithOld(oldKey))
	if err != nil {
		t.Fatal(err)
	}
	post := rotated.do(t, call{method: "GET", path: "/xrpc/town.roundabout.scheduledPosts.getPost?uri=" + made.body["uri"].(string), as: g.alice})
	if post.body["triggerUrl"] != trigger {
		t.Fatalf("triggerUrl after rotation %v, want %s", post.body["triggerUrl"], trigger)
	}
	// Found: it publishes (and fails, alf holds no session for alice).
	fire := rotated.do(t, call{method: "POST", path: "/triggers/" + key})
	if fire.status == 404 || fire.body["error"] != "PublishFailed" {
		t.Fatalf("trigger after rotation: %d %s", fire.status, fire.raw)
	}
}

// restartWith starts every role on the gateway's NATS with key, as the
// same deployment restarted with another ENCRYPTION_KEY setting.
func (g *gateway) restartWith(t *testing.T, key seal.Key) (*gateway, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := g.opts
	opts.Key, opts.Roles, opts.Listener = key, node.All, ln
	n, err := node.Start(context.Background(), opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	t.Cleanup(n.Stop)
	return &gateway{base: "http://" + n.Addr(), alice: g.alice, bob: g.bob, node: n, opts: opts}, nil
}
