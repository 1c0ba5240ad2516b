package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestThumbprintRFC9449 checks the RFC 7638 thumbprint against the example
// key and cnf.jkt of RFC 9449 (§4.3 and §6.1).
func TestThumbprintRFC9449(t *testing.T) {
	t.Parallel()
	jwk := `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",` +
		`"y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`
	k, _, err := parsePublicJWK([]byte(jwk))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.thumbprint(), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}

func TestParsePublicJWK(t *testing.T) {
	t.Parallel()
	const x, y = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
	cases := map[string]struct {
		jwk  string
		want error
	}{
		"private d":      {fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q,"d":"AAAA"}`, x, y), errPrivateJWK},
		"RSA":            {`{"kty":"RSA","n":"AQAB","e":"AQAB"}`, errNotPublicEC},
		"oct":            {`{"kty":"oct","k":"c2VjcmV0"}`, errNotPublicEC},
		"P-384":          {fmt.Sprintf(`{"kty":"EC","crv":"P-384","x":%q,"y":%q}`, x, y), errNotPublicEC},
		"short x":        {fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":"AQAB","y":%q}`, y), errNotPublicEC},
		"padded x":       {fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q}`, x+"=", y), errNotPublicEC},
		"not on curve":   {fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q}`, x, x), errNotPublicEC},
		"not an object":  {`"jwk"`, errNotPublicEC},
		"secp256k1 junk": {fmt.Sprintf(`{"kty":"EC","crv":"secp256k1","x":%q,"y":%q}`, x, y), errNotPublicEC},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := parsePublicJWK([]byte(tc.jwk)); !errors.Is(err, tc.want) {
				t.Fatalf("parsePublicJWK = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseJWSMalformed(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "a", "a.b", "a.b.c.d",
		"e30.e30.!!",                  // bad base64 signature
		"e30=.e30.",                   // padded base64
		"WyJ4Il0.e30.",                // header an array
		"e30.WyJ4Il0.",                // payload an array
		"eyJjcml0IjpbImV4cCJdfQ.e30.", // crit
	} {
		if _, err := parseJWS(s); err == nil {
			t.Errorf("parseJWS(%q) accepted", s)
		}
	}
	if _, err := parseJWS("e30.e30."); err != nil {
		t.Errorf("parseJWS({}.{}.) = %v", err)
	}
}

func TestReplayCache(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	c := newReplayCache(2, time.Minute)
	exp := now.Add(time.Minute)
	if r := c.first("k", "a", now, exp); r != proofFresh {
		t.Fatalf("first a = %v", r)
	}
	if r := c.first("k", "a", now, exp); r != proofReplayed {
		t.Fatalf("second a = %v", r)
	}
	if r := c.first("other-key", "a", now, exp); r != proofFresh {
		t.Fatalf("a under another key = %v", r)
	}
	// Full of live proofs: refuse rather than forget one.
	if r := c.first("k", "b", now, exp); r != proofsFull {
		t.Fatalf("b when full = %v", r)
	}
	// Once they expire there is room again, and "a" is no longer tracked
	// (it would be refused as too old anyway).
	later := exp.Add(time.Second)
	if r := c.first("k", "b", later, later.Add(time.Minute)); r != proofFresh {
		t.Fatalf("b later = %v", r)
	}
	if n := c.len(); n != 1 {
		t.Fatalf("len = %d after sweep, want 1", n)
	}
	// jti and key are not confusable by concatenation.
	c2 := newReplayCache(10, time.Minute)
	c2.first("ab", "c", now, exp)
	if r := c2.first("a", "bc", now, exp); r != proofFresh {
		t.Fatalf("(a, bc) after (ab, c) = %v", r)
	}
}

func TestFetchCache(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	c := newFetchCache[int](4, time.Minute, clock)
	loads := 0
	load := func(v int, err error) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { loads++; return v, err }
	}
	ctx := context.Background()
	for i := range 3 {
		if v, err := c.get(ctx, "a", load(1, nil)); v != 1 || err != nil {
			t.Fatalf("get %d = %d, %v", i, v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loads = %d, want 1", loads)
	}
	boom := errors.New("boom")
	for range 3 {
		if _, err := c.get(ctx, "b", load(0, boom)); !errors.Is(err, boom) {
			t.Fatalf("get b = %v", err)
		}
	}
	if loads != 2 {
		t.Fatalf("a failure was not cached: loads = %d", loads)
	}
	for i := range 20 {
		_, _ = c.get(ctx, fmt.Sprint("k", i), load(i, nil))
	}
	if n, _ := c.stats(); n > 4 {
		t.Fatalf("cache holds %d entries, bound 4", n)
	}
}
