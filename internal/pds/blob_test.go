package pds

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/bluesky-social/indigo/atproto/syntax"

	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/record"
	"github.com/latency-fabric/alf/internal/seal"
)

// upload is what the fake PDS's uploadBlob saw.
type upload struct {
	contentType   string
	contentLength int64
	chunked       bool
	body          []byte
}

// serveUploads makes f answer uploadBlob like a PDS, after checking the
// access token, and returns what each upload that got through sent.
func serveUploads(f *fakePDS) func() []upload {
	var seen []upload
	f.set(func(f *fakePDS) {
		f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
			if nsid != string(nsidUploadBlob) {
				return false
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !f.checkAccess(w, r) {
				return true
			}
			body, _ := io.ReadAll(r.Body)
			seen = append(seen, upload{r.Header.Get("Content-Type"), r.ContentLength, len(r.TransferEncoding) > 0, body})
			writeJSON(w, 200, map[string]any{"blob": BlobRef{CID: record.BlobCID(body), MimeType: r.Header.Get("Content-Type"), Size: int64(len(body))}})
			return true
		}
	})
	return func() []upload {
		f.mu.Lock()
		defer f.mu.Unlock()
		return append([]upload(nil), seen...)
	}
}

// onlyReader hides every method of r but Read (no Seek, no WriteTo).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestUploadBlob(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 5000)
	tests := []struct {
		name     string
		mimeType string
		body     func() io.Reader
		size     int64
		wantMime string
	}{
		{"seekable with size", "image/png", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), "image/png"},
		{"plain reader with size", "image/png", func() io.Reader { return onlyReader{bytes.NewReader(data)} }, int64(len(data)), "image/png"},
		{"plain reader without size", "video/mp4", func() io.Reader { return onlyReader{bytes.NewReader(data)} }, -1, "video/mp4"},
		{"seekable without size", "image/png", func() io.Reader { return bytes.NewReader(data) }, -1, "image/png"},
		{"no mime type", "", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), "application/octet-stream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			uploads := serveUploads(f)
			s, _, _ := connected(t, f)
			c, _ := s.Client(ctx, fakeDID)
			ref, err := c.UploadBlob(ctx, tc.mimeType, tc.body(), tc.size)
			if err != nil {
				t.Fatalf("UploadBlob: %v", err)
			}
			want := BlobRef{CID: record.BlobCID(data), MimeType: tc.wantMime, Size: int64(len(data))}
			if ref != want {
				t.Errorf("UploadBlob = %+v, want %+v", ref, want)
			}
			got := uploads()
			if len(got) != 1 {
				t.Fatalf("%d uploads reached the PDS, want 1", len(got))
			}
			u := got[0]
			if u.contentType != tc.wantMime || u.contentLength != int64(len(data)) || u.chunked || !bytes.Equal(u.body, data) {
				t.Errorf("PDS saw Content-Type %q, Content-Length %d, chunked %v, %d bytes; want %q, %d, not chunked, the data",
					u.contentType, u.contentLength, u.chunked, len(u.body), tc.wantMime, len(data))
			}
		})
	}
}

