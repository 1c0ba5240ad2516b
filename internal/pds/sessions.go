package pds

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/seal"
)

// DefaultCallTimeout bounds each PDS call (including any session renewal it
// needs) when the caller's context has no earlier deadline.
const DefaultCallTimeout = 30 * time.Second

// Sessions keeps app-password sessions, one per account, sealed in a
// JetStream KV bucket (alf_sessions in production), and makes Clients from
// them.
type Sessions struct {
	kv  jetstream.KeyValue
	key seal.Key
	dir identity.Directory
	hc  *http.Client

	// CallTimeout bounds every PDS call; set it before first use.
	CallTimeout time.Duration
}

// stored is the sealed value of a session.
type stored struct {
	Host        string `json:"host"`
	Identifier  string `json:"identifier"`
	AppPassword string `json:"appPassword"`
	AccessJwt   string `json:"accessJwt"`
	RefreshJwt  string `json:"refreshJwt"`
}

// String keeps tokens and the app password out of logs.
func (stored) String() string { return "pds.session(redacted)" }

// GoString keeps tokens and the app password out of %#v.
func (stored) GoString() string { return "pds.session(redacted)" }

// NewSessions returns sessions kept in kv, sealed with key. dir resolves an
// account's PDS from its DID document; hc (nil: a plain http.Client) makes
// every PDS call.
func NewSessions(kv jetstream.KeyValue, key seal.Key, dir identity.Directory, hc *http.Client) *Sessions {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Sessions{kv: kv, key: key, dir: dir, hc: hc, CallTimeout: DefaultCallTimeout}
}

// SessionKey is the KV key of did's app-password session: "apppassword."
// and the first 26 characters of the lowercase base32 SHA-256 of the DID.
func SessionKey(did syntax.DID) string {
	sum := sha256.Sum256([]byte(did.String()))
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])
	return "apppassword." + strings.ToLower(enc[:26])
}

// ConnectAppPassword resolves did's PDS from its DID document, logs in there
// with identifier (handle or DID) and the app password, checks that the
// session is did's (else ErrWrongAccount) and made with an app password
// (else ErrNotAppPassword), and stores it sealed, replacing any previous
// session. It returns the PDS host. A refused login matches ErrLoginRefused.
func (s *Sessions) ConnectAppPassword(ctx context.Context, did syntax.DID, identifier, appPassword string) (string, error) {
	if identifier == "" || appPassword == "" {
		return "", fmt.Errorf("connect %s: identifier and app password are required", did)
	}
	ctx, cancel := context.WithTimeout(ctx, s.CallTimeout)
	defer cancel()
	ident, err := s.dir.LookupDID(ctx, did)
	if err != nil {
		return "", fmt.Errorf("connect %s: resolve DID: %w", did, err)
	}
	host := strings.TrimSuffix(ident.PDSEndpoint(), "/")
	if host == "" {
		return "", fmt.Errorf("connect %s: DID document names no PDS", did)
	}
	sess, err := s.login(ctx, did, stored{Host: host, Identifier: identifier, AppPassword: appPassword})
	if err != nil {
		return "", fmt.Errorf("connect %s at %s: %w", did, host, err)
	}
	if claims(sess.AccessJwt).scope == "com.atproto.access" {
		s.logout(ctx, sess)
		return "", fmt.Errorf("connect %s: %w", did, ErrNotAppPassword)
	}
	sealed, err := s.seal(sess)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", did, err)
	}
	if _, err := s.kv.Put(ctx, SessionKey(did), sealed); err != nil {
		return "", fmt.Errorf("connect %s: store session: %w", did, err)
	}
	return host, nil
}

// Client returns a Client writing did's repository with its stored session,
// or an error matching ErrNoSession.
func (s *Sessions) Client(ctx context.Context, did syntax.DID) (Client, error) {
	sess, rev, err := s.load(ctx, did)
	if err != nil {
		return nil, err
	}
	auth := &appAuth{s: s, did: did, cur: sess, rev: rev}
	return &xrpcClient{did: did, api: newAPI(s.hc, sess.Host, auth), timeout: s.CallTimeout}, nil
}

