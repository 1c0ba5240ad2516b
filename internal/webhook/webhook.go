// Package webhook tells an HTTP endpoint about every record alf publishes:
// after each DraftPublished it POSTs {"uri", "cid", "publishedAt"} to the
// URL of POST_PUBLISH_WEBHOOK_URL (spec §6.9), signed with an HMAC-SHA256 of
// the body when a signing key is configured.
//
// The Notifier is a durable JetStream consumer of its own on the draft
// events of ALF_EVENTS, so it never holds up publishing: a slow, failing or
// hanging webhook only delays its own deliveries. Each POST has a timeout
// (10 s); a network error or a non-2xx answer is retried with backoff (1 s,
// 5 s, 30 s, 2 min, 10 min) through the message's NakWithDelay, so retries
// survive restarts, and then given up and logged. Delivery is at least once:
// receivers should deduplicate by the X-Alf-Event-Id header.
//
//	n, err := webhook.New(webhook.Config{Store: store, URL: url, SigningKey: key})
//	if err != nil { ... }
//	if err := n.Start(ctx); err != nil { ... }
//	defer n.Stop()
//
// The URL may carry a secret (a token in its path or query), so only its
// host is ever logged or put in an error.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultWorkers       = 8
	DefaultDurable       = "webhook"
	DefaultMaxAckPending = 10_000
)

// DefaultBackoff is the wait before each retry of a failed POST: six tries
// in all over about 13 minutes.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// Config wires a Notifier.
type Config struct {
	// Store is the event log; the notifier consumes its JetStream.
	Store *events.Store
	// URL receives the POSTs: absolute http or https.
	URL string
	// SigningKey, when set, signs every body: the header X-Alf-Signature is
	// "sha256=" and the hex HMAC-SHA256 of the body under this key (see
	// Sign). Empty sends no signature.
	SigningKey []byte
	// Client sends the POSTs (default: a client that follows no redirects,
	// so a 3xx counts as a failure).
	Client *http.Client
	// Log receives the failures (default slog.Default()).
	Log *slog.Logger

	// Timeout bounds each POST (default 10 s).
	Timeout time.Duration
	// Backoff is the wait before each retry; its length is the number of
	// retries (default DefaultBackoff).
	Backoff []time.Duration
	// Workers bounds the POSTs under way at once (default 8).
	Workers int
	// Durable is the consumer's name, shared by every notifier of a
	// deployment (default "webhook").
	Durable string
	// AckWait is how long a delivered message may go unacknowledged before
	// JetStream redelivers it (default six times Timeout).
	AckWait time.Duration
	// MaxAckPending bounds the events delivered and not yet acknowledged,
	// including those waiting for a retry (default 10,000).
	MaxAckPending int
}

func (c Config) withDefaults() Config {
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.AckWait <= 0 {
		c.AckWait = 6 * c.Timeout
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	return c
}

// Notifier is the webhook service: Start it once, Stop it when done.
type Notifier struct {
	cfg  Config
	url  string // the whole URL: never logged
	host string // what is logged instead
	log  *slog.Logger

	mu     sync.Mutex
	cc     jetstream.ConsumeContext
	drafts jetstream.Stream
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup // POSTs under way
}

// New checks the configuration and returns a notifier; Start it to consume.
func New(cfg Config) (*Notifier, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhook: no event store")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("webhook: URL does not parse") // the URL may hold a secret
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: URL of host %q is not absolute http(s)", u.Host)
	}
	cfg = cfg.withDefaults()
	return &Notifier{
		cfg:  cfg,
		url:  cfg.URL,
		host: u.Host,
		log:  cfg.Log.With("webhook", u.Host),
		sem:  make(chan struct{}, cfg.Workers),
	}, nil
}

