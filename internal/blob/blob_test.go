package blob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/record"
)

const (
	alice = "did:plc:alicealicealicealicealic"
	bob   = "did:plc:bobbobbobbobbobbobbobbobb"
)

// newStore is a Store on a fresh embedded server, with the object store
// for inspecting what was (not) stored.
func newStore(t *testing.T) (*blob.Store, jetstream.ObjectStore) {
	t.Helper()
	js := natstest.Provisioned(t)
	obj, err := js.ObjectStore(ctx(t), events.ObjectBlobs)
	if err != nil {
		t.Fatal(err)
	}
	return blob.NewStore(obj), obj
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func get(t *testing.T, s *blob.Store, did, cid string) (blob.Info, []byte, error) {
	t.Helper()
	info, rc, err := s.Get(ctx(t), did, cid)
	if err != nil {
		return info, nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read blob %s: %v", cid, err)
	}
	return info, data, nil
}

func objectCount(t *testing.T, obj jetstream.ObjectStore) int {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all, err := obj.List(c)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s, obj := newStore(t)
	tests := []struct {
		name, mimeType, wantMime string
		data                     []byte
	}{
		{"png", "image/png", "image/png", []byte{0x89, 'P', 'N', 'G', 1, 2, 3}},
		{"spec vector", "image/png", "image/png", []byte{1, 2, 3}},
		{"parameters dropped", " video/mp4 ; codecs=avc1", "video/mp4", []byte("not really a video")},
		{"no mime type", "", blob.DefaultMimeType, []byte("raw bytes")},
		{"larger than a chunk", "application/pdf", "application/pdf", bytes.Repeat([]byte("pdf!"), 100_000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info, err := s.Put(ctx(t), alice, tc.mimeType, bytes.NewReader(tc.data), int64(len(tc.data)))
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			want := blob.Info{CID: record.BlobCID(tc.data), MimeType: tc.wantMime, Size: int64(len(tc.data))}
			if info != want {
				t.Errorf("Put = %+v, want %+v", info, want)
			}
			got, data, err := get(t, s, alice, info.CID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got != want || !bytes.Equal(data, tc.data) {
				t.Errorf("Get = %+v, %d bytes; want %+v, the %d bytes put", got, len(data), want, len(tc.data))
			}
		})
	}
	t.Run("spec CID", func(t *testing.T) {
		t.Parallel()
		info, err := s.Put(ctx(t), alice, "image/png", bytes.NewReader([]byte{9, 9, 9}), -1)
		if err != nil || info.CID != "bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq" {
			t.Errorf("Put(09 09 09) = %+v, %v; want the spec's CID", info, err)
		}
		name := events.AccountToken(alice) + "/" + info.CID
		if _, err := obj.GetInfo(ctx(t), name); err != nil {
			t.Errorf("object %s: %v", name, err)
		}
	})
}

func TestPutTwiceKeepsOneCopy(t *testing.T) {
	t.Parallel()
	s, obj := newStore(t)
	data := []byte("the same bytes")
	first, err := s.Put(ctx(t), alice, "text/plain", bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Put(ctx(t), alice, "application/octet-stream", bytes.NewReader(data), -1)
	if err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if second != first {
		t.Errorf("second Put = %+v, want the first copy %+v", second, first)
	}
	if n := objectCount(t, obj); n != 1 {
		t.Errorf("%d objects after putting the same bytes twice, want 1", n)
	}
	if _, err := s.Put(ctx(t), bob, "text/plain", bytes.NewReader(data), -1); err != nil {
		t.Fatal(err)
	}
	if n := objectCount(t, obj); n != 2 {
		t.Errorf("%d objects after bob put the same bytes, want 2 (one per account)", n)
	}
}

func TestAccountsAreScoped(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	data := []byte("alice's picture")
	info, err := s.Put(ctx(t), alice, "image/jpeg", bytes.NewReader(data), -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(t, s, bob, info.CID); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("bob's Get of alice's blob = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), bob, info.CID); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("bob's Delete of alice's blob = %v, want ErrNotFound", err)
	}
	if _, got, err := get(t, s, alice, info.CID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("alice's blob after bob's attempts: %v", err)
	}

	// Both hold the same bytes: deleting bob's copy leaves alice's.
	if _, err := s.Put(ctx(t), bob, "image/jpeg", bytes.NewReader(data), -1); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(t), bob, info.CID); err != nil {
		t.Fatalf("bob deletes his copy: %v", err)
	}
	if _, _, err := get(t, s, bob, info.CID); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("bob's Get after his Delete = %v, want ErrNotFound", err)
	}
	if _, _, err := get(t, s, alice, info.CID); err != nil {
		t.Errorf("alice's copy after bob deleted his: %v", err)
	}
	if err := s.Delete(ctx(t), bob, info.CID); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("bob's second Delete = %v, want ErrNotFound", err)
	}
}

// countingReader is an endless reader that counts the bytes read from it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	clear(p)
	c.n += int64(len(p))
	return len(p), nil
}

// failingReader fails the test if it is read.
type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Error("body read although its declared size is over the limit")
	return 0, io.ErrUnexpectedEOF
}

