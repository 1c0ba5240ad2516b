// Package config reads alf's configuration from environment variables, with
// the reference service's names and defaults (spec §2), strictly: a value
// that does not parse is an error naming its variable, never a silent
// default. Errors never contain the value of a secret.
//
//	cfg, err := config.Load(os.Getenv)
//	if err != nil {
//		return fmt.Errorf("configuration: %w", err) // every problem, joined
//	}
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/seal"
)

// Defaults for unset variables.
const (
	DefaultPort              = 1986
	DefaultPLCRoot           = "https://plc.directory"
	DefaultHandleResolverURL = "https://api.bsky.app"
	DefaultDataDir           = "./data"
)

// LevelSilent is the LOG_LEVEL "silent" (pino's name for no logging): above
// every level alf logs at.
const LevelSilent = slog.Level(100)

// Config is alf's configuration.
type Config struct {
	Port              int    // ALF_PORT then PORT, default 1986
	ServiceURL        string // ALF_SERVICE_URL then SERVICE_URL, default http://localhost:<Port>; absolute http(s), no trailing slash
	ServiceDID        string // ALF_SERVICE_DID, default auth.ServiceDID(ServiceURL)
	PLCRoot           string // PLC_ROOT, default https://plc.directory
	HandleResolverURL string // HANDLE_RESOLVER_URL then PDS_URL, default https://api.bsky.app
	EncryptionKey     string // ENCRYPTION_KEY: 64 hex characters, or "" (see RequireEncryptionKey)
	// EncryptionKeysOld are earlier ENCRYPTION_KEYs that still open what
	// they sealed (ENCRYPTION_KEYS_OLD, comma-separated), after a rotation.
	EncryptionKeysOld []string
	LogLevel          slog.Level // LOG_LEVEL, default info
	NATSURL           string     // NATS_URL; empty means an embedded server
	DataDir           string     // ALF_DATA_DIR, default ./data

	// MaxDraftsPerUser caps an account's active drafts (MAX_DRAFTS_PER_USER,
	// a whole number ≥ 1); 0 means no cap.
	MaxDraftsPerUser int
	// AllowedCollections are the NSIDs (or NSID prefixes ending in ".*")
	// that may be written (ALLOWED_COLLECTIONS, comma-separated, default
	// "*": all).
	AllowedCollections []string
	// PostPublishWebhookURL is POSTed after each publish
	// (POST_PUBLISH_WEBHOOK_URL); "" for none. It may hold a secret: it is
	// never printed whole.
	PostPublishWebhookURL string
	// DisableRecurring refuses recurring schedules (DISABLE_RECURRING:
	// true/1/yes or false/0/no, any case).
	DisableRecurring bool
	// AllowedRedirectOrigins are the origins (scheme://host[:port]) that
	// /oauth/authorize may send a user back to, besides SERVICE_URL's own
	// (ALLOWED_REDIRECT_ORIGINS, comma-separated).
	AllowedRedirectOrigins []string
	// RateLimitPerIP and RateLimitPerAccount are the requests a minute one
	// client address and one account may make (RATE_LIMIT_PER_IP, default
	// 1200; RATE_LIMIT_PER_ACCOUNT, default 600; 0 turns a limit off).
	RateLimitPerIP, RateLimitPerAccount int
	// AllowPrivateContentURLs lets schedules fetch content from loopback,
	// private and link-local addresses (ALLOW_PRIVATE_CONTENT_URLS, same
	// values as DISABLE_RECURRING); off by default.
	AllowPrivateContentURLs bool
	// PostPublishWebhookSecret signs each webhook body
	// (POST_PUBLISH_WEBHOOK_SECRET, header X-Alf-Signature: sha256=<hex
	// HMAC>); "" sends no signature.
	PostPublishWebhookSecret string
}

// env looks variables up, trimming surrounding white space.
type env func(string) string

// first returns the first of names that is set, and its value.
func (e env) first(names ...string) (name, value string) {
	for _, n := range names {
		if v := strings.TrimSpace(e(n)); v != "" {
			return n, v
		}
	}
	return names[0], ""
}

