package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/content"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
)

// everyMinute3 is a schedule of three occurrences, one a minute, on the
// minute.
const everyMinute3 = `{"rrule":"FREQ=MINUTELY;COUNT=3;BYSECOND=0"}`

// scheduleEnv is alf on a fake clock against the real PDS, driven through
// the XRPC schedule routes as the reference's clients drive it.
type scheduleEnv struct {
	clock *clock.Fake
	node  *node.Node
	user  *user
}

func newScheduleEnv(t *testing.T, account int, tune func(*node.Options)) *scheduleEnv {
	t.Helper()
	h := pdstest.Load(t)
	// On the minute: the schedule is made at the instant of an occurrence,
	// which is not one of its three.
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Minute))
	n := startNode(t, connectNATS(t, natsServer(t)), auth.NewDirectory(h.PLCURL, nil), node.All, func(o *node.Options) {
		o.Clock = clk
		if tune != nil {
			tune(o)
		}
	})
	u := signIn(t, h, account)
	_, accounts := u.clients(n)
	connectAccount(t, u, accounts)
	return &scheduleEnv{clock: clk, node: n, user: u}
}

// xrpc calls a scheduledPosts method and returns its answer, which must be 200.
func (e *scheduleEnv) xrpc(t *testing.T, method, name string, body any) map[string]any {
	t.Helper()
	nsid := "town.roundabout.scheduledPosts." + name
	var raw []byte
	path := "/xrpc/" + nsid
	if method == "GET" {
		path += "?" + body.(string)
	} else {
		raw, _ = json.Marshal(body)
	}
	status, out := e.user.xrpcCall(t, e.node, method, path, nsid, "application/json", raw, nil)
	if status != http.StatusOK {
		t.Fatalf("%s: %d %v", name, status, out)
	}
	return out
}

func (e *scheduleEnv) create(t *testing.T, rule string, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"collection": "app.bsky.feed.post", "recurrenceRule": json.RawMessage(rule), "timezone": "UTC"}
	for k, v := range extra {
		body[k] = v
	}
	return e.xrpc(t, "POST", "createSchedule", body)["schedule"].(map[string]any)
}

func (e *scheduleEnv) schedule(t *testing.T, id string) map[string]any {
	t.Helper()
	return e.xrpc(t, "GET", "getSchedule", "id="+id)["schedule"].(map[string]any)
}

// awaitFired waits until the schedule has published n occurrences and has
// moved on from the occurrence it had queued in prev (queued the next, or
// ended), and returns it.
func (e *scheduleEnv) awaitFired(t *testing.T, prev map[string]any, n int) map[string]any {
	t.Helper()
	id := prev["id"].(string)
	var s map[string]any
	eventually(t, 20*time.Second, fmt.Sprintf("schedule %s to fire %d times and move on", id, n), func() bool {
		s = e.schedule(t, id)
		movedOn := s["nextOccurrenceAt"] != prev["nextOccurrenceAt"] || s["status"] != "active"
		return s["fireCount"] == float64(n) && movedOn
	})
	return s
}

// next is the instant of the schedule's queued occurrence.
func next(t *testing.T, s map[string]any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, fmt.Sprint(s["nextOccurrenceAt"]))
	if err != nil {
		t.Fatalf("schedule has no next occurrence: %v", s)
	}
	return at
}

func markedRecord(marker string) map[string]any {
	return map[string]any{"$type": "app.bsky.feed.post", "text": marker, "createdAt": "2000-01-01T00:00:00.000Z"}
}

// A schedule every minute for three occurrences publishes three posts, one
// per occurrence, each under the TID of its instant, and then is completed.
func TestScheduleEndToEnd(t *testing.T) {
	t.Parallel()
	e := newScheduleEnv(t, 0, nil)
	marker := fmt.Sprintf("alf schedule %d", time.Now().UnixNano())
	s := e.create(t, everyMinute3, map[string]any{"record": markedRecord(marker)})
	id := s["id"].(string)
	for i := 1; i <= 3; i++ {
		e.clock.Set(next(t, s))
		s = e.awaitFired(t, s, i)
	}
	eventually(t, 10*time.Second, "the schedule to complete", func() bool {
		s = e.schedule(t, id)
		return s["status"] == "completed"
	})
	if s["nextDraftUri"] != nil {
		t.Fatalf("completed schedule still queues %v", s["nextDraftUri"])
	}
	if got := countPosts(t, e.user.client, marker); got != 3 {
		t.Fatalf("%d posts on the PDS, want 3", got)
	}
	posts := e.xrpc(t, "GET", "listPosts", "status=published&repo="+e.user.acct.DID)["posts"].([]any)
	var mine int
	for _, p := range posts {
		if p.(map[string]any)["scheduleId"] == id {
			mine++
		}
	}
	if mine != 3 {
		t.Fatalf("%d published drafts name the schedule, want 3", mine)
	}
}

