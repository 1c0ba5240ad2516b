package gateway

import (
	"context"

	"connectrpc.com/connect"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"net/http"
	"strings"
	"sync"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/seal"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Triggers are one-time webhook URLs that publish a draft when POSTed. The
// key (160 random bits) is shown to its owner only; the log holds its HMAC,
// and the KV bucket alf_triggers maps the HMAC to the draft and the sealed
// key (so the owner can see the URL again).
type Triggers struct {
	kv   jetstream.KeyValue
	key  seal.Key
	base string // SERVICE_URL

	mu   sync.Mutex
	urls map[string]string // hash → URL, for views
}

// NewTriggers keeps triggers in kv (alf_triggers), sealed with key; URLs are
// <serviceURL>/triggers/<key>.
func NewTriggers(kv jetstream.KeyValue, key seal.Key, serviceURL string) *Triggers {
	return &Triggers{kv: kv, key: key, base: strings.TrimRight(serviceURL, "/"), urls: map[string]string{}}
}

type triggerEntry struct {
	DraftID string `json:"draftId"`
	DID     string `json:"did"`
	Sealed  string `json:"sealedKey"`
}

var triggerEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// New makes a trigger for a draft about to be created and returns the hash
// to log and the URL to show.
func (t *Triggers) New(ctx context.Context, draftID, did string) (hash, url string, err error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("trigger key: %w", err)
	}
	plain := strings.ToLower(triggerEncoding.EncodeToString(b[:]))
	sealed, err := t.key.Seal([]byte(plain))
	if err != nil {
		return "", "", fmt.Errorf("seal trigger key: %w", err)
	}
	entry, _ := json.Marshal(triggerEntry{DraftID: draftID, DID: did, Sealed: sealed})
	hash = t.key.HMAC(plain)
	if _, err := t.kv.Create(ctx, hash, entry); err != nil {
		return "", "", fmt.Errorf("store trigger: %w", err)
	}
	url = t.base + "/triggers/" + plain
	t.remember(hash, url)
	return hash, url, nil
}

func (t *Triggers) remember(hash, url string) {
	t.mu.Lock()
	t.urls[hash] = url
	t.mu.Unlock()
}

// URL is the trigger URL of a hash, for the draft's owner ("" if unknown).
func (t *Triggers) URL(ctx context.Context, hash string) string {
	if hash == "" {
		return ""
	}
	t.mu.Lock()
	url, ok := t.urls[hash]
	t.mu.Unlock()
	if ok {
		return url
	}
	e, err := t.lookup(ctx, hash)
	if err != nil {
		return ""
	}
	plain, err := t.key.Open(e.Sealed)
	if err != nil {
		return "" // sealed with a key alf no longer has: say nothing
	}
	url = t.base + "/triggers/" + string(plain)
	t.remember(hash, url)
	return url
}

var errNoTrigger = errors.New("trigger key not found")

// Forget removes triggers (an account's, when it is deleted), history
// included.
func (t *Triggers) Forget(ctx context.Context, hashes []string) error {
	var errs []error
	for _, h := range hashes {
		t.mu.Lock()
		delete(t.urls, h)
		t.mu.Unlock()
		if err := t.kv.Purge(ctx, h); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("forget triggers: %w", err)
	}
	return nil
}

// newTrigger makes the trigger of a draft being created; its hash goes in
// DraftCreated.
func (g *Gateway) newTrigger(ctx context.Context, draftID string, did syntax.DID) (string, error) {
	if g.cfg.Triggers == nil {
		return "", connect.NewError(connect.CodeUnimplemented, errors.New("triggers are not configured"))
	}
	hash, _, err := g.cfg.Triggers.New(ctx, draftID, did.String())
	if err != nil {
		return "", connect.NewError(connect.CodeUnavailable, err)
	}
	return hash, nil
}

// find looks a trigger up by its key: under the HMAC of the current
// ENCRYPTION_KEY, else of an old one (a trigger made before a rotation).
func (t *Triggers) find(ctx context.Context, plain string) (triggerEntry, error) {
	for _, hash := range t.key.HMACs(plain) {
		e, err := t.lookup(ctx, hash)
		if !errors.Is(err, errNoTrigger) {
			return e, err
		}
	}
	return triggerEntry{}, errNoTrigger
}

func (t *Triggers) lookup(ctx context.Context, hash string) (triggerEntry, error) {
	kve, err := t.kv.Get(ctx, hash)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return triggerEntry{}, errNoTrigger
	}
	if err != nil {
		return triggerEntry{}, err
	}
	var e triggerEntry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return triggerEntry{}, fmt.Errorf("trigger entry: %w", err)
	}
	return e, nil
}

// fireTrigger serves POST /triggers/{key}: no authentication, the key is
// the credential. It publishes the draft once; afterwards, and for drafts
// that ended, it answers 409 TriggerAlreadyFired.
func (g *Gateway) fireTrigger(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := r.PathValue("key")
	if g.cfg.Triggers == nil || key == "" {
		writeXRPCError(w, http.StatusNotFound, "NotFound", "Trigger key not found")
		return
	}
	e, err := g.cfg.Triggers.find(ctx, key)
	if errors.Is(err, errNoTrigger) {
		writeXRPCError(w, http.StatusNotFound, "NotFound", "Trigger key not found")
		return
	}
	if err != nil {
		writeXRPCError(w, http.StatusServiceUnavailable, "Unavailable", "trigger store unavailable")
		return
	}
	find := func() (projection.Draft, error) {
		d, ok := g.cfg.View.Draft(e.DraftID)
		if !ok {
			return projection.Draft{}, errNoTrigger
		}
		return d, nil
	}
	var before uint32
	d, err := g.change(ctx, "alf:trigger", find, func(d projection.Draft) (proto.Message, error) {
		before = attemptsBefore(d)
		switch {
		case d.TriggerFired || d.Status.Terminal():
			return nil, errTriggerSpent
		case d.Status == projection.StatusPublishing:
			return nil, nil // on its way already: answer with its outcome
		}
		return &eventsv1.DraftPublishRequested{DraftId: d.ID, Trigger: true}, nil
	})
	switch {
	case errors.Is(err, errTriggerSpent):
		writeXRPCError(w, http.StatusConflict, "TriggerAlreadyFired", "This trigger has already been used or the draft is no longer active")
		return
	case errors.Is(err, errNoTrigger):
		writeXRPCError(w, http.StatusNotFound, "NotFound", "Trigger key not found")
		return
	case err != nil:
		writeXRPCError(w, http.StatusServiceUnavailable, "Unavailable", "could not publish now; try again")
		return
	}
	d = g.awaitOutcome(ctx, d.ID, before)
	if d.Status == projection.StatusPublished {
		writeJSON(w, http.StatusOK, map[string]any{"published": true, "uri": d.URI})
		return
	}
	reason := d.FailureReason
	if reason == "" {
		reason = "Draft failed to publish"
	}
	writeJSON(w, http.StatusInternalServerError, map[string]any{
		"error": "PublishFailed", "message": reason, "status": string(d.Status), "uri": d.URI,
	})
}

var errTriggerSpent = errors.New("trigger spent")