// An upload refused for its access token is sent again, whole, after the
// session is refreshed, even from a reader that cannot seek.
func TestUploadBlobResentAfterExpiredToken(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	uploads := serveUploads(f)
	s, _, _ := connected(t, f)
	f.set(func(f *fakePDS) {
		serve := f.hook
		rejected := false
		f.hook = func(w http.ResponseWriter, r *http.Request, nsid string) bool {
			if nsid == string(nsidUploadBlob) && !rejected {
				rejected = true
				io.Copy(io.Discard, r.Body)
				xrpcError(w, 400, "ExpiredToken", "Token has expired")
				return true
			}
			return serve(w, r, nsid)
		}
	})
	c, _ := s.Client(ctx, fakeDID)
	data := []byte("bytes that must arrive twice")
	ref, err := c.UploadBlob(ctx, "text/plain", onlyReader{bytes.NewReader(data)}, int64(len(data)))
	if err != nil {
		t.Fatalf("UploadBlob: %v", err)
	}
	if ref.CID != record.BlobCID(data) {
		t.Errorf("CID = %s, want %s", ref.CID, record.BlobCID(data))
	}
	if got := uploads(); len(got) != 1 || !bytes.Equal(got[0].body, data) {
		t.Errorf("uploads after the retry: %+v; want one with the data", got)
	}
	if n := f.count("com.atproto.server.refreshSession"); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestUploadBlobReadFailure(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	serveUploads(f)
	s, _, _ := connected(t, f)
	c, _ := s.Client(ctx, fakeDID)
	broken := io.MultiReader(strings.NewReader("part"), iotestErr{})
	_, err := c.UploadBlob(ctx, "image/png", broken, 100)
	if err == nil || UnknownOutcome(err) {
		t.Errorf("UploadBlob from a failing reader = %v; want an error that is not UnknownOutcome", err)
	}
	if n := f.count(string(nsidUploadBlob)); n != 0 {
		t.Errorf("%d uploads sent from a reader that failed", n)
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestBlobRefJSON(t *testing.T) {
	t.Parallel()
	ref := BlobRef{CID: "bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq", MimeType: "image/png", Size: 3}
	b, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"$type":"blob","ref":{"$link":"bafkreihhictpv4w3mx2ykmki25ozum25prfzjkyqn7s7en54gt647r2fqq"},"mimeType":"image/png","size":3}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back BlobRef
	if err := json.Unmarshal(b, &back); err != nil || back != ref {
		t.Errorf("Unmarshal = %+v, %v; want %+v", back, err, ref)
	}
	for _, bad := range []string{`{"cid":"bafkrei","mimeType":"image/png"}`, `{"$type":"blob","ref":{}}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

// realClient connects account i of the harness with its app password.
func realClient(t *testing.T, h *pdstest.Harness, i int) Client {
	t.Helper()
	acct := h.Account(t, i)
	key, _ := seal.NewKey()
	s := NewSessions(newKV(t), key, &identity.BaseDirectory{PLCURL: h.PLCURL, SkipHandleVerification: true}, nil)
	if _, err := s.ConnectAppPassword(ctx, syntax.DID(acct.DID), acct.Handle, acct.AppPassword); err != nil {
		t.Fatalf("ConnectAppPassword: %v", err)
	}
	c, err := s.Client(ctx, syntax.DID(acct.DID))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testPNG is a small PNG, different on every call.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 6))
	seed := time.Now().UnixNano()
	for i := range img.Pix {
		img.Pix[i] = byte(seed >> (i % 56))
	}
	img.Set(0, 0, color.NRGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRealPDSUploadBlob uploads a PNG, posts it in an images embed and
// fetches it back with com.atproto.sync.getBlob.
func TestRealPDSUploadBlob(t *testing.T) {
	h := pdstest.Load(t)
	c := realClient(t, h, 0)
	pic := testPNG(t)

	ref, err := c.UploadBlob(ctx, "image/png", onlyReader{bytes.NewReader(pic)}, -1)
	if err != nil {
		t.Fatalf("UploadBlob: %v", err)
	}
	if want := (BlobRef{CID: record.BlobCID(pic), MimeType: "image/png", Size: int64(len(pic))}); ref != want {
		t.Errorf("UploadBlob = %+v, want %+v", ref, want)
	}
	if again, err := c.UploadBlob(ctx, "image/png", bytes.NewReader(pic), int64(len(pic))); err != nil || again != ref {
		t.Errorf("second upload of the same bytes = %+v, %v; want %+v", again, err, ref)
	}

	refJSON, _ := json.Marshal(ref)
	post := []byte(`{"$type":"app.bsky.feed.post","text":"a picture, scheduled by alf","createdAt":"` +
		time.Now().UTC().Format(record.TimeFormat) + `","embed":{"$type":"app.bsky.embed.images","images":[` +
		`{"alt":"test pattern","image":` + string(refJSON) + `,"aspectRatio":{"width":8,"height":6}}]}}`)
	want, err := record.CID(post)
	if err != nil {
		t.Fatal(err)
	}
	rkey := syntax.NewTIDNow(0).String()
	res, err := c.CreateRecord(ctx, "app.bsky.feed.post", rkey, post)
	if err != nil {
		t.Fatalf("CreateRecord with the image: %v", err)
	}
	if res.CID != want {
		t.Errorf("post CID = %s, want %s", res.CID, want)
	}

	q := url.Values{"did": {c.DID().String()}, "cid": {ref.CID}}
	resp, err := http.Get(h.PDSURL + "/xrpc/com.atproto.sync.getBlob?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("getBlob: HTTP %d, %v: %.200s", resp.StatusCode, err, got)
	}
	if !bytes.Equal(got, pic) {
		t.Errorf("getBlob returned %d bytes, not the %d uploaded", len(got), len(pic))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/png") {
		t.Errorf("getBlob Content-Type = %q", ct)
	}
	if n, _ := strconv.Atoi(resp.Header.Get("Content-Length")); n != 0 && n != len(pic) {
		t.Errorf("getBlob Content-Length = %d, want %d", n, len(pic))
	}
}
