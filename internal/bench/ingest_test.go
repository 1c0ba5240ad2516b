package bench_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/authtest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/node"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	ingestDrafts  = flag.Int("ingest.drafts", 20000, "drafts BenchmarkIngest creates per run")
	ingestWorkers = flag.Int("ingest.workers", 64, "concurrent CreateDraft callers of BenchmarkIngest")
	ingestGzip    = flag.Bool("ingest.gzip", true, "callers accept gzipped responses, as connect-go clients do by default")
	ingestAuth    = flag.String("ingest.auth", "service", "how BenchmarkIngest's callers authenticate: service (a service-auth JWT each), apikey (an alf API key each) or dpop (a DPoP-bound access token each, with a fresh proof per call)")
)

// BenchmarkIngest creates drafts with CreateDraft over HTTP/1.1 (Connect
// protocol, proto and JSON codecs) against the all-in-one node, from
// -ingest.workers callers at once, each an account reusing one token. The
// drafts are scheduled a year ahead, so the timer queues them and the
// publisher stays idle. It reports drafts/s and the latency of a call.
// -ingest.gzip=false measures callers that do not accept gzip, so the
// gateway answers uncompressed.
func BenchmarkIngest(b *testing.B) {
	codecs := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"proto", nil},
		{"json", []connect.ClientOption{connect.WithProtoJSON()}},
	}
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) { benchIngest(b, c.opts...) })
	}
}

func benchIngest(b *testing.B, opts ...connect.ClientOption) {
	workers, total := *ingestWorkers, *ingestDrafts
	if !*ingestGzip {
		opts = append(opts, connect.WithAcceptCompression("gzip", nil, nil))
	}
	ids := identities(b, workers)
	var as *authServer
	var tune func(*node.Options)
	if *ingestAuth == "dpop" {
		as = newAuthServer(b)
		tune = as.serve(ids)
	}
	a := startAlf(b, tune, ids...)
	hc := httpClient(workers)
	clients := make([]callFunc, workers)
	for w, id := range ids {
		clients[w] = creator(draftClient(hc, a.node.Addr(), ingestAuthorizer(b, a, as, id), opts...))
	}
	var samples []time.Duration
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		got, err := ingest(clients, total)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, got...)
	}
	s := summarize(samples)
	rate := float64(len(samples)) / elapsed.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rate, "drafts/s")
	s.report(b, "call")
	b.Logf("ingest: %d drafts from %d callers: %.0f drafts/s, call %s", len(samples), workers, rate, s)
}

// ingestAuthorizer sets a caller's credentials on each call (-ingest.auth).
func ingestAuthorizer(b *testing.B, a *alf, as *authServer, id *authtest.Identity) func(http.Header) error {
	b.Helper()
	switch *ingestAuth {
	case "service":
		return bearer(createToken(b, id))
	case "dpop":
		return as.client(b, id, createURL)
	case "apikey":
		kv, err := a.node.Store().JetStream().KeyValue(context.Background(), events.BucketAPIKeys)
		if err != nil {
			b.Fatal(err)
		}
		secret, _, err := auth.NewAPIKeys(kv).Create(context.Background(), id.DID, "bench")
		if err != nil {
			b.Fatal(err)
		}
		return bearer(secret)
	}
	b.Fatalf("-ingest.auth %q: want service, apikey or dpop", *ingestAuth)
	return nil
}

// callFunc creates the i-th draft of a run.
type callFunc func(ctx context.Context, base int64, i int) error

// creator calls CreateDraft for a post with its own rkey, due a year ahead.
func creator(c interface {
	CreateDraft(context.Context, *connect.Request[alfv1.CreateDraftRequest]) (*connect.Response[alfv1.CreateDraftResponse], error)
}) callFunc {
	rec, err := structpb.NewStruct(map[string]any{
		"$type": "app.bsky.feed.post", "text": "benchmark draft", "createdAt": "2026-01-01T00:00:00.000Z",
	})
	if err != nil {
		panic(err) // a constant record
	}
	later := timestamppb.New(time.Now().AddDate(1, 0, 0))
	return func(ctx context.Context, base int64, i int) error {
		_, err := c.CreateDraft(ctx, connect.NewRequest(&alfv1.CreateDraftRequest{
			Collection:  "app.bsky.feed.post",
			Rkey:        rkey(base, i),
			Record:      rec,
			ScheduledAt: later,
		}))
		if err != nil {
			return fmt.Errorf("create draft %d: %w", i, err)
		}
		return nil
	}
}

// ingest makes total calls from len(calls) workers at once and returns the
// latency of each.
func ingest(calls []callFunc, total int) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := time.Now().UnixMicro()
	var next atomic.Int64
	lat := make([][]time.Duration, len(calls))
	errs := make(chan error, len(calls))
	var wg sync.WaitGroup
	for w, call := range calls {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < total; i = int(next.Add(1)) - 1 {
				start := time.Now()
				if err := call(ctx, base, i); err != nil {
					errs <- err
					cancel()
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return all, nil
}