// A schedule paused after its first occurrence publishes nothing while
// paused; resumed, it publishes the rest, and nothing twice.
func TestSchedulePauseResumeEndToEnd(t *testing.T) {
	t.Parallel()
	e := newScheduleEnv(t, 1, nil)
	marker := fmt.Sprintf("alf pause %d", time.Now().UnixNano())
	s := e.create(t, everyMinute3, map[string]any{"record": markedRecord(marker)})
	id := s["id"].(string)
	e.clock.Set(next(t, s))
	s = e.awaitFired(t, s, 1)
	second := next(t, s)

	paused := e.xrpc(t, "POST", "updateSchedule", map[string]any{"id": id, "status": "paused"})["schedule"].(map[string]any)
	if paused["status"] != "paused" || paused["nextDraftUri"] != nil {
		t.Fatalf("paused: %v", paused)
	}
	e.clock.Set(second.Add(-10 * time.Second))
	resumed := e.xrpc(t, "POST", "updateSchedule", map[string]any{"id": id, "status": "active"})["schedule"].(map[string]any)
	if !next(t, resumed).Equal(second) {
		t.Fatalf("resumed before the second occurrence: next %v, want %v", resumed["nextOccurrenceAt"], second)
	}
	s = resumed
	for i := 2; i <= 3; i++ {
		e.clock.Set(next(t, s))
		s = e.awaitFired(t, s, i)
	}
	eventually(t, 10*time.Second, "the schedule to complete", func() bool { return e.schedule(t, id)["status"] == "completed" })
	if got := countPosts(t, e.user.client, marker); got != 3 {
		t.Fatalf("%d posts, want 3", got)
	}
}

// Publishing an occurrence early with publishPost publishes it once; the
// schedule moves on to the next occurrence and never queues it again.
func TestSchedulePublishEarlyEndToEnd(t *testing.T) {
	t.Parallel()
	e := newScheduleEnv(t, 2, nil)
	marker := fmt.Sprintf("alf sched early %d", time.Now().UnixNano())
	s := e.create(t, everyMinute3, map[string]any{"record": markedRecord(marker)})
	id := s["id"].(string)
	first := next(t, s)
	post := e.xrpc(t, "POST", "publishPost", map[string]any{"uri": s["nextDraftUri"]})
	if post["status"] != "published" {
		t.Fatalf("publishPost: %v", post)
	}
	s = e.awaitFired(t, s, 1)
	if got := next(t, s); !got.Equal(first.Add(time.Minute)) {
		t.Fatalf("after publishing the first early, next is %v, want %v", got, first.Add(time.Minute))
	}
	e.clock.Set(first.Add(5 * time.Second)) // the first occurrence's own time passes
	time.Sleep(2 * time.Second)
	if got := countPosts(t, e.user.client, marker); got != 1 {
		t.Fatalf("%d posts after the first occurrence's time, want 1", got)
	}
	if got := e.schedule(t, id)["fireCount"]; got != float64(1) {
		t.Fatalf("fireCount %v, want 1", got)
	}
}

// A dynamic schedule fetches its record from its content URL at publish
// time, with fireCount and scheduledAt, and publishes what it got.
func TestScheduleContentURLEndToEnd(t *testing.T) {
	t.Parallel()
	marker := fmt.Sprintf("alf dynamic %d", time.Now().UnixNano())
	var mu sync.Mutex
	var asked []string
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RawQuery)
		mu.Unlock()
		n, _ := strconv.Atoi(r.URL.Query().Get("fireCount"))
		_ = json.NewEncoder(w).Encode(map[string]any{
			"$type": "app.bsky.feed.post", "text": fmt.Sprintf("%s #%d", marker, n), "createdAt": r.URL.Query().Get("scheduledAt"),
		})
	}))
	t.Cleanup(src.Close)
	e := newScheduleEnv(t, 3, func(o *node.Options) { o.Content = content.New(content.Config{AllowPrivate: true}) })
	s := e.create(t, everyMinute3, map[string]any{"contentUrl": src.URL + "/next?kind=prompt"})
	first := next(t, s)
	e.clock.Set(first)
	e.awaitFired(t, s, 1)
	if got := countPosts(t, e.user.client, marker+" #1"); got != 1 {
		t.Fatalf("%d posts with the fetched text, want 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "kind=prompt&fireCount=1&scheduledAt=" + first.UTC().Format("2006-01-02T15:04:05.000Z")
	if len(asked) != 1 || asked[0] != want && asked[0] != urlEscapedColons(want) {
		t.Fatalf("content URL asked %v, want once with %q", asked, want)
	}
}

// urlEscapedColons is q with the colons of its values escaped, as
// url.Values encodes them.
func urlEscapedColons(q string) string {
	out := make([]byte, 0, len(q)+8)
	for i := 0; i < len(q); i++ {
		if q[i] == ':' {
			out = append(out, "%3A"...)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
