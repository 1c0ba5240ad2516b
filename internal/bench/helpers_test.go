package bench_test

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/bench"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/seal"
)

// serviceDID is the aud of the benchmarks' tokens (alf's default).
const serviceDID = "did:web:localhost%3A1986"

// createLXM is the lxm of a CreateDraft token.
const createLXM = "alf.v1.DraftService.CreateDraft"

// alf is an all-in-one node on an embedded NATS with file storage,
// publishing to a fake PDS.
type alf struct {
	node *node.Node
	fake *bench.FakePDS
}

// startAlf starts every role (as cmd/alf does) in b.TempDir(), the gateway
// on a loopback port, resolving the DIDs of ids; tune (if not nil) adjusts
// the options.
func startAlf(b *testing.B, tune func(*node.Options), ids ...*authtest.Identity) *alf {
	b.Helper()
	// As cmd/alf runs (tuneGC), unless GOGC is set.
	if os.Getenv("GOGC") == "" {
		b.Cleanup(func() { debug.SetGCPercent(100) })
		debug.SetGCPercent(400)
	}
	nc := natstest.Conn(b, natstest.Server(b))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	key, _ := seal.NewKey() // the fake PDS needs no sessions; the gateway's bucket does
	fake := bench.NewFakePDS()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := node.Options{
		Conn:       nc,
		Roles:      node.All,
		Key:        key,
		ServiceDID: serviceDID,
		Directory:  authtest.Directory(ids...),
		Listener:   ln,
		Accounts:   fake,
		Log:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if tune != nil {
		tune(&opts)
	}
	n, err := node.Start(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(n.Stop)
	return &alf{node: n, fake: fake}
}

// identities returns n fresh test accounts.
func identities(b *testing.B, n int) []*authtest.Identity {
	b.Helper()
	ids := make([]*authtest.Identity, n)
	for i := range ids {
		ids[i] = authtest.NewIdentity(b)
	}
	return ids
}

// httpClient keeps a connection per concurrent caller (HTTP/1.1).
func httpClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
	}}
}

// draftClient is a DraftService client whose calls authorize sets the
// credentials of.
func draftClient(hc *http.Client, addr string, authorize func(http.Header) error, opts ...connect.ClientOption) alfv1connect.DraftServiceClient {
	sign := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if err := authorize(req.Header()); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	})
	opts = append(opts, connect.WithInterceptors(sign))
	return alfv1connect.NewDraftServiceClient(hc, "http://"+addr, opts...)
}

// bearer sends token on every call, as a client reusing one service-auth
// token or an API key does.
func bearer(token string) func(http.Header) error {
	return func(h http.Header) error {
		h.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// createToken is a CreateDraft token of id that outlives any benchmark.
func createToken(b *testing.B, id *authtest.Identity) string {
	b.Helper()
	return id.Token(b, serviceDID, createLXM, 30*time.Minute)
}

// rkey is a distinct valid record key for each i above base (microseconds).
func rkey(base int64, i int) string {
	return syntax.NewTID(base+int64(i), 0).String()
}

// benchDID is a well-formed did:plc that only the fake PDS knows.
func benchDID(i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "alf bench account %d", i))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15])
	return "did:plc:" + strings.ToLower(enc)
}

// summary is a latency distribution.
type summary struct {
	n             int
	p50, p99, max time.Duration
}

// summarize sorts samples and reads the nearest-rank percentiles.
func summarize(samples []time.Duration) summary {
	if len(samples) == 0 {
		return summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return summary{n: len(s), p50: percentile(s, 0.50), p99: percentile(s, 0.99), max: s[len(s)-1]}
}

// percentile is the nearest-rank percentile p (0 < p ≤ 1) of sorted s.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// report hands a distribution to the benchmark as name-p50-ms etc.
func (s summary) report(b *testing.B, name string) {
	b.ReportMetric(ms(s.p50), name+"-p50-ms")
	b.ReportMetric(ms(s.p99), name+"-p99-ms")
	b.ReportMetric(ms(s.max), name+"-max-ms")
}

func (s summary) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", round(s.p50), round(s.p99), round(s.max))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond || d <= -10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// awaitStatus waits until every draft of ids shows status in the view.
func awaitStatus(ctx context.Context, v *projection.View, ids []string, status projection.Status) error {
	for _, id := range ids {
		for {
			seq := v.Seq() // before reading the draft: a change after it wakes us
			d, ok := v.Draft(id)
			if ok && d.Status == status {
				break
			}
			if err := v.WaitFor(ctx, seq+1); err != nil {
				return fmt.Errorf("draft %s is %q, want %q: %w", id, d.Status, status, err)
			}
		}
	}
	return nil
}

// claims returns when a publisher claimed each draft (the time in its first
// DraftPublishing), reading the log from sequence from.
func claims(ctx context.Context, store *events.Store, from uint64) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	err := store.Replay(ctx, from, nil, func(ev events.Event) error {
		p := ev.Envelope.GetDraftPublishing()
		if p == nil {
			return nil
		}
		if _, ok := out[p.GetDraftId()]; !ok {
			out[p.GetDraftId()] = ev.Envelope.GetOccurredAt().AsTime()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	return out, nil
}

// history lists a draft's events ("seq Type at", oldest first), to explain
// a draft that did not end as expected.
func history(store *events.Store, did, id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lines []string
	err := store.Replay(ctx, 1, []string{events.DraftSubject(did, id)}, func(ev events.Event) error {
		at := ev.Envelope.GetOccurredAt().AsTime().Format("15:04:05.000000")
		lines = append(lines, fmt.Sprintf("%d %s %s", ev.Seq, ev.Type(), at))
		return nil
	})
	if err != nil {
		lines = append(lines, err.Error())
	}
	return strings.Join(lines, "; ")
}