// Start creates (or updates) the durable consumer and begins notifying. A
// consumer created now starts with the events appended from now on: the
// publishes of the past are not announced.
func (n *Notifier) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cc != nil {
		return errors.New("webhook notifier already started")
	}
	js := n.cfg.Store.JetStream()
	st, err := js.Stream(ctx, events.StreamEvents)
	if err != nil {
		return fmt.Errorf("webhook: stream %s: %w", events.StreamEvents, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, events.StreamEvents, jetstream.ConsumerConfig{
		Durable:       n.cfg.Durable,
		Description:   "POSTs each published record to the post-publish webhook",
		FilterSubject: events.DraftsFilter,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.cfg.AckWait,
		MaxDeliver:    len(n.cfg.Backoff) + 1,
		MaxAckPending: n.cfg.MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("webhook consumer: %w", err)
	}
	n.drafts = st
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	cc, err := cons.Consume(n.dispatch, jetstream.PullMaxMessages(2*n.cfg.Workers))
	if err != nil {
		n.cancel()
		return fmt.Errorf("webhook consume: %w", err)
	}
	n.cc = cc
	return nil
}

// Stop stops taking events and waits for the POSTs under way (each at most
// Timeout). Events received and not yet handled are redelivered later, to
// this consumer's next start or to another notifier sharing it.
func (n *Notifier) Stop() {
	n.mu.Lock()
	cc := n.cc
	n.cc = nil
	n.mu.Unlock()
	if cc == nil {
		return
	}
	cc.Stop()
	<-cc.Closed()
	n.wg.Wait()
	n.cancel()
}

// dispatch takes a message from the consumer: events other than
// DraftPublished are acknowledged at once; a DraftPublished waits for a
// free worker.
func (n *Notifier) dispatch(msg jetstream.Msg) {
	if !isPublished(msg) {
		_ = msg.Ack()
		return
	}
	n.sem <- struct{}{}
	n.wg.Add(1)
	go func() {
		defer func() { <-n.sem; n.wg.Done() }()
		_ = msg.InProgress() // its ack wait starts now, not while it queued
		n.handle(n.ctx, msg)
	}()
}

// isPublished tells a DraftPublished by the header every append sets,
// decoding only when the header is missing.
func isPublished(msg jetstream.Msg) bool {
	if typ := msg.Headers().Get(events.HeaderType); typ != "" {
		return typ == typePublished
	}
	env, err := events.Decode(msg.Data())
	return err == nil && events.TypeOf(env) == typePublished
}

// handle notifies one DraftPublished and settles its message: ack when the
// webhook took it, a delayed nak to retry, term when retrying cannot help or
// the tries are used up.
func (n *Notifier) handle(ctx context.Context, msg jetstream.Msg) {
	attempt, seq := delivery(msg)
	err := n.notify(ctx, msg)
	switch {
	case err == nil:
		_ = msg.Ack()
	case errors.Is(err, errPermanent):
		n.log.Error("webhook notice dropped", "seq", seq, "err", err)
		_ = msg.TermWithReason("webhook notice cannot be built")
	case attempt > len(n.cfg.Backoff):
		n.log.Error("webhook gave up", "seq", seq, "attempts", attempt, "err", err)
		_ = msg.TermWithReason("webhook gave up")
	default:
		delay := n.cfg.Backoff[attempt-1]
		n.log.Warn("webhook failed; will retry", "seq", seq, "attempt", attempt, "retry_in", delay, "err", err)
		_ = msg.NakWithDelay(delay)
	}
}

// delivery is the message's delivery count (1 for the first) and stream
// sequence.
func delivery(msg jetstream.Msg) (attempt int, seq uint64) {
	meta, err := msg.Metadata()
	if err != nil {
		return 1, 0
	}
	return int(meta.NumDelivered), meta.Sequence.Stream
}

// notify builds the notice of a DraftPublished message and POSTs it.
func (n *Notifier) notify(ctx context.Context, msg jetstream.Msg) error {
	env, err := events.Decode(msg.Data())
	if err != nil {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	notice, err := n.notice(ctx, msg.Subject(), env)
	if err != nil {
		return err
	}
	return n.post(ctx, notice, env.GetId())
}