func TestLimits(t *testing.T) {
	t.Parallel()
	s, obj := newStore(t)
	if blob.Limit("image/png") != 1_000_000 || blob.Limit("IMAGE/webp") != 1_000_000 ||
		blob.Limit("video/mp4") != 50_000_000 || blob.Limit("") != 50_000_000 {
		t.Fatalf("Limit: image/png %d, IMAGE/webp %d, video/mp4 %d, none %d",
			blob.Limit("image/png"), blob.Limit("IMAGE/webp"), blob.Limit("video/mp4"), blob.Limit(""))
	}
	tests := []struct {
		name     string
		mimeType string
		size     int64
		declared bool // pass the size as declaredSize
		wantErr  error
	}{
		{"image at the limit", "image/png", 1_000_000, true, nil},
		{"image one over", "image/png", 1_000_001, false, blob.ErrTooLarge},
		{"image one over, declared", "image/png", 1_000_001, true, blob.ErrTooLarge},
		{"image one over as octet-stream", "application/octet-stream", 1_000_001, false, nil},
		{"video at the limit", "video/mp4", 50_000_000, false, nil},
		{"video one over", "video/mp4", 50_000_001, false, blob.ErrTooLarge},
		{"video one over, declared", "video/mp4", 50_000_001, true, blob.ErrTooLarge},
	}
	stored := 0
	for _, tc := range tests { // in order: each case counts the objects stored so far
		t.Run(tc.name, func(t *testing.T) {
			declared := int64(-1)
			if tc.declared {
				declared = tc.size
			}
			var body io.Reader
			src := &countingReader{}
			switch {
			case tc.declared && tc.wantErr != nil:
				body = failingReader{t}
			case tc.wantErr != nil:
				body = src // endless: Put must stop at limit+1
			default:
				body = io.LimitReader(src, tc.size)
			}
			info, err := s.Put(ctx(t), alice, tc.mimeType, body, declared)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put %d bytes = %+v, %v; want %v", tc.size, info, err, tc.wantErr)
			}
			if limit := blob.Limit(tc.mimeType); src.n > limit+1 {
				t.Errorf("read %d bytes for a limit of %d", src.n, limit)
			}
			if err == nil {
				stored++
				if info.Size != tc.size || info.CID != record.BlobCID(make([]byte, tc.size)) {
					t.Errorf("Put = %+v, want %d zero bytes", info, tc.size)
				}
			}
			if n := objectCount(t, obj); n != stored {
				t.Errorf("%d objects stored, want %d", n, stored)
			}
		})
	}
}

func TestPutRefuses(t *testing.T) {
	t.Parallel()
	s, obj := newStore(t)
	tests := []struct {
		name, did, mimeType string
		body                io.Reader
		wantErr             error
	}{
		{"empty body", alice, "image/png", bytes.NewReader(nil), blob.ErrEmpty},
		{"empty body, no mime type", alice, "", strings.NewReader(""), blob.ErrEmpty},
		{"mime type without subtype", alice, "image", strings.NewReader("x"), blob.ErrMimeType},
		{"mime type with a newline", alice, "image/png\r\nX: y", strings.NewReader("x"), blob.ErrMimeType},
		{"not a DID", "alice", "image/png", strings.NewReader("x"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Put(ctx(t), tc.did, tc.mimeType, tc.body, -1)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("Put = %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("bad CID", func(t *testing.T) {
		t.Parallel()
		if _, _, err := s.Get(ctx(t), alice, "../x"); err == nil || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Get of a malformed CID = %v, want a validation error", err)
		}
	})
	t.Cleanup(func() {
		if n := objectCount(t, obj); n != 0 {
			t.Errorf("%d objects stored by refused puts", n)
		}
	})
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	s, obj := newStore(t)
	if err := s.DeleteAccount(ctx(t), alice); err != nil {
		t.Fatalf("DeleteAccount on an empty store: %v", err)
	}
	var aliceCIDs []string
	for i := range 3 {
		info, err := s.Put(ctx(t), alice, "image/png", bytes.NewReader([]byte{byte(i), 1}), -1)
		if err != nil {
			t.Fatal(err)
		}
		aliceCIDs = append(aliceCIDs, info.CID)
	}
	shared := aliceCIDs[0]
	if _, err := s.Put(ctx(t), bob, "image/png", bytes.NewReader([]byte{0, 1}), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx(t), bob, "text/plain", strings.NewReader("bob's own"), -1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx(t), alice); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	for _, cid := range aliceCIDs {
		if _, _, err := get(t, s, alice, cid); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("alice's blob %s after DeleteAccount: %v, want ErrNotFound", cid, err)
		}
	}
	if _, _, err := get(t, s, bob, shared); err != nil {
		t.Errorf("bob's copy of the same bytes after alice's DeleteAccount: %v", err)
	}
	if n := objectCount(t, obj); n != 2 {
		t.Errorf("%d objects left, want bob's 2", n)
	}
}

func TestRefs(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/refs.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []struct {
		Name   string
		Record json.RawMessage
		Refs   []string
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			got, err := blob.Refs(v.Record)
			if err != nil {
				t.Fatalf("Refs: %v", err)
			}
			if !slices.Equal(got, v.Refs) && (len(got) != 0 || len(v.Refs) != 0) {
				t.Errorf("Refs = %q, want %q", got, v.Refs)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		if _, err := blob.Refs([]byte(`{"embed":`)); err == nil {
			t.Error("Refs of truncated JSON succeeded")
		}
	})
}
