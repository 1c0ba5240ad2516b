package publisher

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/latency-fabric/alf/internal/blob"
	"github.com/latency-fabric/alf/internal/pds"
	"github.com/latency-fabric/alf/internal/projection"
)

// uploadBlobs uploads the blobs a draft's record references that alf keeps
// for the account, before the record is written.
func (p *Publisher) uploadBlobs(ctx context.Context, client pds.Client, d projection.Draft) error {
	return p.uploadRecordBlobs(ctx, client, d.DID, d.Record)
}

// uploadRecordBlobs uploads a record's blobs. A blob alf does not have
// (uploaded to the PDS by the client, or already published) is left to the
// PDS.
func (p *Publisher) uploadRecordBlobs(ctx context.Context, client pds.Client, did string, rec []byte) error {
	if p.cfg.Blobs == nil || len(rec) == 0 {
		return nil
	}
	refs, err := blob.Refs(rec)
	if err != nil {
		return nil // the record was checked when the draft was made
	}
	for _, cid := range refs {
		if err := p.uploadBlob(ctx, client, did, cid); err != nil {
			return err
		}
	}
	return nil
}

func (p *Publisher) uploadBlob(ctx context.Context, client pds.Client, did, cid string) error {
	info, body, err := p.cfg.Blobs.Get(ctx, did, cid)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read blob %s: %w: %v", cid, errStoreUnavailable, err)
	}
	defer body.Close()
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	ref, err := client.UploadBlob(wctx, info.MimeType, body, info.Size)
	if err != nil {
		return fmt.Errorf("upload blob %s: %w", cid, err)
	}
	if ref.CID != cid {
		return fmt.Errorf("upload blob %s: the PDS made it %s", cid, ref.CID)
	}
	return nil
}

// dropBlobs removes the published record's blobs from alf's store, unless
// another of the account's unpublished drafts still uses them. Best effort:
// a blob left behind is only storage.
func (p *Publisher) dropBlobs(ctx context.Context, d projection.Draft) {
	if p.cfg.Blobs == nil {
		return
	}
	refs := draftBlobs(d)
	if len(refs) == 0 {
		return
	}
	inUse := p.blobsInUse(d)
	for _, cid := range refs {
		if inUse[cid] {
			continue
		}
		if err := p.cfg.Blobs.Delete(ctx, d.DID, cid); err != nil && !errors.Is(err, blob.ErrNotFound) {
			p.cfg.Log.Warn("drop published blob", "draft", d.ID, "cid", cid, "err", err)
		}
	}
}

// blobsInUse are the blobs referenced by the account's other drafts that
// may still be published.
func (p *Publisher) blobsInUse(published projection.Draft) map[string]bool {
	used := map[string]bool{}
	for _, d := range p.cfg.View.Active(published.DID) {
		if d.ID == published.ID {
			continue
		}
		for _, cid := range draftBlobs(d) {
			used[cid] = true
		}
	}
	return used
}

// draftBlobs are the blobs a draft's record (or its batch's records) uses.
func draftBlobs(d projection.Draft) []string {
	records := [][]byte{d.Record}
	for _, w := range d.Writes {
		records = append(records, w.GetRecord())
	}
	var out []string
	for _, r := range records {
		if !bytes.Contains(r, []byte(`"blob"`)) { // no {"$type":"blob"} in it: skip the parse
			continue
		}
		refs, _ := blob.Refs(r)
		out = append(out, refs...)
	}
	return out
}
