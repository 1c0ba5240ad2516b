package gateway

import (
	"bytes"
	"context"
	"errors"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"net/http"
	"strings"

	"github.com/latency-fabric/alf/internal/blob"
)

// uploadLXM is the method a blob upload's service-auth token names, on the
// REST route /blob as on the XRPC method.
const uploadLXM = "com.atproto.repo.uploadBlob"

// serveBlob handles POST /blob (the reference's route): it answers
// {"cid","mimeType","size"}, and auth failures with the error name
// AuthRequired as the reference does.
func (g *Gateway) serveBlob(w http.ResponseWriter, r *http.Request) {
	info, err := g.upload(w, r, "AuthRequired")
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cid": info.CID, "mimeType": info.MimeType, "size": info.Size})
}

// serveUploadBlob handles com.atproto.repo.uploadBlob, answering with a
// blob ref as a PDS does.
func (g *Gateway) serveUploadBlob(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeXRPCError(w, http.StatusBadRequest, "InvalidRequest", "Incorrect HTTP method ("+r.Method+") expected POST")
		return
	}
	info, err := g.upload(w, r, "AuthenticationRequired")
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"blob": map[string]any{
		"$type": "blob", "ref": map[string]string{"$link": info.CID}, "mimeType": info.MimeType, "size": info.Size,
	}})
}

// upload authenticates the caller and stores the body as their blob. A body
// over the limit of its type is refused with 413 before anything is stored.
func (g *Gateway) upload(w http.ResponseWriter, r *http.Request, authName string) (blob.Info, error) {
	did, err := g.cfg.Verifier.VerifyRequest(r.Context(), r, uploadLXM)
	if err != nil {
		return blob.Info{}, &xrpcError{status: http.StatusUnauthorized, name: authName, message: authMessage(err)}
	}
	if err := g.limitAccount(did); err != nil {
		return blob.Info{}, err
	}
	if g.cfg.Blobs == nil {
		return blob.Info{}, &xrpcError{status: http.StatusNotImplemented, name: "MethodNotImplemented", message: "blob uploads are not configured"}
	}
	mime, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	mime = strings.TrimSpace(mime)
	info, err := g.cfg.Blobs.Put(r.Context(), did.String(), mime, r.Body, r.ContentLength)
	if p := blobProblemOf(err); p != nil {
		msg := p.message
		if errors.Is(err, blob.ErrEmpty) {
			msg = "Request body is required" // the reference's words
		}
		return blob.Info{}, &xrpcError{status: p.status, name: p.name, message: msg}
	}
	return info, nil
}

// blobProblem is how both APIs answer a refused upload.
type blobProblem struct {
	status  int
	name    string
	code    connect.Code
	message string
}

func blobProblemOf(err error) *blobProblem {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, blob.ErrTooLarge):
		return &blobProblem{http.StatusRequestEntityTooLarge, "BlobTooLarge", connect.CodeInvalidArgument,
			"blob is larger than the limit for its type (1,000,000 bytes for images, 50 MB otherwise)"}
	case errors.Is(err, blob.ErrEmpty):
		return &blobProblem{http.StatusBadRequest, "InvalidRequest", connect.CodeInvalidArgument, "the blob is empty"}
	case errors.Is(err, blob.ErrMimeType):
		return &blobProblem{http.StatusBadRequest, "InvalidRequest", connect.CodeInvalidArgument,
			"the mime type must be a media type such as image/png"}
	}
	return &blobProblem{http.StatusServiceUnavailable, "Unavailable", connect.CodeUnavailable, "could not store the blob; try again"}
}

func (s *drafts) UploadBlob(ctx context.Context, req *connect.Request[alfv1.UploadBlobRequest]) (*connect.Response[alfv1.UploadBlobResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if s.g.cfg.Blobs == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("blob uploads are not configured"))
	}
	data := req.Msg.GetData()
	info, err := s.g.cfg.Blobs.Put(ctx, did.String(), req.Msg.GetMimeType(), bytes.NewReader(data), int64(len(data)))
	if p := blobProblemOf(err); p != nil {
		return nil, connect.NewError(p.code, errors.New(p.message))
	}
	return connect.NewResponse(&alfv1.UploadBlobResponse{Cid: info.CID, MimeType: info.MimeType, Size: info.Size}), nil
}
