// Package blob keeps the blobs (images, videos, any bytes) that drafts
// reference until their record is published: in the JetStream object store
// alf_blobs, by raw CID, and scoped to the account that uploaded them.
//
// Each account has its own copy of a blob, named "<account token>/<cid>"
// (events.AccountToken), with its mime type in the object's headers. Knowing a
// CID gives no access to another account's copy: Get and Delete of a blob the
// account did not upload answer ErrNotFound.
//
//	store := blob.NewStore(obj) // js.ObjectStore(ctx, events.ObjectBlobs)
//	info, err := store.Put(ctx, did, "image/png", r.Body, r.ContentLength)
//	info, rc, err := store.Get(ctx, did, info.CID) // at publish time
//	cids, err := blob.Refs(recordJSON)             // the blobs a record uses
//
// Put reads at most Limit(mimeType)+1 bytes and refuses a larger blob before
// storing anything.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/bluesky-social/indigo/atproto/syntax"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/record"
)

// Size limits by mime type.
const (
	// ImageLimit is the largest image/* blob: Bluesky's image limit.
	ImageLimit int64 = 1_000_000
	// OtherLimit is the largest blob of any other type.
	OtherLimit int64 = 50_000_000
)

// DefaultMimeType is the mime type of a blob uploaded without one.
const DefaultMimeType = "application/octet-stream"

const headerMimeType = "Content-Type"

var (
	// ErrTooLarge: the blob is larger than Limit of its mime type.
	ErrTooLarge = errors.New("blob too large")
	// ErrNotFound: the account has no blob with that CID.
	ErrNotFound = errors.New("blob not found")
	// ErrEmpty: the blob has no bytes.
	ErrEmpty = errors.New("blob is empty")
	// ErrMimeType: the mime type is not a type/subtype media type.
	ErrMimeType = errors.New("invalid mime type")
)

// Info describes a stored blob.
type Info struct {
	CID      string
	MimeType string
	Size     int64
}

// Store keeps blobs in an object store. It is safe for concurrent use.
type Store struct {
	obj jetstream.ObjectStore
}

// NewStore returns a Store over obj, the alf_blobs object store.
func NewStore(obj jetstream.ObjectStore) *Store { return &Store{obj: obj} }

// Limit is the largest blob of mimeType, in bytes: ImageLimit for image/*,
// OtherLimit otherwise.
func Limit(mimeType string) int64 {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(mimeType)), "image/") {
		return ImageLimit
	}
	return OtherLimit
}

// Put stores the bytes of r for did and returns their CID
// (record.BlobCID). declaredSize is the size the uploader announced
// (Content-Length), or -1 when unknown; one above the limit fails at once.
// An empty mimeType means DefaultMimeType. Storing the same bytes twice
// keeps the first copy and returns its Info.
func (s *Store) Put(ctx context.Context, did, mimeType string, r io.Reader, declaredSize int64) (Info, error) {
	if err := checkDID(did); err != nil {
		return Info{}, err
	}
	mimeType, err := normalizeMimeType(mimeType)
	if err != nil {
		return Info{}, err
	}
	data, err := readLimited(r, Limit(mimeType), declaredSize)
	if err != nil {
		return Info{}, fmt.Errorf("put blob (%s): %w", mimeType, err)
	}
	return s.putOnce(ctx, did, mimeType, data)
}

// putOnce stores data as did's blob unless did has it already (same CID,
// same bytes: the first copy stays).
func (s *Store) putOnce(ctx context.Context, did, mimeType string, data []byte) (Info, error) {
	cid := record.BlobCID(data)
	name := objectName(did, cid)
	oi, err := s.obj.GetInfo(ctx, name)
	if err == nil {
		return infoOf(cid, oi), nil
	}
	if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return Info{}, fmt.Errorf("put blob %s: look up: %w", cid, err)
	}
	meta := jetstream.ObjectMeta{Name: name, Headers: nats.Header{headerMimeType: {mimeType}}}
	if oi, err = s.obj.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return Info{}, fmt.Errorf("put blob %s: %w", cid, err)
	}
	return infoOf(cid, oi), nil
}