// Load reads the configuration through getenv (os.Getenv in production).
// The error joins every problem found.
func Load(getenv func(string) string) (Config, error) {
	e := env(getenv)
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var c Config
	var err, urlErr error
	c.Port, err = parsePort(e)
	keep(err)
	c.ServiceURL, urlErr = baseURL(e, fmt.Sprintf("http://localhost:%d", c.Port), "ALF_SERVICE_URL", "SERVICE_URL")
	keep(urlErr)
	c.ServiceDID, err = parseServiceDID(e, c.ServiceURL, urlErr == nil)
	keep(err)
	c.PLCRoot, err = baseURL(e, DefaultPLCRoot, "PLC_ROOT")
	keep(err)
	c.HandleResolverURL, err = baseURL(e, DefaultHandleResolverURL, "HANDLE_RESOLVER_URL", "PDS_URL")
	keep(err)
	_, c.EncryptionKey = e.first("ENCRYPTION_KEY")
	c.EncryptionKeysOld, err = parseOldKeys(e)
	keep(err)
	keep(checkEncryptionKey(c.EncryptionKey))
	c.LogLevel, err = parseLogLevel(e)
	keep(err)
	_, c.NATSURL = e.first("NATS_URL")
	keep(checkNATSURL(c.NATSURL))
	if _, c.DataDir = e.first("ALF_DATA_DIR"); c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	_, c.PostPublishWebhookSecret = e.first("POST_PUBLISH_WEBHOOK_SECRET")
	c.DisableRecurring, err = parseBool(e, "DISABLE_RECURRING")
	keep(err)
	c.AllowPrivateContentURLs, err = parseBool(e, "ALLOW_PRIVATE_CONTENT_URLS")
	keep(err)
	c.MaxDraftsPerUser, err = parseMaxDrafts(e)
	keep(err)
	c.AllowedRedirectOrigins, err = parseOrigins(e)
	keep(err)
	c.RateLimitPerIP, err = parseRate(e, "RATE_LIMIT_PER_IP", DefaultRateLimitPerIP)
	keep(err)
	c.RateLimitPerAccount, err = parseRate(e, "RATE_LIMIT_PER_ACCOUNT", DefaultRateLimitPerAccount)
	keep(err)
	c.AllowedCollections, err = parseCollections(e)
	keep(err)
	if _, c.PostPublishWebhookURL = e.first("POST_PUBLISH_WEBHOOK_URL"); c.PostPublishWebhookURL != "" {
		// A query may carry the receiver's token: allowed here, never printed.
		if u, err := url.Parse(c.PostPublishWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			keep(errors.New("POST_PUBLISH_WEBHOOK_URL: must be an absolute http(s) URL"))
		}
	}
	return c, errors.Join(errs...)
}

// parseBool reads a yes/no variable strictly; unset is no.
func parseBool(e env, name string) (bool, error) {
	_, v := e.first(name)
	switch strings.ToLower(v) {
	case "", "false", "0", "no":
		return false, nil
	case "true", "1", "yes":
		return true, nil
	}
	return false, fmt.Errorf("%s: %q is not one of true, 1, yes, false, 0, no", name, v)
}

// parseMaxDrafts reads MAX_DRAFTS_PER_USER strictly: unset is no cap, a
// whole number ≥ 1 is the cap, anything else is an error (the reference
// took "abc" as no cap and "0" as refusing every write).
func parseMaxDrafts(e env) (int, error) {
	name, v := e.first("MAX_DRAFTS_PER_USER")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: %q is not a whole number of at least 1 (unset it for no limit)", name, v)
	}
	return n, nil
}

// parseOrigins reads ALLOWED_REDIRECT_ORIGINS: origins such as
// https://app.example.com, comma-separated.
func parseOrigins(e env) ([]string, error) {
	name, v := e.first("ALLOWED_REDIRECT_ORIGINS")
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%s: %q is not an origin (scheme://host[:port], nothing after)", name, o)
		}
		out = append(out, u.Scheme+"://"+strings.ToLower(u.Host))
	}
	return out, nil
}

// Default request rates, a minute.
const (
	DefaultRateLimitPerIP      = 1200
	DefaultRateLimitPerAccount = 600
)

// parseRate reads a requests-a-minute limit: a whole number, 0 for none.
func parseRate(e env, key string, def int) (int, error) {
	name, v := e.first(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a whole number of requests a minute (0 for no limit)", name, v)
	}
	return n, nil
}

