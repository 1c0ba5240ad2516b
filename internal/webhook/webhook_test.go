package webhook_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/webhook"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestPublishPostsOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action eventsv1.Action
		cid    string
		key    []byte
		want   string // body, with URI for the draft's
	}{
		{"create, signed", eventsv1.Action_ACTION_CREATE, "bafyreipub", []byte("k3y"),
			`{"uri":"URI","cid":"bafyreipub","publishedAt":"2026-03-01T09:00:00.123Z"}`},
		{"delete, unsigned", eventsv1.Action_ACTION_DELETE, "", nil,
			`{"uri":"URI","publishedAt":"2026-03-01T09:00:00.123Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, ok)
			r := newRig(t)
			r.start(t, webhook.Config{URL: rc.srv.URL + "/hook", SigningKey: tt.key})
			d := r.create(t, "3l2s5xxv2ze2c", tt.action)
			env := r.publish(t, d, tt.cid)
			r.settle(t, webhook.DefaultDurable)

			got := rc.received()
			if len(got) != 1 {
				t.Fatalf("%d POSTs, want 1: %q", len(got), rc.bodies())
			}
			req := got[0]
			if want := strings.Replace(tt.want, "URI", d.uri, 1); string(req.body) != want {
				t.Errorf("body = %s\nwant   %s", req.body, want)
			}
			if ct := req.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if id := req.header.Get(webhook.HeaderEventID); id != env.GetId() {
				t.Errorf("%s = %q, want the event's id %q", webhook.HeaderEventID, id, env.GetId())
			}
			sig := req.header.Get(webhook.HeaderSignature)
			switch {
			case tt.key == nil && sig != "":
				t.Errorf("unsigned notifier sent %s: %q", webhook.HeaderSignature, sig)
			case tt.key != nil && !webhook.Verify(tt.key, req.body, sig):
				t.Errorf("signature %q does not verify", sig)
			}
		})
	}
}

func TestFailedPostIsRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration
		first   func(r *http.Request) int
	}{
		{"500 then 200", 0, func(*http.Request) int { return http.StatusInternalServerError }},
		{"hang past the timeout then 200", 200 * time.Millisecond, func(r *http.Request) int {
			<-r.Context().Done() // until the notifier gives up on it
			return 0
		}},
		{"redirect then 200", 0, func(*http.Request) int { return http.StatusFound }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(n int, r *http.Request) int {
				if n == 0 {
					return tt.first(r)
				}
				return 0
			})
			r := newRig(t)
			r.start(t, webhook.Config{
				URL: rc.srv.URL, SigningKey: []byte("k3y"),
				Timeout: tt.timeout, Backoff: []time.Duration{50 * time.Millisecond},
			})
			d := r.create(t, "3l2s5xxv2ze2c", eventsv1.Action_ACTION_CREATE)
			r.publish(t, d, "bafyreipub")
			r.settle(t, webhook.DefaultDurable)

			got := rc.received()
			if len(got) != 2 {
				t.Fatalf("%d POSTs, want 2: %q", len(got), rc.bodies())
			}
			if string(got[0].body) != string(got[1].body) ||
				got[0].header.Get(webhook.HeaderEventID) != got[1].header.Get(webhook.HeaderEventID) {
				t.Errorf("the retry differs from the first try:\n%s\n%s", got[0].body, got[1].body)
			}
			if !strings.Contains(r.logs.String(), "will retry") {
				t.Errorf("the failure was not logged:\n%s", r.logs)
			}
		})
	}
}

func TestGivesUpAfterTheLastRetryWithoutLoggingTheURL(t *testing.T) {
	t.Parallel()
	failing := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	closed := newReceiver(t, ok)
	closed.srv.Close() // connections are refused
	tests := []struct {
		name  string
		rc    *receiver
		posts int // reaching the receiver
	}{
		{"503 answers", failing, 3},
		{"refused connections", closed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hookURL := tt.rc.srv.URL + "/hooks/s3cret-path?token=s3cret-query"
			r := newRig(t)
			r.start(t, webhook.Config{URL: hookURL, Backoff: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}})
			d := r.create(t, "3l2s5xxv2ze2c", eventsv1.Action_ACTION_CREATE)
			r.publish(t, d, "bafyreipub")
			r.settle(t, webhook.DefaultDurable)

			logs := r.logs.String()
			if strings.Count(logs, "will retry") != 2 || !strings.Contains(logs, "gave up") || !strings.Contains(logs, "attempts=3") {
				t.Errorf("want two retries logged, then giving up after 3 attempts:\n%s", logs)
			}
			if n := len(tt.rc.received()); n != tt.posts {
				t.Errorf("the webhook got %d POSTs, want %d", n, tt.posts)
			}
			if strings.Contains(logs, "s3cret") {
				t.Errorf("the logs show the URL's secret:\n%s", logs)
			}
			u, _ := url.Parse(hookURL)
			if !strings.Contains(logs, u.Host) {
				t.Errorf("the logs do not name the host %s:\n%s", u.Host, logs)
			}
		})
	}
}

func TestOnlyPublishedDraftsArePosted(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, ok)
	r := newRig(t)
	r.start(t, webhook.Config{URL: rc.srv.URL})

	cancelled := r.create(t, "3l2cancelled", eventsv1.Action_ACTION_CREATE)
	r.append(t, cancelled, events.New(did, t0, &eventsv1.DraftScheduled{DraftId: cancelled.id, ScheduledAt: timestamppb.New(t0)}))
	r.append(t, cancelled, events.New("alf:publisher", t0, &eventsv1.DraftPublishing{DraftId: cancelled.id, Attempt: 1, WriteTime: timestamppb.New(t0)}))
	r.append(t, cancelled, events.New("alf:publisher", t0, &eventsv1.DraftAttemptFailed{DraftId: cancelled.id, Attempt: 1, Reason: "503", RetryAt: timestamppb.New(t0)}))
	r.append(t, cancelled, events.New(did, t0, &eventsv1.DraftCancelled{DraftId: cancelled.id}))
	failed := r.create(t, "3l2failed", eventsv1.Action_ACTION_CREATE)
	r.append(t, failed, events.New("alf:publisher", t0, &eventsv1.DraftFailed{DraftId: failed.id, Attempt: 1, Reason: "InvalidRequest"}))
	if _, err := r.store.Append(testContext(t), events.AccountSubject(did), 0,
		events.New(did, t0, &eventsv1.AccountAuthorized{Did: did, Method: eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD})); err != nil {
		t.Fatal(err)
	}
	// A DraftPublished whose draft has no DraftCreated (purged): nothing to
	// name, so it is dropped, not retried.
	orphan := &draft{id: "orphan", subject: events.DraftSubject(did, "orphan")}
	r.publish(t, orphan, "bafyreiorphan")
	published := r.create(t, "3l2published", eventsv1.Action_ACTION_CREATE)
	r.publish(t, published, "bafyreipub")
	r.settle(t, webhook.DefaultDurable)

	bodies := rc.bodies()
	if len(bodies) != 1 || !strings.Contains(bodies[0], published.uri) {
		t.Errorf("POSTs = %q, want one for %s", bodies, published.uri)
	}
	if !strings.Contains(r.logs.String(), "notice dropped") {
		t.Errorf("the orphan DraftPublished was not logged:\n%s", r.logs)
	}
}

func TestRestartPostsNothingTwice(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, ok)
	r := newRig(t)
	cfg := webhook.Config{URL: rc.srv.URL}

	first := r.start(t, cfg)
	a := r.create(t, "3l2first", eventsv1.Action_ACTION_CREATE)
	r.publish(t, a, "bafyreia")
	r.settle(t, webhook.DefaultDurable)
	first.Stop()

	b := r.create(t, "3l2whilestopped", eventsv1.Action_ACTION_CREATE)
	r.publish(t, b, "bafyreib")
	r.start(t, cfg)
	c := r.create(t, "3l2second", eventsv1.Action_ACTION_CREATE)
	r.publish(t, c, "bafyreic")
	r.settle(t, webhook.DefaultDurable)

	var uris []string
	for _, body := range rc.bodies() {
		for _, d := range []*draft{a, b, c} {
			if strings.Contains(body, `"`+d.uri+`"`) {
				uris = append(uris, d.uri)
			}
		}
	}
	slices.Sort(uris) // the workers may finish in any order
	want := []string{a.uri, b.uri, c.uri}
	slices.Sort(want)
	if !slices.Equal(uris, want) {
		t.Errorf("POSTed %q, want each once: %q", uris, want)
	}
}

func TestRetrySurvivesRestart(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 0 {
			return http.StatusBadGateway
		}
		return 0
	})
	r := newRig(t)
	cfg := webhook.Config{URL: rc.srv.URL, Backoff: []time.Duration{300 * time.Millisecond}}
	first := r.start(t, cfg)
	d := r.create(t, "3l2s5xxv2ze2c", eventsv1.Action_ACTION_CREATE)
	r.publish(t, d, "bafyreipub")
	waitRequests(t, rc, 1)
	first.Stop() // returns once the failed POST's retry is scheduled

	r.start(t, cfg)
	r.settle(t, webhook.DefaultDurable)
	got := rc.bodies()
	if len(got) != 2 || got[0] != got[1] || !strings.Contains(got[1], d.uri) {
		t.Errorf("POSTs = %q, want the failed one again after the restart", got)
	}
}

func TestConcurrentPostsAreBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(int, *http.Request) int {
		<-release
		return 0
	})
	r := newRig(t)
	r.start(t, webhook.Config{URL: rc.srv.URL, Workers: 2})
	for _, rkey := range []string{"3l2a", "3l2b", "3l2c", "3l2d", "3l2e"} {
		r.publish(t, r.create(t, rkey, eventsv1.Action_ACTION_CREATE), "bafyrei"+rkey)
	}
	waitRequests(t, rc, 2)
	time.Sleep(200 * time.Millisecond) // room for a third POST, if one were allowed
	if n := len(rc.received()); n != 2 {
		t.Errorf("%d POSTs under way with 2 workers", n)
	}
	close(release)
	r.settle(t, webhook.DefaultDurable)
	if n := len(rc.received()); n != 5 {
		t.Errorf("%d POSTs, want 5", n)
	}
	if peak := rc.peakRunning(); peak != 2 {
		t.Errorf("at most %d POSTs at once, want 2", peak)
	}
}
