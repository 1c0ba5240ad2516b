package config_test

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/latency-fabric/alf/internal/config"
	"github.com/latency-fabric/alf/internal/seal"
)

const (
	goodKey = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"
	// secretish is part of every bad ENCRYPTION_KEY below; no error may
	// contain it.
	secretish = "c0ffee"
)

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func defaults() config.Config {
	return config.Config{
		Port:              1986,
		ServiceURL:        "http://localhost:1986",
		ServiceDID:        "did:web:localhost%3A1986",
		PLCRoot:           "https://plc.directory",
		HandleResolverURL: "https://api.bsky.app",
		LogLevel:          slog.LevelInfo,
		DataDir:           "./data",

		RateLimitPerIP:      config.DefaultRateLimitPerIP,
		RateLimitPerAccount: config.DefaultRateLimitPerAccount,
	}
}

func TestLoadGood(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		edit func(*config.Config)
	}{
		{"defaults", nil, func(*config.Config) {}},
		{"PORT", map[string]string{"PORT": "3005"}, func(c *config.Config) {
			c.Port, c.ServiceURL, c.ServiceDID = 3005, "http://localhost:3005", "did:web:localhost%3A3005"
		}},
		{"ALF_PORT wins over PORT", map[string]string{"ALF_PORT": "4000", "PORT": "3005"}, func(c *config.Config) {
			c.Port, c.ServiceURL, c.ServiceDID = 4000, "http://localhost:4000", "did:web:localhost%3A4000"
		}},
		{"port with spaces", map[string]string{"PORT": " 8080 "}, func(c *config.Config) {
			c.Port, c.ServiceURL, c.ServiceDID = 8080, "http://localhost:8080", "did:web:localhost%3A8080"
		}},
		{"SERVICE_URL", map[string]string{"SERVICE_URL": "https://alf.example.com/"}, func(c *config.Config) {
			c.ServiceURL, c.ServiceDID = "https://alf.example.com", "did:web:alf.example.com"
		}},
		{"ALF_SERVICE_URL wins", map[string]string{"ALF_SERVICE_URL": "https://a.example", "SERVICE_URL": "https://b.example"}, func(c *config.Config) {
			c.ServiceURL, c.ServiceDID = "https://a.example", "did:web:a.example"
		}},
		{"service URL with path", map[string]string{"ALF_SERVICE_URL": "https://x.example/alf//"}, func(c *config.Config) {
			c.ServiceURL, c.ServiceDID = "https://x.example/alf", "did:web:x.example"
		}},
		{"ALF_SERVICE_DID", map[string]string{"ALF_SERVICE_DID": "did:web:alf.example.com"}, func(c *config.Config) {
			c.ServiceDID = "did:web:alf.example.com"
		}},
		{"ALF_SERVICE_DID with fragment", map[string]string{"ALF_SERVICE_DID": "did:plc:ewvi7nxzyoun6zhxrhs64oiz#alf"}, func(c *config.Config) {
			c.ServiceDID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz#alf"
		}},
		{"PLC_ROOT", map[string]string{"PLC_ROOT": "http://localhost:2582/"}, func(c *config.Config) {
			c.PLCRoot = "http://localhost:2582"
		}},
		{"HANDLE_RESOLVER_URL", map[string]string{"HANDLE_RESOLVER_URL": "https://h.example", "PDS_URL": "https://p.example"}, func(c *config.Config) {
			c.HandleResolverURL = "https://h.example"
		}},
		{"PDS_URL fallback", map[string]string{"PDS_URL": "http://localhost:2583"}, func(c *config.Config) {
			c.HandleResolverURL = "http://localhost:2583"
		}},
		{"ENCRYPTION_KEY", map[string]string{"ENCRYPTION_KEY": goodKey}, func(c *config.Config) {
			c.EncryptionKey = goodKey
		}},
		{"LOG_LEVEL debug", map[string]string{"LOG_LEVEL": "debug"}, func(c *config.Config) { c.LogLevel = slog.LevelDebug }},
		{"LOG_LEVEL trace", map[string]string{"LOG_LEVEL": "trace"}, func(c *config.Config) { c.LogLevel = slog.LevelDebug }},
		{"LOG_LEVEL WARN", map[string]string{"LOG_LEVEL": "WARN"}, func(c *config.Config) { c.LogLevel = slog.LevelWarn }},
		{"LOG_LEVEL error", map[string]string{"LOG_LEVEL": "error"}, func(c *config.Config) { c.LogLevel = slog.LevelError }},
		{"LOG_LEVEL fatal", map[string]string{"LOG_LEVEL": "fatal"}, func(c *config.Config) { c.LogLevel = slog.LevelError }},
		{"LOG_LEVEL silent", map[string]string{"LOG_LEVEL": "silent"}, func(c *config.Config) { c.LogLevel = config.LevelSilent }},
		{"NATS_URL", map[string]string{"NATS_URL": "nats://n1:4222, nats://n2:4222,tls://u:p@n3:4222,n4:4222"}, func(c *config.Config) {
			c.NATSURL = "nats://n1:4222, nats://n2:4222,tls://u:p@n3:4222,n4:4222"
		}},
		{"ALF_DATA_DIR", map[string]string{"ALF_DATA_DIR": "/var/lib/alf"}, func(c *config.Config) { c.DataDir = "/var/lib/alf" }},
		{"MAX_DRAFTS_PER_USER", map[string]string{"MAX_DRAFTS_PER_USER": "25"}, func(c *config.Config) { c.MaxDraftsPerUser = 25 }},
		{"DISABLE_RECURRING yes", map[string]string{"DISABLE_RECURRING": "YES"}, func(c *config.Config) { c.DisableRecurring = true }},
		{"DISABLE_RECURRING 0", map[string]string{"DISABLE_RECURRING": "0"}, func(*config.Config) {}},
		{"ALLOWED_REDIRECT_ORIGINS", map[string]string{"ALLOWED_REDIRECT_ORIGINS": "https://App.example.com, http://localhost:5173"}, func(c *config.Config) {
			c.AllowedRedirectOrigins = []string{"https://app.example.com", "http://localhost:5173"}
		}},
		{"RATE_LIMIT_PER_IP 0", map[string]string{"RATE_LIMIT_PER_IP": "0"}, func(c *config.Config) { c.RateLimitPerIP = 0 }},
		{"ALLOW_PRIVATE_CONTENT_URLS true", map[string]string{"ALLOW_PRIVATE_CONTENT_URLS": "true"}, func(c *config.Config) { c.AllowPrivateContentURLs = true }},
		{"ALLOWED_COLLECTIONS *", map[string]string{"ALLOWED_COLLECTIONS": "*"}, func(*config.Config) {}},
		{"ALLOWED_COLLECTIONS list", map[string]string{"ALLOWED_COLLECTIONS": "app.bsky.feed.post, app.bsky.graph.*"}, func(c *config.Config) {
			c.AllowedCollections = []string{"app.bsky.feed.post", "app.bsky.graph.*"}
		}},
		{"POST_PUBLISH_WEBHOOK_URL", map[string]string{"POST_PUBLISH_WEBHOOK_URL": "https://hooks.example.com/x?token=s3cret"}, func(c *config.Config) {
			c.PostPublishWebhookURL = "https://hooks.example.com/x?token=s3cret"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load(getenv(tc.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults()
			tc.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Load =\n %s\nwant\n %s", got, want)
			}
		})
	}
}