// Has reports whether a session is stored for did.
func (s *Sessions) Has(ctx context.Context, did syntax.DID) (bool, error) {
	_, err := s.kv.Get(ctx, SessionKey(did))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("session of %s: %w", did, err)
	}
	return true, nil
}

// Delete forgets did's session (account disconnect or wipe), purging it
// from the bucket, history included. Deleting a missing session is not an
// error.
func (s *Sessions) Delete(ctx context.Context, did syntax.DID) error {
	if err := s.kv.Purge(ctx, SessionKey(did)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete session of %s: %w", did, err)
	}
	return nil
}

func (s *Sessions) load(ctx context.Context, did syntax.DID) (stored, uint64, error) {
	e, err := s.kv.Get(ctx, SessionKey(did))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return stored{}, 0, fmt.Errorf("%w: %s", ErrNoSession, did)
	}
	if err != nil {
		return stored{}, 0, fmt.Errorf("load session of %s: %w", did, err)
	}
	var sess stored
	err = s.key.OpenJSON(e.Value(), &sess)
	if errors.Is(err, seal.ErrOpen) {
		return stored{}, 0, fmt.Errorf("%w: %s: stored session cannot be opened (ENCRYPTION_KEY changed?): %w", ErrNoSession, did, err)
	}
	if err != nil || sess.Host == "" {
		return stored{}, 0, fmt.Errorf("%w: %s: stored session is malformed", ErrNoSession, did)
	}
	return sess, e.Revision(), nil
}

func (s *Sessions) seal(sess stored) ([]byte, error) {
	sealed, err := s.key.SealJSON(sess)
	if err != nil {
		return nil, fmt.Errorf("seal session: %w", err)
	}
	return sealed, nil
}

type sessionOutput struct {
	AccessJwt  string `json:"accessJwt"`
	RefreshJwt string `json:"refreshJwt"`
	DID        string `json:"did"`
}

// login creates a session with sess's identifier and app password. A
// refusal matches ErrLoginRefused.
func (s *Sessions) login(ctx context.Context, did syntax.DID, sess stored) (stored, error) {
	body, err := json.Marshal(map[string]string{"identifier": sess.Identifier, "password": sess.AppPassword})
	if err != nil {
		return stored{}, fmt.Errorf("login: %w", err)
	}
	var out sessionOutput
	api := newAPI(s.hc, sess.Host, bearer(""))
	err = call(ctx, api, atclient.MethodProcedure, "com.atproto.server.createSession", nil, body, &out)
	if refused(err) {
		return stored{}, fmt.Errorf("login: %w: %w", ErrLoginRefused, err)
	}
	if err != nil {
		return stored{}, fmt.Errorf("login: %w", err)
	}
	return withTokens(did, sess, out)
}

// logout ends a session alf will not keep; it is best effort, the session
// expires anyway.
func (s *Sessions) logout(ctx context.Context, sess stored) {
	api := newAPI(s.hc, sess.Host, bearer(sess.RefreshJwt))
	_ = call(ctx, api, atclient.MethodProcedure, "com.atproto.server.deleteSession", nil, nil, nil)
}

// refresh renews the tokens with the refresh JWT.
func (s *Sessions) refresh(ctx context.Context, did syntax.DID, sess stored) (stored, error) {
	var out sessionOutput
	api := newAPI(s.hc, sess.Host, bearer(sess.RefreshJwt))
	if err := call(ctx, api, atclient.MethodProcedure, "com.atproto.server.refreshSession", nil, nil, &out); err != nil {
		return stored{}, fmt.Errorf("refresh: %w", err)
	}
	return withTokens(did, sess, out)
}

func withTokens(did syntax.DID, sess stored, out sessionOutput) (stored, error) {
	if out.DID != did.String() {
		return stored{}, fmt.Errorf("session is for %s, not %s: %w", out.DID, did, ErrWrongAccount)
	}
	if out.AccessJwt == "" || out.RefreshJwt == "" {
		return stored{}, errors.New("PDS returned a session without tokens")
	}
	sess.AccessJwt, sess.RefreshJwt = out.AccessJwt, out.RefreshJwt
	return sess, nil
}
