package content_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/content"
)

func TestFetchSetsParamsAndReturnsBody(t *testing.T) {
	t.Parallel()
	const body = "  {\"$type\": \"app.bsky.feed.post\",\n \"text\": \"h\u00e9llo \\u00e9\", \"n\": 1.50}\n"
	tests := []struct {
		name      string
		query     string // of the content URL, without "?"
		wantQuery string // as the server receives it
	}{
		{"no query", "", "fireCount=7&scheduledAt=" + url.QueryEscape(t0Param)},
		{"others kept in order and encoding", "z=1&a=x%20y&empty=&flag",
			"z=1&a=x%20y&empty=&flag&fireCount=7&scheduledAt=" + url.QueryEscape(t0Param)},
		{"ours replaced", "fireCount=99&keep=1&scheduledAt=2020-01-01T00:00:00Z&fireCount=98",
			"keep=1&fireCount=7&scheduledAt=" + url.QueryEscape(t0Param)},
		{"escaped names replaced", "%66ireCount=5&scheduled%41t=x&b=2",
			"b=2&fireCount=7&scheduledAt=" + url.QueryEscape(t0Param)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reqs := make(chan *http.Request, 1)
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				reqs <- r
				answer(200, body)(w, r)
			})
			rawURL := srv.URL + "/feed/next"
			if tt.query != "" {
				rawURL += "?" + tt.query
			}

			b, err := loopbackFetcher(content.Config{}).Fetch(testContext(t), rawURL+"#frag", 7, t0)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != body {
				t.Errorf("body = %q, want %q byte for byte", b, body)
			}
			got := <-reqs
			if got.Method != http.MethodGet || got.URL.Path != "/feed/next" {
				t.Errorf("request = %s %s, want GET /feed/next", got.Method, got.URL.Path)
			}
			if got.URL.RawQuery != tt.wantQuery {
				t.Errorf("query = %q, want %q", got.URL.RawQuery, tt.wantQuery)
			}
			if q := got.URL.Query(); q.Get("fireCount") != "7" || q.Get("scheduledAt") != t0Param {
				t.Errorf("params = %v, want fireCount 7, scheduledAt %s", q, t0Param)
			}
			if a := got.Header.Get("Accept"); a != "application/json" {
				t.Errorf("Accept = %q, want application/json", a)
			}
		})
	}
}

func TestFetchStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		body      string
		temporary bool
	}{
		{503, `{"error":"busy"}`, true},
		{500, ``, true},
		{502, ``, true},
		{429, ``, true},
		{408, ``, true},
		{404, `{"error":"gone"}`, false},
		{400, ``, false},
		{401, ``, false},
		{403, ``, false},
		{301, ``, false}, // no Location: not a redirect to follow
		{204, ``, false}, // no body: not an object
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, answer(tt.status, tt.body))

			_, err := loopbackFetcher(content.Config{}).Fetch(testContext(t), srv.URL, 1, t0)
			cerr := asError(t, err)
			if cerr.Status != tt.status || cerr.Temporary != tt.temporary {
				t.Errorf("status %d, temporary %v; want %d, %v (%v)", cerr.Status, cerr.Temporary, tt.status, tt.temporary, err)
			}
			want := fmt.Sprintf("answered %d", tt.status)
			if tt.status == 204 {
				want = "did not answer a JSON object"
			}
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), srv.Listener.Addr().String()) {
				t.Errorf("error %q does not name the host and say %q", err, want)
			}
		})
	}
}

