package seal_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/latency-fabric/alf/internal/seal"
)

type vectors struct {
	KeyHex string `json:"keyHex"`
	HMAC   []struct {
		Msg string `json:"msg"`
		Hex string `json:"hex"`
	} `json:"hmac"`
	Open []struct {
		Sealed string `json:"sealed"`
		Plain  string `json:"plain"`
	} `json:"open"`
}

func loadVectors(t *testing.T) (vectors, seal.Key) {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	k, err := seal.ParseKey(v.KeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return v, k
}

func TestReferenceVectors(t *testing.T) {
	t.Parallel()
	v, k := loadVectors(t)
	for _, h := range v.HMAC {
		if got := k.HMAC(h.Msg); got != h.Hex {
			t.Errorf("HMAC(%q) = %s, want %s", h.Msg, got, h.Hex)
		}
	}
	for _, o := range v.Open {
		got, err := k.Open(o.Sealed)
		if err != nil {
			t.Fatalf("Open(%q): %v", o.Sealed, err)
		}
		if string(got) != o.Plain {
			t.Errorf("Open(%q) = %q, want %q", o.Sealed, got, o.Plain)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k, _ := seal.NewKey()
	for _, plain := range []string{"", "x", "app-pass-word", strings.Repeat("long ", 1000)} {
		s, err := k.Seal([]byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		if parts := strings.Split(s, ":"); len(parts) != 3 {
			t.Fatalf("sealed %q has %d parts", s, len(parts))
		}
		got, err := k.Open(s)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if string(got) != plain {
			t.Errorf("round trip = %q, want %q", got, plain)
		}
		again, _ := k.Seal([]byte(plain))
		if again == s {
			t.Errorf("two seals of %q are equal: IV reused", plain)
		}
	}
}

func TestOpenFailures(t *testing.T) {
	t.Parallel()
	k, _ := seal.NewKey()
	other, _ := seal.NewKey()
	good, err := k.Seal([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ":")
	flip := func(i int) string {
		b, _ := base64.StdEncoding.DecodeString(parts[i])
		b[0] ^= 1
		p := append([]string(nil), parts...)
		p[i] = base64.StdEncoding.EncodeToString(b)
		return strings.Join(p, ":")
	}
	tests := []struct {
		name   string
		key    seal.Key
		sealed string
		want   error
	}{
		{"wrong key", other, good, seal.ErrOpen},
		{"tampered iv", k, flip(0), seal.ErrOpen},
		{"tampered tag", k, flip(1), seal.ErrOpen},
		{"tampered ciphertext", k, flip(2), seal.ErrOpen},
		{"two parts", k, parts[0] + ":" + parts[2], seal.ErrMalformed},
		{"four parts", k, good + ":", seal.ErrMalformed},
		{"not base64", k, "!!:" + parts[1] + ":" + parts[2], seal.ErrMalformed},
		{"short iv", k, "AAAA:" + parts[1] + ":" + parts[2], seal.ErrMalformed},
		{"empty", k, "", seal.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.key.Open(tc.sealed)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("z9", 32)
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"valid", strings.Repeat("0123456789abcdef", 4), true},
		{"upper case", strings.Repeat("0123456789ABCDEF", 4), true},
		{"short", "abcd", false},
		{"long", strings.Repeat("a", 66), false},
		{"not hex", secret, false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := seal.ParseKey(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKey: err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "ENCRYPTION_KEY") {
				t.Errorf("error %q does not name ENCRYPTION_KEY", err)
			}
			if tc.in != "" && strings.Contains(err.Error(), tc.in) {
				t.Errorf("error %q echoes the value", err)
			}
		})
	}
}

func TestKeyNeverPrints(t *testing.T) {
	t.Parallel()
	k, h := seal.NewKey()
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(format, k)
		if strings.Contains(out, h) || strings.Contains(out, h[:16]) {
			t.Errorf("%s prints key bytes: %s", format, out)
		}
		if format != "%x" && format != "%q" && !strings.Contains(out, "redacted") {
			t.Errorf("%s = %s, want redacted", format, out)
		}
	}
	parsed, err := seal.ParseKey(h)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.HMAC("m") != k.HMAC("m") {
		t.Error("NewKey's hex does not parse back to the same key")
	}
}

func TestZeroKeyRefused(t *testing.T) {
	t.Parallel()
	var k seal.Key
	if _, err := k.Seal([]byte("x")); err == nil {
		t.Fatal("zero Key sealed without error")
	}
}

func Example() {
	key, err := seal.ParseKey(strings.Repeat("a", 64))
	if err != nil {
		panic(err)
	}
	sealed, err := key.Seal([]byte("my app password"))
	if err != nil {
		panic(err)
	}
	plain, err := key.Open(sealed)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(plain))
	fmt.Println(key)
	fmt.Println(key.HMAC("84ea2e01-ec24-4a6e-be40-a89b91cf00bd"))
	// Output:
	// my app password
	// seal.Key(redacted)
	// e154cefd4ffca668969f551097a878515dd7bfc816be2c3e193e0d079607fa78
}

// After a rotation the new key, given the old one, opens what the old one
// sealed and finds its HMACs, but seals with itself alone.
func TestRotation(t *testing.T) {
	t.Parallel()
	old, _ := seal.NewKey()
	cur, _ := seal.NewKey()
	sealed, err := old.Seal([]byte("app password"))
	if err != nil {
		t.Fatal(err)
	}
	rotated := cur.WithOld(old)
	plain, err := rotated.Open(sealed)
	if err != nil || string(plain) != "app password" {
		t.Fatalf("Open of a value sealed with the old key = %q, %v", plain, err)
	}
	if _, err := cur.Open(sealed); err == nil {
		t.Fatal("the new key alone opens the old key's value")
	}
	resealed, err := rotated.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cur.Open(resealed); err != nil {
		t.Fatalf("a value sealed after the rotation needs the old key: %v", err)
	}
	if _, err := old.Open(resealed); err == nil {
		t.Fatal("the old key opens a value sealed after the rotation")
	}
	hs := rotated.HMACs("trigger")
	if len(hs) != 2 || hs[0] != cur.HMAC("trigger") || hs[1] != old.HMAC("trigger") {
		t.Fatalf("HMACs = %v", hs)
	}
	if _, err := rotated.Open("bm90:aGVyZQ:AAAA"); !errors.Is(err, seal.ErrOpen) && !errors.Is(err, seal.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

// SealJSON and OpenJSON round-trip a value; a value of the wrong shape is
// ErrNotJSON, one sealed with another key ErrOpen.
func TestSealJSON(t *testing.T) {
	t.Parallel()
	key, _ := seal.NewKey()
	other, _ := seal.NewKey()
	type session struct{ Token string }
	sealed, err := key.SealJSON(session{Token: "t0k3n"})
	if err != nil || strings.Contains(string(sealed), "t0k3n") {
		t.Fatalf("SealJSON = %q, %v", sealed, err)
	}
	var got session
	if err := key.OpenJSON(sealed, &got); err != nil || got.Token != "t0k3n" {
		t.Fatalf("OpenJSON = %+v, %v", got, err)
	}
	if err := other.OpenJSON(sealed, &got); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("OpenJSON with another key: %v", err)
	}
	notJSON, _ := key.Seal([]byte("not json"))
	if err := key.OpenJSON([]byte(notJSON), &got); !errors.Is(err, seal.ErrNotJSON) {
		t.Fatalf("OpenJSON of non-JSON: %v", err)
	}
}