// parseCollections reads ALLOWED_COLLECTIONS: "*" (the default), or a
// comma-separated list of NSIDs and NSID prefixes such as "app.bsky.feed.*".
func parseCollections(e env) ([]string, error) {
	name, v := e.first("ALLOWED_COLLECTIONS")
	if v == "" || v == "*" {
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		base := strings.TrimSuffix(c, ".*")
		if base != c && strings.Count(base, ".") >= 1 {
			out = append(out, c)
			continue
		}
		if _, err := syntax.ParseNSID(c); err != nil {
			return nil, fmt.Errorf("%s: %q is not an NSID or an NSID prefix like app.bsky.feed.*", name, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// CollectionAllowed reports whether ALLOWED_COLLECTIONS lets alf write nsid.
func (c Config) CollectionAllowed(nsid string) bool {
	if len(c.AllowedCollections) == 0 {
		return true
	}
	for _, a := range c.AllowedCollections {
		if a == nsid || strings.HasSuffix(a, ".*") && strings.HasPrefix(nsid, strings.TrimSuffix(a, "*")) {
			return true
		}
	}
	return false
}

// RequireEncryptionKey reports an error when ENCRYPTION_KEY is unset; the
// split binaries need the key they share and cannot make one up.
func (c Config) RequireEncryptionKey() error {
	if c.EncryptionKey == "" {
		return errors.New("ENCRYPTION_KEY: required (64 hex characters, a 32-byte key)")
	}
	return checkEncryptionKey(c.EncryptionKey)
}

// parsePort returns the port, DefaultPort when unset or invalid.
func parsePort(e env) (int, error) {
	name, v := e.first("ALF_PORT", "PORT")
	if v == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return DefaultPort, fmt.Errorf("%s: %q is not a port number (1-65535)", name, v)
	}
	return p, nil
}

// parseServiceDID returns ALF_SERVICE_DID, or the did:web of serviceURL
// when it is unset (and serviceURL is valid).
func parseServiceDID(e env, serviceURL string, urlValid bool) (string, error) {
	name, v := e.first("ALF_SERVICE_DID")
	if v == "" {
		if !urlValid {
			return "", nil
		}
		did, err := auth.ServiceDID(serviceURL)
		if err != nil {
			return "", fmt.Errorf("%s: unset, and the service URL gives no did:web: %w", name, err)
		}
		return did, nil
	}
	did, fragment, hasFragment := strings.Cut(v, "#")
	if _, err := syntax.ParseDID(did); err != nil || (hasFragment && fragment == "") {
		return v, fmt.Errorf("%s: %q is not a DID (with an optional #fragment)", name, v)
	}
	return v, nil
}

// baseURL reads an absolute http(s) URL from the first set of names, or
// returns def.
func baseURL(e env, def string, names ...string) (string, error) {
	name, v := e.first(names...)
	if v == "" {
		return def, nil
	}
	u, err := checkHTTPURL(v)
	if err != nil {
		return u, fmt.Errorf("%s: %w", name, err)
	}
	return u, nil
}

// checkHTTPURL returns raw without trailing slashes when it is an absolute
// http(s) URL with a host, no credentials, query or fragment, and "" with
// an error otherwise. Its errors do not repeat the value, which could hold
// credentials.
func checkHTTPURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("must be an absolute http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New("URL has no host")
	case u.User != nil:
		return "", errors.New("URL must not contain credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("URL must not have a query or fragment")
	}
	return strings.TrimRight(raw, "/"), nil
}

// parseOldKeys reads ENCRYPTION_KEYS_OLD: 64-hex-character keys,
// comma-separated. Errors never contain a key.
func parseOldKeys(e env) ([]string, error) {
	name, v := e.first("ENCRYPTION_KEYS_OLD")
	if v == "" {
		return nil, nil
	}
	var out []string
	for i, k := range strings.Split(v, ",") {
		k = strings.TrimSpace(k)
		if err := checkEncryptionKey(k); err != nil || k == "" {
			return nil, fmt.Errorf("%s: key %d of the list is not 64 hex characters", name, i+1)
		}
		out = append(out, k)
	}
	return out, nil
}

// Key is the sealing key: ENCRYPTION_KEY (or key, when it is empty and
// cmd/alf keeps one in its data dir), opening what the old keys sealed too.
func (c Config) Key(key string) (seal.Key, error) {
	if key == "" {
		key = c.EncryptionKey
	}
	k, err := seal.ParseKey(key)
	if err != nil {
		return seal.Key{}, err
	}
	old := make([]seal.Key, 0, len(c.EncryptionKeysOld))
	for i, o := range c.EncryptionKeysOld {
		ok, err := seal.ParseKey(o)
		if err != nil {
			return seal.Key{}, fmt.Errorf("ENCRYPTION_KEYS_OLD: key %d: %w", i+1, err)
		}
		old = append(old, ok)
	}
	return k.WithOld(old...), nil
}

// checkEncryptionKey accepts "" or exactly 64 hex characters. Its errors
// never contain the key.
func checkEncryptionKey(key string) error {
	if key == "" {
		return nil
	}
	if len(key) != 64 {
		return fmt.Errorf("ENCRYPTION_KEY: must be 64 hex characters (a 32-byte key), got %d characters", len(key))
	}
	if _, err := hex.DecodeString(key); err != nil {
		return errors.New("ENCRYPTION_KEY: must be 64 hex characters (a 32-byte key), has a non-hex character")
	}
	return nil
}

var logLevels = map[string]slog.Level{
	"trace":  slog.LevelDebug,
	"debug":  slog.LevelDebug,
	"info":   slog.LevelInfo,
	"warn":   slog.LevelWarn,
	"error":  slog.LevelError,
	"fatal":  slog.LevelError,
	"silent": LevelSilent,
}

func parseLogLevel(e env) (slog.Level, error) {
	name, v := e.first("LOG_LEVEL")
	if v == "" {
		return slog.LevelInfo, nil
	}
	l, ok := logLevels[strings.ToLower(v)]
	if !ok {
		return slog.LevelInfo, fmt.Errorf("%s: %q is not one of trace, debug, info, warn, error, fatal, silent", name, v)
	}
	return l, nil
}

// natsSchemes are the URL schemes nats.go dials.
var natsSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

// checkNATSURL accepts "" or a comma-separated list of NATS server URLs
// (a bare host:port means nats://). Its errors do not repeat the value,
// which may hold credentials.
func checkNATSURL(list string) error {
	if list == "" {
		return nil
	}
	for i, s := range strings.Split(list, ",") {
		u, err := url.Parse(withNATSScheme(s))
		if err != nil || !natsSchemes[u.Scheme] || u.Hostname() == "" {
			return fmt.Errorf("NATS_URL: server %d of the list is not a nats://, tls://, ws:// or wss:// URL with a host", i+1)
		}
	}
	return nil
}

// String describes c for people, without the encryption key or NATS
// credentials.
func (c Config) String() string {
	return fmt.Sprintf("port=%d service_url=%s service_did=%s plc_root=%s handle_resolver_url=%s encryption_key=%s encryption_keys_old=%d log_level=%s nats_url=%s data_dir=%s max_drafts_per_user=%d allowed_collections=%v post_publish_webhook_url=%s post_publish_webhook_secret=%s disable_recurring=%t allow_private_content_urls=%t allowed_redirect_origins=%v rate_limit_per_ip=%d rate_limit_per_account=%d",
		c.Port, c.ServiceURL, c.ServiceDID, c.PLCRoot, c.HandleResolverURL, setOrUnset(c.EncryptionKey), len(c.EncryptionKeysOld), c.LogLevel, redactNATS(c.NATSURL), c.DataDir,
		c.MaxDraftsPerUser, c.AllowedCollections, setOrUnset(c.PostPublishWebhookURL), setOrUnset(c.PostPublishWebhookSecret), c.DisableRecurring, c.AllowPrivateContentURLs, c.AllowedRedirectOrigins, c.RateLimitPerIP, c.RateLimitPerAccount)
}

// GoString is String for %#v, so no format verb prints the key.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

// LogValue logs c without the encryption key or NATS credentials.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("service_url", c.ServiceURL),
		slog.String("service_did", c.ServiceDID),
		slog.String("plc_root", c.PLCRoot),
		slog.String("handle_resolver_url", c.HandleResolverURL),
		slog.String("encryption_key", setOrUnset(c.EncryptionKey)),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("nats_url", redactNATS(c.NATSURL)),
		slog.String("data_dir", c.DataDir),
	)
}

func setOrUnset(secret string) string {
	if secret == "" {
		return "unset"
	}
	return "set"
}

// redactNATS replaces user info in each server URL of the list.
func redactNATS(list string) string {
	if list == "" {
		return "embedded"
	}
	parts := strings.Split(list, ",")
	for i, s := range parts {
		u, err := url.Parse(withNATSScheme(s))
		switch {
		case err != nil:
			parts[i] = "(invalid)"
		case u.User != nil:
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// withNATSScheme trims s and gives a bare host:port the nats:// scheme, as
// nats.go does.
func withNATSScheme(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		return "nats://" + s
	}
	return s
}
