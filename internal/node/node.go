// Package node runs any of alf's roles (gateway, timer, publisher) against
// one NATS connection. The binaries differ only in which roles they ask for:
// cmd/alf starts all three on an embedded server, cmd/gateway, cmd/timer and
// cmd/publisher one each against NATS_URL.
//
//	n, err := node.Start(ctx, node.Options{Conn: nc, Roles: node.All, ...})
//	defer n.Stop()
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/chain"
	"github.com/latency-fabric/alf/internal/clock"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/gateway"
	"github.com/latency-fabric/alf/internal/lexicon"
	"github.com/latency-fabric/alf/internal/metrics"
	"github.com/latency-fabric/alf/internal/oauth"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/publisher"
	"github.com/latency-fabric/alf/internal/ratelimit"
	"github.com/latency-fabric/alf/internal/seal"
	"github.com/latency-fabric/alf/internal/timer"
	"github.com/latency-fabric/alf/internal/webhook"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Roles selects what a node runs.
type Roles struct {
	Gateway, Timer, Publisher bool
}

// All is every role in one process.
var All = Roles{Gateway: true, Timer: true, Publisher: true}

// Options configure a node.
type Options struct {
	Conn  *nats.Conn
	Roles Roles
	// Key seals sessions at rest.
	Key seal.Key
	// ServiceDID is the aud that inbound service-auth tokens must carry.
	ServiceDID string
	// ServiceURL is alf's public base URL (trigger URLs start with it).
	ServiceURL string
	// MaxDrafts caps each account's active drafts; 0 means no cap.
	MaxDrafts int
	// RateLimits bound the gateway's requests per client address and per
	// account; zero limits nothing.
	RateLimits RateLimits
	// DisableRecurring refuses new recurring schedules.
	DisableRecurring bool
	// Content fetches the records of dynamic schedules (the publisher
	// role); nil fails their drafts.
	Content publisher.Fetcher
	// Chain tunes the chainer (its View, Store, Clock and Log are filled in
	// by the node); the publisher role runs it.
	Chain chain.Config
	// Collections reports whether a collection may be written; nil allows
	// all. CollectionNames lists them (ALLOWED_COLLECTIONS; nil: all), for
	// the OAuth scopes alf asks for.
	Collections     func(nsid string) bool
	CollectionNames []string
	// RedirectOrigins are where /oauth/authorize may send a user back to
	// (ALLOWED_REDIRECT_ORIGINS), besides ServiceURL's origin.
	RedirectOrigins []string
	// HandleResolverURL resolves handles at /oauth/authorize ("" resolves
	// them with Directory).
	HandleResolverURL string
	// WebhookURL is POSTed after each publish ("" for none), signed with
	// WebhookKey; the publisher role runs the notifier.
	WebhookURL string
	WebhookKey []byte
	// Directory resolves DIDs (inbound auth, PDS discovery).
	Directory identity.Directory
	// Listener serves HTTP (the gateway's APIs when it runs, and /health
	// and /metrics in every role); nil means listen on Addr, and no HTTP at
	// all when Addr is empty too.
	Listener net.Listener
	Addr     string
	// Accounts overrides the PDS sessions the publisher writes through
	// (benchmarks use a fake PDS); nil uses app-password sessions from KV.
	Accounts publisher.Accounts
	// Publisher and Timer tune those roles; their View, Store, JS, Accounts
	// and Clock are filled in by the node.
	Publisher publisher.Config
	Timer     timer.Config
	Events    events.Config
	Clock     clock.Clock
	Log       *slog.Logger
	// HTTPClient is used for outbound calls (default: 30 s timeout).
	HTTPClient *http.Client
	// DPoPHTTPClient fetches the metadata and keys of the authorization
	// servers behind inbound DPoP tokens. Nil (production) connects only to
	// public addresses, as those servers are named by users' DID documents;
	// tests set it to reach the loopback harness.
	DPoPHTTPClient *http.Client
}

// RateLimits are requests a minute; 0 is no limit. Bursts of a fifth of a
// minute's worth (at least 10) are allowed.
type RateLimits struct {
	PerIP, PerAccount int
}

func limiter(perMinute int) *ratelimit.Limiter {
	if perMinute == 0 {
		return nil
	}
	return ratelimit.New(perMinute, max(perMinute/5, 10))
}

