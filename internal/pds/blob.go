package pds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

const nsidUploadBlob = syntax.NSID("com.atproto.repo.uploadBlob")

// BlobRef is a blob as records reference it. Its JSON is the lexicon's
// blob object: {"$type":"blob","ref":{"$link":CID},"mimeType":…,"size":…}.
type BlobRef struct {
	CID      string
	MimeType string
	Size     int64
}

type blobJSON struct {
	Type     string `json:"$type"`
	Ref      link   `json:"ref"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
}

type link struct {
	Link string `json:"$link"`
}

// MarshalJSON writes the lexicon blob object.
func (b BlobRef) MarshalJSON() ([]byte, error) {
	return json.Marshal(blobJSON{Type: "blob", Ref: link{b.CID}, MimeType: b.MimeType, Size: b.Size})
}

// UnmarshalJSON reads the lexicon blob object.
func (b *BlobRef) UnmarshalJSON(raw []byte) error {
	var v blobJSON
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v.Type != "blob" || v.Ref.Link == "" {
		return fmt.Errorf("not a blob ref: %.100s", raw)
	}
	*b = BlobRef{CID: v.Ref.Link, MimeType: v.MimeType, Size: v.Size}
	return nil
}

// UploadBlob sends data as the request body with Content-Type mimeType
// (application/octet-stream if empty). The body is sent again if the PDS
// refuses the access token, so data is read into memory first unless it is
// an io.ReadSeeker (read from its start) with size given.
func (c *xrpcClient) UploadBlob(ctx context.Context, mimeType string, data io.Reader, size int64) (BlobRef, error) {
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	body, size, err := rewindable(data, size)
	if err != nil {
		return BlobRef{}, fmt.Errorf("uploadBlob (%s) for %s: %w", mimeType, c.did, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out struct {
		Blob BlobRef `json:"blob"`
	}
	if err := c.upload(ctx, mimeType, body, size, &out); err != nil {
		return BlobRef{}, fmt.Errorf("uploadBlob (%s, %d bytes) for %s: %w", mimeType, size, c.did, err)
	}
	return out.Blob, nil
}

// rewindable returns data as a reader atclient can rewind (an io.Seeker)
// and its size.
func rewindable(data io.Reader, size int64) (io.ReadSeeker, int64, error) {
	if rs, ok := data.(io.ReadSeeker); ok && size >= 0 {
		return rs, size, nil
	}
	b, err := io.ReadAll(data)
	if err != nil {
		return nil, 0, fmt.Errorf("read blob: %w", err)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// upload performs the uploadBlob call with a Content-Length (atclient's
// Do would send the body chunked) and decodes a 2xx answer into out.
func (c *xrpcClient) upload(ctx context.Context, mimeType string, body io.ReadSeeker, size int64, out any) error {
	req := atclient.NewAPIRequest(atclient.MethodProcedure, nsidUploadBlob, body)
	req.Headers.Set("Accept", "application/json")
	req.Headers.Set("Content-Type", mimeType)
	httpReq, err := req.HTTPRequest(ctx, c.api.Host, c.api.Headers)
	if err != nil {
		return err
	}
	httpReq.ContentLength = size
	if size == 0 {
		httpReq.Body = http.NoBody
	}
	resp, err := c.do(httpReq, nsidUploadBlob)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFrom(resp, time.Now())
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		// The PDS answered 2xx, so the upload took effect: only the
		// answer was lost.
		return &sendError{err: fmt.Errorf("read %s answer: %w", nsidUploadBlob, err), sent: true}
	}
	return nil
}

// do sends an http.Request built from an atclient.APIRequest the way
// atclient.APIClient.Do does, through the client's auth.
func (c *xrpcClient) do(req *http.Request, nsid syntax.NSID) (*http.Response, error) {
	hc := c.api.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	if c.api.Auth == nil {
		return send(hc, req, "")
	}
	return c.api.Auth.DoWithAuth(hc, req, nsid)
}
