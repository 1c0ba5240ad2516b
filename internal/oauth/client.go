package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/atcrypto"
	"github.com/bluesky-social/indigo/atproto/auth/oauth"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/bluesky-social/indigo/util/ssrf"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/seal"
)

const (
	userAgent = "alf (atproto Latency Fabric)"
	// clientName is what the authorization server shows the user.
	clientName = "Scheduled Posts"

	callbackPath  = "/oauth/callback"
	metadataPath  = "/oauth/client-metadata.json"
	jwksPath      = "/oauth/jwks.json"
	authorizePath = "/oauth/authorize"
)

// Config configures a Client.
type Config struct {
	// ServiceURL is alf's public base URL (SERVICE_URL, no trailing
	// slash). With https:// alf is a confidential web client whose
	// client_id is <ServiceURL>/oauth/client-metadata.json. With http://
	// it is a loopback development client (see the package doc).
	ServiceURL string
	// Collections are ALLOWED_COLLECTIONS: the collections alf asks to
	// create, update and delete records of (nil or "*": all).
	Collections []string
	// RedirectOrigins are the origins (scheme://host[:port]) that
	// /oauth/authorize may send the user back to after authorizing
	// (ALLOWED_REDIRECT_ORIGINS), besides ServiceURL's own.
	RedirectOrigins []string
	// Key seals the client key, pending requests and sessions
	// (ENCRYPTION_KEY).
	Key seal.Key
	// Buckets hold the state; see OpenBuckets.
	Buckets Buckets
	// HTTPClient makes every outbound call: identity, authorization server
	// and PDS. Nil: a client with a 30 s timeout that refuses private and
	// loopback addresses (a DID document names the hosts alf calls).
	HTTPClient *http.Client
	// Directory resolves DIDs (and handles, unless HandleResolverURL is
	// set). Nil: indigo's default directory.
	Directory identity.Directory
	// HandleResolverURL, when set, resolves handles with
	// com.atproto.identity.resolveHandle there (HANDLE_RESOLVER_URL).
	HandleResolverURL string
	// OnAuthorized is called when an account has authorized alf, after its
	// session is stored and before the user is answered; the node appends
	// AccountAuthorized there. An error answers the callback with 500 (the
	// user can start again; the stored session stays).
	OnAuthorized func(ctx context.Context, a Authorization) error
	// Log receives failures the user is not shown in full (default
	// slog.Default()). Nothing secret is logged.
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Authorization says that an account authorized alf with OAuth.
type Authorization struct {
	DID syntax.DID
	// Host is the PDS the session writes to (the account's
	// #atproto_pds service endpoint).
	Host string
	// Scopes are the scopes granted, which may be fewer than asked for.
	Scopes []string
}

// Client is alf as an atproto OAuth client. It is safe for concurrent use;
// make one per process. Every gateway and publisher of a deployment may run
// its own: they share the client key, pending requests and sessions in KV.
type Client struct {
	cfg      oauth.ClientConfig
	app      *oauth.ClientApp
	store    *store
	key      clientKey
	hc       *http.Client
	service  string   // ServiceURL without trailing slash
	origin   string   // ServiceURL's origin
	origins  []string // allowed redirect origins, normalized
	resolver string
	hook     func(context.Context, Authorization) error
	log      *slog.Logger
	now      func() time.Time
}

// New returns the Client of cfg. For an https ServiceURL it loads the
// deployment's client key from KV, creating it on first use.
func New(ctx context.Context, cfg Config) (*Client, error) {
	base, err := parseServiceURL(cfg.ServiceURL)
	if err != nil {
		return nil, err
	}
	if cfg.Buckets.Keys == nil || cfg.Buckets.Requests == nil || cfg.Buckets.Sessions == nil {
		return nil, errors.New("oauth: Buckets must all be set (OpenBuckets)")
	}
	origins, err := parseOrigins(cfg.RedirectOrigins)
	if err != nil {
		return nil, err
	}
	c := &Client{
		hc:       cfg.HTTPClient,
		service:  strings.TrimSuffix(base.String(), "/"),
		origin:   origin(base),
		origins:  origins,
		resolver: strings.TrimSuffix(cfg.HandleResolverURL, "/"),
		hook:     cfg.OnAuthorized,
		log:      cfg.Log,
		now:      cfg.Now,
	}
	c.setDefaults()
	c.store = &store{requests: cfg.Buckets.Requests, sessions: cfg.Buckets.Sessions, key: cfg.Key, now: c.now, requestTTL: events.OAuthRequestTTL}
	if err := c.configure(ctx, cfg, base); err != nil {
		return nil, err
	}
	c.app = c.newApp(cfg.Directory)
	return c, nil
}

func parseServiceURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oauth: service URL %q must be an absolute http(s) URL without query", s)
	}
	return u, nil
}