func TestFetchBodySize(t *testing.T) {
	t.Parallel()
	const maxBytes = 64
	tests := []struct {
		name    string
		size    int
		chunked bool // no Content-Length, so only the read sees the size
		wantErr bool
	}{
		{"exactly MaxBytes", maxBytes, false, false},
		{"exactly MaxBytes, chunked", maxBytes, true, false},
		{"MaxBytes+1", maxBytes + 1, false, true},
		{"MaxBytes+1, chunked", maxBytes + 1, true, true},
		{"far larger, chunked", 10 * maxBytes, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{"a":"` + strings.Repeat("x", tt.size-8) + `"}`
			srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.chunked {
					w.(http.Flusher).Flush()
				}
				_, _ = w.Write([]byte(body))
			})

			b, err := loopbackFetcher(content.Config{MaxBytes: maxBytes}).Fetch(testContext(t), srv.URL, 1, t0)
			if !tt.wantErr {
				if err != nil || string(b) != body {
					t.Fatalf("Fetch = %q, %v; want the %d bytes", b, err, tt.size)
				}
				return
			}
			cerr := asError(t, err)
			if cerr.Temporary || cerr.Status != 200 {
				t.Errorf("temporary %v, status %d; want a permanent error of a 200", cerr.Temporary, cerr.Status)
			}
			if want := fmt.Sprintf("larger than %d bytes", maxBytes); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
}

func TestFetchDefaultMaxBytes(t *testing.T) {
	t.Parallel()
	body := `{"a":"` + strings.Repeat("x", content.DefaultMaxBytes) + `"}`
	srv := newServer(t, answer(200, body))

	_, err := loopbackFetcher(content.Config{}).Fetch(testContext(t), srv.URL, 1, t0)
	if err == nil || !strings.Contains(err.Error(), "larger than 1000000 bytes") {
		t.Fatalf("Fetch of %d bytes: error %v, want larger than 1000000 bytes", len(body), err)
	}
}

func TestFetchNotObject(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[{"a":1}]`, `"str"`, `42`, `null`, `true`, ``, ` `, `{"a":1`, `{"a":1} {"b":2}`, `not json`, `<html></html>`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, answer(200, body))

			_, err := loopbackFetcher(content.Config{}).Fetch(testContext(t), srv.URL, 1, t0)
			cerr := asError(t, err)
			if cerr.Temporary || !strings.Contains(err.Error(), "did not answer a JSON object") {
				t.Errorf("error %v (temporary %v), want a permanent not-an-object error", err, cerr.Temporary)
			}
		})
	}
}