func TestLoadBad(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want []string // every one must be in the error
	}{
		{"PORT not a number", map[string]string{"PORT": "abc"}, []string{"PORT:", `"abc"`}},
		{"PORT too large", map[string]string{"PORT": "70000"}, []string{"PORT:", "70000"}},
		{"PORT zero", map[string]string{"PORT": "0"}, []string{"PORT:"}},
		{"PORT negative", map[string]string{"PORT": "-1"}, []string{"PORT:"}},
		{"PORT float", map[string]string{"PORT": "80.5"}, []string{"PORT:"}},
		{"ALF_PORT named", map[string]string{"ALF_PORT": "x", "PORT": "80"}, []string{"ALF_PORT:"}},
		{"SERVICE_URL ftp", map[string]string{"SERVICE_URL": "ftp://x"}, []string{"SERVICE_URL:", "http"}},
		{"ALF_SERVICE_URL relative", map[string]string{"ALF_SERVICE_URL": "alf.example.com"}, []string{"ALF_SERVICE_URL:"}},
		{"SERVICE_URL no host", map[string]string{"SERVICE_URL": "https://"}, []string{"SERVICE_URL:", "host"}},
		{"SERVICE_URL query", map[string]string{"SERVICE_URL": "https://a.example/?x=1"}, []string{"SERVICE_URL:", "query"}},
		{"SERVICE_URL credentials", map[string]string{"SERVICE_URL": "https://u:" + secretish + "@a.example"}, []string{"SERVICE_URL:", "credentials"}},
		{"SERVICE_URL IPv6 host has no did:web", map[string]string{"SERVICE_URL": "http://[::1]:1986"}, []string{"ALF_SERVICE_DID:"}},
		{"ALF_SERVICE_DID not a DID", map[string]string{"ALF_SERVICE_DID": "alf.example.com"}, []string{"ALF_SERVICE_DID:"}},
		{"ALF_SERVICE_DID empty fragment", map[string]string{"ALF_SERVICE_DID": "did:web:a.example#"}, []string{"ALF_SERVICE_DID:"}},
		{"PLC_ROOT not http", map[string]string{"PLC_ROOT": "plc.directory"}, []string{"PLC_ROOT:"}},
		{"HANDLE_RESOLVER_URL bad", map[string]string{"HANDLE_RESOLVER_URL": "ws://x"}, []string{"HANDLE_RESOLVER_URL:"}},
		{"PDS_URL bad", map[string]string{"PDS_URL": "::"}, []string{"PDS_URL:"}},
		{"ENCRYPTION_KEY short", map[string]string{"ENCRYPTION_KEY": secretish + "1234"}, []string{"ENCRYPTION_KEY:", "64 hex"}},
		{"ENCRYPTION_KEY long", map[string]string{"ENCRYPTION_KEY": goodKey + secretish}, []string{"ENCRYPTION_KEY:", "64 hex"}},
		{"ENCRYPTION_KEY non-hex", map[string]string{"ENCRYPTION_KEY": secretish + strings.Repeat("g", 58)}, []string{"ENCRYPTION_KEY:", "non-hex"}},
		{"LOG_LEVEL loud", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL:", `"loud"`}},
		{"DISABLE_RECURRING maybe", map[string]string{"DISABLE_RECURRING": "maybe"}, []string{"DISABLE_RECURRING:", `"maybe"`}},
		{"ALLOWED_REDIRECT_ORIGINS with a path", map[string]string{"ALLOWED_REDIRECT_ORIGINS": "https://app.example.com/back"}, []string{"ALLOWED_REDIRECT_ORIGINS:", "not an origin"}},
		{"ENCRYPTION_KEYS_OLD short", map[string]string{"ENCRYPTION_KEYS_OLD": strings.Repeat("a", 64) + ",abc"}, []string{"ENCRYPTION_KEYS_OLD:", "key 2"}},
		{"RATE_LIMIT_PER_IP -1", map[string]string{"RATE_LIMIT_PER_IP": "-1"}, []string{"RATE_LIMIT_PER_IP:", `"-1"`}},
		{"RATE_LIMIT_PER_ACCOUNT many", map[string]string{"RATE_LIMIT_PER_ACCOUNT": "many"}, []string{"RATE_LIMIT_PER_ACCOUNT:", `"many"`}},
		{"ALLOW_PRIVATE_CONTENT_URLS maybe", map[string]string{"ALLOW_PRIVATE_CONTENT_URLS": "maybe"}, []string{"ALLOW_PRIVATE_CONTENT_URLS:", `"maybe"`}},
		{"MAX_DRAFTS_PER_USER words", map[string]string{"MAX_DRAFTS_PER_USER": "ten"}, []string{"MAX_DRAFTS_PER_USER:", `"ten"`}},
		{"MAX_DRAFTS_PER_USER zero", map[string]string{"MAX_DRAFTS_PER_USER": "0"}, []string{"MAX_DRAFTS_PER_USER:", "at least 1"}},
		{"MAX_DRAFTS_PER_USER fraction", map[string]string{"MAX_DRAFTS_PER_USER": "2.5"}, []string{"MAX_DRAFTS_PER_USER:"}},
		{"ALLOWED_COLLECTIONS bad", map[string]string{"ALLOWED_COLLECTIONS": "app.bsky.feed.post,not a nsid"}, []string{"ALLOWED_COLLECTIONS:", `"not a nsid"`}},
		{"POST_PUBLISH_WEBHOOK_URL bad", map[string]string{"POST_PUBLISH_WEBHOOK_URL": "ftp://x"}, []string{"POST_PUBLISH_WEBHOOK_URL:"}},
		{"NATS_URL http", map[string]string{"NATS_URL": "nats://ok:4222,http://u:" + secretish + "@x"}, []string{"NATS_URL:", "server 2"}},
		{"NATS_URL empty entry", map[string]string{"NATS_URL": "nats://ok:4222,"}, []string{"NATS_URL:", "server 2"}},
		{"every problem at once", map[string]string{"PORT": "abc", "LOG_LEVEL": "loud", "ENCRYPTION_KEY": secretish, "PLC_ROOT": "x"},
			[]string{"PORT:", "LOG_LEVEL:", "ENCRYPTION_KEY:", "PLC_ROOT:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(getenv(tc.env))
			if err == nil {
				t.Fatal("Load accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secretish) {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

func TestRequireEncryptionKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key string
		ok  bool
	}{{"", false}, {goodKey, true}, {strings.ToLower(goodKey), true}}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("len%d", len(tc.key)), func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(getenv(map[string]string{"ENCRYPTION_KEY": tc.key}))
			if err != nil {
				t.Fatal(err)
			}
			err = c.RequireEncryptionKey()
			if (err == nil) != tc.ok {
				t.Fatalf("RequireEncryptionKey = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "ENCRYPTION_KEY") {
				t.Fatalf("error %q does not name ENCRYPTION_KEY", err)
			}
		})
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	c, err := config.Load(getenv(map[string]string{
		"ENCRYPTION_KEY": goodKey,
		"NATS_URL":       "nats://alf:" + secretish + "@n1:4222,alf:" + secretish + "@n2:4222",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", c)
	for name, out := range map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "slog": logged.String(),
	} {
		if strings.Contains(out, goodKey) || strings.Contains(strings.ToLower(out), strings.ToLower(goodKey[:16])) || strings.Contains(out, secretish) {
			t.Errorf("%s output %q contains a secret", name, out)
		}
		if !strings.Contains(out, "encryption_key") {
			t.Errorf("%s output %q does not mention the key", name, out)
		}
	}
}

func TestLoadJoinsErrors(t *testing.T) {
	t.Parallel()
	_, err := config.Load(getenv(map[string]string{"PORT": "abc", "LOG_LEVEL": "loud"}))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Fatalf("error %v does not join 2 problems", err)
	}
}

func TestCollectionAllowed(t *testing.T) {
	t.Parallel()
	all := config.Config{}
	some := config.Config{AllowedCollections: []string{"app.bsky.feed.post", "app.bsky.graph.*"}}
	for _, tc := range []struct {
		cfg  config.Config
		nsid string
		want bool
	}{
		{all, "com.example.anything", true},
		{some, "app.bsky.feed.post", true},
		{some, "app.bsky.feed.like", false},
		{some, "app.bsky.graph.follow", true},
		{some, "app.bsky.graphs.x", false},
	} {
		if got := tc.cfg.CollectionAllowed(tc.nsid); got != tc.want {
			t.Errorf("CollectionAllowed(%s) with %v = %v", tc.nsid, tc.cfg.AllowedCollections, got)
		}
	}
}

// Key opens what the old keys sealed, seals with ENCRYPTION_KEY.
func TestKeyWithOldKeys(t *testing.T) {
	t.Parallel()
	old, oldHex := seal.NewKey()
	_, curHex := seal.NewKey()
	c, err := config.Load(getenv(map[string]string{"ENCRYPTION_KEY": curHex, "ENCRYPTION_KEYS_OLD": oldHex}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.String(), oldHex) || !strings.Contains(c.String(), "encryption_keys_old=1") {
		t.Fatalf("String() = %s", c)
	}
	key, err := c.Key("")
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := old.Seal([]byte("x"))
	if plain, err := key.Open(sealed); err != nil || string(plain) != "x" {
		t.Fatalf("Open of the old key's value: %q, %v", plain, err)
	}
}