// configure makes alf a confidential client (https service URL, with the
// deployment's client key) or a loopback one (http).
func (c *Client) configure(ctx context.Context, cfg Config, base *url.URL) error {
	scopes, wide := Scopes(cfg.Collections)
	if wide {
		c.log.Warn("oauth: ALLOWED_COLLECTIONS has a prefix; atproto permissions cannot say that, so alf asks for every collection", "collections", cfg.Collections)
	}
	if base.Scheme == "http" {
		c.cfg = oauth.NewLocalhostConfig(loopbackCallback(base), scopes)
		c.cfg.UserAgent = userAgent
		return nil
	}
	key, err := loadClientKey(ctx, cfg.Buckets.Keys, cfg.Key, c.now())
	if err != nil {
		return fmt.Errorf("oauth: %w", err)
	}
	c.key = key
	c.cfg = oauth.NewPublicConfig(c.service+metadataPath, c.service+callbackPath, scopes)
	c.cfg.UserAgent = userAgent
	if err := c.cfg.SetClientSecret(key.priv, key.id); err != nil {
		return fmt.Errorf("oauth: %w", err)
	}
	return nil
}

func (c *Client) setDefaults() {
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second, Transport: ssrf.PublicOnlyTransport()}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
}

func (c *Client) newApp(dir identity.Directory) *oauth.ClientApp {
	app := oauth.NewClientApp(&c.cfg, c.store)
	app.Client = c.hc
	app.Resolver.Client = c.hc
	app.Resolver.UserAgent = userAgent
	if dir != nil {
		app.Dir = dir
	}
	return app
}

// loopbackCallback is the redirect URI of a loopback client:
// http://127.0.0.1[:port]/oauth/callback (authorization servers refuse
// "localhost" there).
func loopbackCallback(base *url.URL) string {
	host := "127.0.0.1"
	if p := base.Port(); p != "" {
		host += ":" + p
	}
	return "http://" + host + callbackPath
}

// ClientID is the client_id alf presents to authorization servers.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// Scope is the space-separated scope alf asks for.
func (c *Client) Scope() string { return scopeString(c.cfg.Scopes) }

// Confidential reports whether alf authenticates to authorization servers
// with its client key (an https ServiceURL).
func (c *Client) Confidential() bool { return c.cfg.IsConfidential() }

// Authorized reports whether alf holds a live OAuth session for did: one
// was stored and its grant has not been found revoked.
func (c *Client) Authorized(ctx context.Context, did syntax.DID) (bool, error) {
	sess, _, err := c.store.session(ctx, did)
	if errors.Is(err, ErrNotAuthorized) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !sess.revoked(), nil
}

// APIClient returns an indigo API client for did's PDS that authorizes its
// requests with did's OAuth session, refreshing the tokens as needed. Its
// errors match ErrNotAuthorized, ErrRevoked or ErrTemporary where they
// apply. Use one per task: it holds the session as it was loaded and
// renews it through KV.
func (c *Client) APIClient(ctx context.Context, did syntax.DID) (*atclient.APIClient, error) {
	sess, rev, err := c.store.session(ctx, did)
	if err != nil {
		return nil, err
	}
	if sess.revoked() {
		return nil, revoked(did, nil)
	}
	auth, err := c.newSessionAuth(did, sess, rev)
	if err != nil {
		return nil, err
	}
	return &atclient.APIClient{
		Client:     c.hc,
		Host:       sess.Data.HostURL,
		Auth:       auth,
		Headers:    http.Header{"User-Agent": []string{userAgent}},
		AccountDID: &did,
	}, nil
}

// PDSClient returns a pds.Client writing did's repository through its
// OAuth session (APIClient wrapped by pds.NewOAuthClient).
func (c *Client) PDSClient(ctx context.Context, did syntax.DID) (pds.Client, error) {
	api, err := c.APIClient(ctx, did)
	if err != nil {
		return nil, err
	}
	return pds.NewOAuthClient(did, api), nil
}

// Delete forgets did's session, after asking the authorization server to
// revoke its tokens (best effort). Deleting a missing session is not an
// error.
func (c *Client) Delete(ctx context.Context, did syntax.DID) error {
	sess, _, err := c.store.session(ctx, did)
	if errors.Is(err, ErrNotAuthorized) {
		return c.store.deleteSession(ctx, did)
	}
	if err != nil {
		return err
	}
	if !sess.revoked() && sess.Data.AuthServerRevocationEndpoint != "" {
		c.revoke(ctx, sess)
	}
	return c.store.deleteSession(ctx, did)
}

// revoke asks the authorization server to revoke sess's tokens; failures
// are logged only: the session is forgotten either way.
func (c *Client) revoke(ctx context.Context, sess storedSession) {
	key, err := atcrypto.ParsePrivateMultibase(sess.Data.DPoPPrivateKeyMultibase)
	if err != nil {
		return
	}
	data := sess.Data
	cs := &oauth.ClientSession{Client: c.hc, Config: &c.cfg, Data: &data, DPoPPrivateKey: key}
	if err := cs.RevokeSession(ctx); err != nil {
		c.log.Info("oauth: token revocation failed", "did", data.AccountDID, "err", err)
	}
}