// Node is a running set of roles.
type Node struct {
	opts  Options
	store *events.Store
	view  *projection.View
	feed  *events.Feed
	timer *timer.Timer
	pub   *publisher.Publisher
	chain *chain.Chainer // Advance for the gateway; a service in the publisher role
	oauth *oauth.Client
	gw    *gateway.Gateway // set once the gateway role is assembled
	stats *metrics.Metrics
	hook  *webhook.Notifier
	http  *http.Server
	ln    net.Listener
	srvCh chan error
	once  sync.Once
}

// Start provisions JetStream, rebuilds the projection from the log and
// starts the requested roles.
func Start(ctx context.Context, opts Options) (*Node, error) {
	opts = withDefaults(opts)
	js, err := jetstream.New(opts.Conn)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := events.Provision(ctx, js, opts.Events); err != nil {
		return nil, err
	}
	n := &Node{opts: opts, store: events.NewStore(js), view: projection.NewView(), stats: metrics.New()}
	if err := n.start(ctx, js); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func withDefaults(o Options) Options {
	if o.Clock == nil {
		o.Clock = clock.Real
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.ServiceURL == "" {
		o.ServiceURL = "http://localhost:1986"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return o
}

func (n *Node) start(ctx context.Context, js jetstream.JetStream) error {
	o := n.opts
	var sessions *pds.Sessions
	if o.Roles.Gateway || (o.Roles.Publisher && o.Accounts == nil) {
		kv, err := js.KeyValue(ctx, events.BucketSessions)
		if err != nil {
			return fmt.Errorf("sessions bucket: %w", err)
		}
		sessions = pds.NewSessions(kv, o.Key, o.Directory, o.HTTPClient)
		if n.oauth, err = n.oauthClient(ctx, js); err != nil {
			return err
		}
	}
	cc := o.Chain
	cc.View, cc.Store, cc.Clock, cc.Log = n.view, n.store, o.Clock, o.Log.With("role", "chainer")
	n.chain = chain.New(cc)
	if o.Roles.Timer {
		tc := o.Timer
		if tc.Lead == 0 {
			tc.Lead = timer.DefaultLead
		}
		tc.View, tc.JS, tc.Clock, tc.Log, tc.Metrics = n.view, js, o.Clock, o.Log.With("role", "timer"), n.stats
		n.timer = timer.New(tc)
	}
	if err := n.catchUp(ctx, js); err != nil {
		return err
	}
	if n.timer != nil {
		if err := n.timer.Start(ctx); err != nil {
			return err
		}
	}
	if o.Roles.Publisher && o.WebhookURL != "" {
		hook, err := webhook.New(webhook.Config{Store: n.store, URL: o.WebhookURL, SigningKey: o.WebhookKey, Log: o.Log.With("role", "webhook")})
		if err != nil {
			return err
		}
		if err := hook.Start(ctx); err != nil {
			return err
		}
		n.hook = hook
	}
	if o.Roles.Publisher {
		pc := o.Publisher
		pc.View, pc.Store, pc.Clock, pc.Log, pc.Metrics = n.view, n.store, o.Clock, o.Log.With("role", "publisher"), n.stats
		pc.Accounts = o.Accounts
		if pc.Accounts == nil {
			pc.Accounts = preferOAuth{oauth: n.oauth, sessions: sessions}
		}
		obj, err := js.ObjectStore(ctx, events.ObjectBlobs)
		if err != nil {
			return fmt.Errorf("blob store: %w", err)
		}
		pc.Blobs = blob.NewStore(obj)
		pc.Content = o.Content
		n.pub = publisher.New(pc)
		if err := n.pub.Start(ctx); err != nil {
			return err
		}
		if err := n.chain.Start(ctx); err != nil {
			return err
		}
	}
	return n.serve(sessions)
}

// catchUp starts the feed and waits until the view shows the whole log.
func (n *Node) catchUp(ctx context.Context, js jetstream.JetStream) error {
	last, err := n.store.LastSeq(ctx)
	if err != nil {
		return err
	}
	n.feed = events.NewFeed(js, n.opts.Log, n.view.Apply)
	if err := n.feed.Start(ctx, 1); err != nil {
		return err
	}
	start := time.Now()
	if err := n.view.WaitFor(ctx, last); err != nil {
		return fmt.Errorf("rebuild projection: %w", err)
	}
	n.opts.Log.Info("projection rebuilt", "events", last, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// serve starts HTTP: the gateway's APIs when it runs, /health and /metrics
// always.
func (n *Node) serve(sessions *pds.Sessions) error {
	o := n.opts
	if o.Listener == nil && o.Addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	if o.Roles.Gateway {
		gw, err := n.gateway(sessions)
		if err != nil {
			return err
		}
		mux.Handle("/", gw.Handler())
	} else {
		mux.HandleFunc("GET /health", gateway.Health)
	}
	mux.Handle("GET /metrics", n.stats.Handler())
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", o.Addr); err != nil {
			return fmt.Errorf("listen %s: %w", o.Addr, err)
		}
	}
	n.ln = ln
	n.http = &http.Server{
		Handler:           mux,
		Protocols:         gateway.Protocols(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	n.srvCh = make(chan error, 1)
	go func() { n.srvCh <- n.http.Serve(ln) }()
	return nil
}

// gateway assembles the gateway role.
func (n *Node) gateway(sessions *pds.Sessions) (*gateway.Gateway, error) {
	o := n.opts
	ctx := context.Background()
	js := n.store.JetStream()
	kv, err := js.KeyValue(ctx, events.BucketTriggers)
	if err != nil {
		return nil, fmt.Errorf("triggers bucket: %w", err)
	}
	obj, err := js.ObjectStore(ctx, events.ObjectBlobs)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	lex, err := lexicon.Load()
	if err != nil {
		return nil, err
	}
	keysKV, err := js.KeyValue(ctx, events.BucketAPIKeys)
	if err != nil {
		return nil, fmt.Errorf("API keys bucket: %w", err)
	}
	keys := auth.NewAPIKeys(keysKV)
	dpop, err := auth.NewDPoPVerifier(auth.DPoPConfig{
		Directory:  o.Directory,
		HTTPClient: o.DPoPHTTPClient,
		PublicURL:  o.ServiceURL,
		AllowHTTP:  strings.HasPrefix(o.ServiceURL, "http://"), // a development alf on loopback
	})
	if err != nil {
		return nil, fmt.Errorf("DPoP verifier: %w", err)
	}
	n.gw = gateway.New(gateway.Config{
		View:             n.view,
		Store:            n.store,
		Verifier:         auth.NewVerifier(o.ServiceDID, o.Directory).WithAPIKeys(keys).WithDPoP(dpop),
		APIKeys:          keys,
		PerIP:            limiter(o.RateLimits.PerIP),
		PerAccount:       limiter(o.RateLimits.PerAccount),
		OAuth:            n.oauth,
		Accounts:         sessions,
		Triggers:         gateway.NewTriggers(kv, o.Key, o.ServiceURL),
		Blobs:            blob.NewStore(obj),
		Lexicons:         lex,
		MaxDrafts:        o.MaxDrafts,
		DisableRecurring: o.DisableRecurring,
		Chain:            n.chain,
		Collections:      o.Collections,
		Clock:            o.Clock,
		Log:              o.Log.With("role", "gateway"),
	})
	return n.gw, nil
}

// Addr is the HTTP listen address ("" when the node serves no HTTP).
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// View is the node's projection.
func (n *Node) View() *projection.View { return n.view }

// Store is the node's event store.
func (n *Node) Store() *events.Store { return n.store }

// Stop stops the roles: the gateway first (finishing requests under way),
// then the publisher (finishing publishes under way), the timer and the feed.
// Stopping twice is fine.
func (n *Node) Stop() { n.once.Do(n.stop) }

func (n *Node) stop() {
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = n.http.Shutdown(ctx)
		cancel()
		if err := <-n.srvCh; err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.opts.Log.Error("gateway stopped", "err", err)
		}
	}
	if n.pub != nil {
		n.pub.Stop()
	}
	if n.chain != nil {
		n.chain.Stop() // a no-op unless the publisher role started it
	}
	if n.hook != nil {
		n.hook.Stop()
	}
	if n.timer != nil {
		n.timer.Stop()
	}
	if n.feed != nil {
		n.feed.Stop()
	}
}