func TestFetchNetworkErrors(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name    string
		handler http.HandlerFunc
		closed  bool // the server is gone before the fetch
		want    string
	}{
		{"no answer", hang, false, "did not answer within 200ms"},
		{"body never ends", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"a":`))
			w.(http.Flusher).Flush()
			hang(w, r)
		}, false, "did not answer within 200ms"},
		{"redirect to a server with no answer", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				http.Redirect(w, r, "/slow", http.StatusFound)
				return
			}
			hang(w, r)
		}, false, "did not answer within 200ms"},
		{"connection refused", answer(200, `{}`), true, "could not be fetched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tt.handler)
			if tt.closed {
				srv.Close()
			}

			start := time.Now()
			_, err := loopbackFetcher(content.Config{Timeout: timeout}).Fetch(testContext(t), srv.URL, 1, t0)
			cerr := asError(t, err)
			if !cerr.Temporary || cerr.Status != 0 {
				t.Errorf("temporary %v, status %d; want a temporary error with no status", cerr.Temporary, cerr.Status)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if d := time.Since(start); d > 5*timeout {
				t.Errorf("Fetch took %v with a %v timeout", d, timeout)
			}
		})
	}
}

func TestFetchRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	srv := newServer(t, answer(200, `{}`))
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, rawURL := range []string{
		srv.URL + "/x",
		"http://localhost:" + port + "/x",
		"http://[::1]:" + port + "/x",
		"http://[::ffff:127.0.0.1]:" + port + "/x",
		"http://0.0.0.0:" + port + "/x",
		"http://10.0.0.1/x",
		"http://172.16.5.4/x",
		"http://192.168.1.1/x",
		"http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/x",
		"https://[fd00::1]/x",
		"http://[fe80::1]/x",
	} {
		t.Run(rawURL, func(t *testing.T) {
			t.Parallel()
			_, err := content.New(content.Config{Timeout: 2 * time.Second}).Fetch(testContext(t), rawURL, 1, t0)
			cerr := asError(t, err)
			if cerr.Temporary || !strings.Contains(err.Error(), "private address (") {
				t.Errorf("error %v (temporary %v), want a permanent private-address refusal", err, cerr.Temporary)
			}
		})
	}
	t.Cleanup(func() {
		if n := srv.calls.Load(); n != 0 {
			t.Errorf("the loopback server was called %d times, want never", n)
		}
	})
}

func TestFetchRedirects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		hops      int    // redirects among public URLs before the last, to to
		to        string // last Location; "" for the content itself
		wantErr   string // "" for success
		wantFinal bool   // the server answered /final
	}{
		{"3 redirects", 2, "", "", true},
		{"4 redirects", 3, "", "redirected more than 3 times", false},
		{"to loopback", 1, "http://127.0.0.1:%s/final", "redirected to 127.0.0.1, which is a private address (127.0.0.1)", false},
		{"to localhost", 0, "http://localhost:%s/final", "redirected to localhost, which resolves to a private address", false},
		{"to a private address", 0, "http://10.0.0.1/final", "redirected to 10.0.0.1, which is a private address (10.0.0.1)", false},
		{"to the metadata service", 2, "http://169.254.169.254/final", "private address (169.254.169.254)", false},
		{"to ftp", 0, "ftp://" + publicAddr + "/final", "redirected to a URL that is not http or https", false},
		{"to file", 0, "file:///etc/passwd", "redirected to a URL that is not http or https", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var final atomic.Bool
			var srv *server
			srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
				var n int
				if _, err := fmt.Sscanf(r.URL.Path, "/hop/%d", &n); err == nil && n < tt.hops {
					http.Redirect(w, r, fmt.Sprintf("/hop/%d", n+1), http.StatusFound)
					return
				}
				if r.URL.Path == "/final" {
					final.Store(true)
					answer(200, `{"ok":true}`)(w, r)
					return
				}
				to := "/final"
				if tt.to != "" {
					to = tt.to
					if strings.Contains(to, "%s") {
						to = fmt.Sprintf(to, srv.URL[strings.LastIndex(srv.URL, ":")+1:])
					}
				}
				http.Redirect(w, r, to, http.StatusFound)
			})
			var rd redirector
			f := content.New(content.Config{Transport: rd.transport(srv)})

			b, err := f.Fetch(testContext(t), "http://"+publicAddr+"/hop/0", 1, t0)
			if tt.wantErr == "" {
				if err != nil || string(b) != `{"ok":true}` {
					t.Fatalf("Fetch = %q, %v; want the final body", b, err)
				}
			} else {
				cerr := asError(t, err)
				if cerr.Temporary || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v (temporary %v), want a permanent error saying %q", err, cerr.Temporary, tt.wantErr)
				}
			}
			if final.Load() != tt.wantFinal {
				t.Errorf("/final called %v, want %v", final.Load(), tt.wantFinal)
			}
			for _, a := range rd.addrs() {
				if a != publicAddr+":80" {
					t.Errorf("the transport dialed %s; want only the checked %s:80", a, publicAddr)
				}
			}
		})
	}
}

func TestFetchInvalidURL(t *testing.T) {
	t.Parallel()
	for _, rawURL := range []string{
		"",
		"example.com/feed",
		"/feed",
		"ftp://example.com/feed",
		"file:///etc/passwd",
		"mailto:someone@example.com",
		"http:///feed",
		"http://:80/feed",
		"http://[::1/feed",
		"http://example.com/%zz",
	} {
		t.Run(rawURL, func(t *testing.T) {
			t.Parallel()
			_, err := content.New(content.Config{}).Fetch(testContext(t), rawURL, 1, t0)
			if cerr := asError(t, err); cerr.Temporary || cerr.Status != 0 {
				t.Errorf("error %v: temporary %v, status %d; want permanent, no status", err, cerr.Temporary, cerr.Status)
			}
		})
	}
}

// The URL may carry a secret in its userinfo, path or query: no error
// text, however the fetch fails, contains any of it.
func TestErrorsHideTheURL(t *testing.T) {
	t.Parallel()
	const secret = "SECRET"
	const tail = "/" + secret + "/feed?token=" + secret + "&fireCount=" + secret + "#" + secret
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/503/" + secret + "/feed":
			answer(503, `{"error":"busy"}`)(w, r)
		case "/404/" + secret + "/feed":
			answer(404, ``)(w, r)
		case "/large/" + secret + "/feed":
			answer(200, `{"a":"`+strings.Repeat("x", 100)+`"}`)(w, r)
		case "/array/" + secret + "/feed":
			answer(200, `["`+secret+`"`)(w, r)
		case "/slow/" + secret + "/feed":
			hang(w, r)
		case "/to-private/" + secret + "/feed":
			http.Redirect(w, r, "http://127.0.0.1/"+secret+"?token="+secret, http.StatusFound)
		default: // redirects, for ever
			http.Redirect(w, r, r.URL.Path+"/more?token="+secret, http.StatusFound)
		}
	})
	gone := newServer(t, answer(200, `{}`))
	gone.Close()
	userinfo := func(base, path string) string {
		return strings.Replace(base, "://", "://user:"+secret+"@", 1) + path + tail
	}
	allow := content.Config{AllowPrivate: true, Timeout: 200 * time.Millisecond, MaxBytes: 50}
	var rd redirector
	tests := []struct {
		name   string
		cfg    content.Config
		rawURL string
		want   string // in the error, so that it failed the intended way
	}{
		{"503", allow, userinfo(srv.URL, "/503"), "answered 503"},
		{"404", allow, userinfo(srv.URL, "/404"), "answered 404"},
		{"too large", allow, userinfo(srv.URL, "/large"), "larger than 50 bytes"},
		{"not an object", allow, userinfo(srv.URL, "/array"), "did not answer a JSON object"},
		{"timeout", allow, userinfo(srv.URL, "/slow"), "did not answer within"},
		{"too many redirects", allow, userinfo(srv.URL, "/loop"), "redirected more than 3 times"},
		{"connection refused", allow, userinfo(gone.URL, "/x"), "could not be fetched"},
		{"private address", content.Config{}, userinfo(srv.URL, "/503"), "is a private address (127.0.0.1)"},
		{"redirect to a private address", content.Config{Transport: rd.transport(srv)},
			userinfo("http://"+publicAddr, "/to-private"), "redirected to 127.0.0.1"},
		{"not http", allow, userinfo("ftp://example.com", "/x"), "not an absolute http or https URL"},
		{"bad escape", allow, "http://example.com/" + secret + "%zz" + tail, "not a valid URL"},
		{"no host", allow, "http://user:" + secret + "@" + tail, "has no host"},
		{"no scheme", allow, "user:" + secret + "@example.com" + tail, "not an absolute http or https URL"},
		{"unknown host", allow, userinfo("http://no-such-host.invalid", "/x"), "no-such-host.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := content.New(tt.cfg).Fetch(testContext(t), tt.rawURL, 1, t0)
			if err == nil {
				t.Fatal("Fetch succeeded, want an error")
			}
			asError(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for e := err; e != nil; e = unwrapOne(e) {
				if msg := fmt.Sprintf("%v %+v", e, e); strings.Contains(msg, secret) {
					t.Errorf("error text %q contains the secret", msg)
				}
			}
		})
	}
}

// unwrapOne is the first error e wraps, if any.
func unwrapOne(e error) error {
	switch u := e.(type) {
	case interface{ Unwrap() error }:
		return u.Unwrap()
	case interface{ Unwrap() []error }:
		if errs := u.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return nil
}

// A fetch retried after a temporary error is the same request.
func TestFetcherIsReusable(t *testing.T) {
	t.Parallel()
	queries := make(chan string, 2)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.RawQuery
		if len(queries) == 1 {
			answer(503, ``)(w, r)
			return
		}
		answer(200, `{}`)(w, r)
	})
	f := loopbackFetcher(content.Config{})
	rawURL := srv.URL + "?x=1"

	if _, err := f.Fetch(testContext(t), rawURL, 2, t0); err == nil || !asError(t, err).Temporary {
		t.Fatalf("first Fetch: %v, want a temporary error", err)
	}
	if _, err := f.Fetch(testContext(t), rawURL, 2, t0); err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if first, second := <-queries, <-queries; first != second || !strings.HasPrefix(first, "x=1&fireCount=2&") {
		t.Errorf("queries = %q, %q; want the same twice", first, second)
	}
}