// Get returns did's blob cid and a reader of its bytes, which the caller
// closes; ErrNotFound when did has no such blob.
func (s *Store) Get(ctx context.Context, did, cid string) (Info, io.ReadCloser, error) {
	name, err := checkedName(did, cid)
	if err != nil {
		return Info{}, nil, err
	}
	res, err := s.obj.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return Info{}, nil, fmt.Errorf("get blob %s: %w", cid, ErrNotFound)
	}
	if err != nil {
		return Info{}, nil, fmt.Errorf("get blob %s: %w", cid, err)
	}
	oi, err := res.Info()
	if err != nil {
		res.Close()
		return Info{}, nil, fmt.Errorf("get blob %s: %w", cid, err)
	}
	return infoOf(cid, oi), res, nil
}

// Delete removes did's copy of blob cid; other accounts' copies stay.
// ErrNotFound when did has no such blob.
func (s *Store) Delete(ctx context.Context, did, cid string) error {
	name, err := checkedName(did, cid)
	if err != nil {
		return err
	}
	if _, err := s.obj.GetInfo(ctx, name); err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			err = ErrNotFound
		}
		return fmt.Errorf("delete blob %s: %w", cid, err)
	}
	if err := s.obj.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete blob %s: %w", cid, err)
	}
	return nil
}

// DeleteAccount removes every blob did uploaded. It lists the whole store:
// object names are not indexed by prefix.
func (s *Store) DeleteAccount(ctx context.Context, did string) error {
	if err := checkDID(did); err != nil {
		return err
	}
	all, err := s.obj.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete blobs of %s: list: %w", did, err)
	}
	prefix := events.AccountToken(did) + "/"
	var errs []error
	for _, oi := range all {
		if !strings.HasPrefix(oi.Name, prefix) {
			continue
		}
		if err := s.obj.Delete(ctx, oi.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			errs = append(errs, fmt.Errorf("blob %s: %w", strings.TrimPrefix(oi.Name, prefix), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete blobs of %s: %w", did, err)
	}
	return nil
}

// readLimited reads all of r, refusing more than limit bytes (reading at
// most limit+1) and refusing none.
func readLimited(r io.Reader, limit, declaredSize int64) ([]byte, error) {
	if declaredSize > limit {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrTooLarge, declaredSize, limit)
	}
	var buf bytes.Buffer
	buf.Grow(int(max(0, min(declaredSize, limit)) + bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	return data, nil
}

// normalizeMimeType keeps the media type before any parameters, trimmed,
// as sent; empty means DefaultMimeType.
func normalizeMimeType(mimeType string) (string, error) {
	mt, _, _ := strings.Cut(mimeType, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return DefaultMimeType, nil
	}
	if _, _, err := mime.ParseMediaType(mt); err != nil || !strings.Contains(mt, "/") {
		return "", fmt.Errorf("%w: %q", ErrMimeType, mt)
	}
	return mt, nil
}

func infoOf(cid string, oi *jetstream.ObjectInfo) Info {
	mt := DefaultMimeType
	if v := oi.Headers.Get(headerMimeType); v != "" {
		mt = v
	}
	return Info{CID: cid, MimeType: mt, Size: int64(oi.Size)}
}

func objectName(did, cid string) string { return events.AccountToken(did) + "/" + cid }

// checkedName is the object name of did's blob cid, after checking both.
func checkedName(did, cid string) (string, error) {
	if err := checkDID(did); err != nil {
		return "", err
	}
	if _, err := syntax.ParseCID(cid); err != nil {
		return "", fmt.Errorf("blob cid %q: %w", cid, err)
	}
	return objectName(did, cid), nil
}

func checkDID(did string) error {
	if _, err := syntax.ParseDID(did); err != nil {
		return fmt.Errorf("blob owner: %w", err)
	}
	return nil
}
