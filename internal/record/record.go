// Package record handles atproto records as the client's JSON bytes: it
// checks them against the atproto data model, computes their content
// address (CID) the way a PDS does, computes blob CIDs, and stamps createdAt
// at publish time without disturbing any other byte.
//
// Records are never round-tripped through float64 or protobuf Struct:
// atproto distinguishes integers, {"$link": …} and {"$bytes": …}, and a
// record's CID depends on all of them.
//
//	cid, err := record.CID(body)         // bafyrei…
//	body, err = record.WithCreatedAt(body, time.Now())
//	ref := record.BlobCID(imageBytes)    // bafkrei…
package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/bluesky-social/indigo/atproto/atdata"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// ErrInvalid is wrapped by every error about a record that is not valid
// atproto data: not a JSON object, a float, a malformed $link or $bytes, a
// malformed blob, or too large.
var ErrInvalid = errors.New("invalid record")

var (
	recordPrefix = cid.NewPrefixV1(cid.DagCBOR, multihash.SHA2_256)
	blobPrefix   = cid.NewPrefixV1(cid.Raw, multihash.SHA2_256)
)

// CID returns the CIDv1 (dag-cbor, sha2-256, base32) of the record: JSON →
// atproto data model → DAG-CBOR → hash.
func CID(recordJSON []byte) (string, error) {
	obj, err := parse(recordJSON)
	if err != nil {
		return "", err
	}
	return cidOf(obj)
}

// cidOf is the CID of a parsed record.
func cidOf(obj map[string]any) (string, error) {
	enc, err := atdata.MarshalCBOR(obj)
	if err != nil {
		return "", fmt.Errorf("%w: encode DAG-CBOR: %v", ErrInvalid, err)
	}
	if len(enc) > atdata.MAX_CBOR_RECORD_SIZE {
		return "", fmt.Errorf("%w: %d bytes of CBOR, more than %d", ErrInvalid, len(enc), atdata.MAX_CBOR_RECORD_SIZE)
	}
	c, err := recordPrefix.Sum(enc)
	if err != nil {
		return "", fmt.Errorf("record CID: %w", err)
	}
	return c.String(), nil
}

// Validate checks that the record is a JSON object that is valid atproto
// data, without computing its CID.
func Validate(recordJSON []byte) error {
	_, err := parse(recordJSON)
	return err
}

// BlobCID returns the CIDv1 (raw, sha2-256, base32) of blob bytes.
func BlobCID(data []byte) string {
	c, err := blobPrefix.Sum(data)
	if err != nil {
		panic("record: sha2-256 multihash failed: " + err.Error()) // cannot happen for a registered hash
	}
	return c.String()
}

// parse decodes the JSON keeping integers exact, checks the data model with
// atdata, and returns a value ready for atdata.MarshalCBOR ($link → CIDLink,
// $bytes → Bytes).
func parse(recordJSON []byte) (map[string]any, error) {
	if len(recordJSON) > atdata.MAX_JSON_RECORD_SIZE {
		return nil, fmt.Errorf("%w: %d bytes of JSON, more than %d", ErrInvalid, len(recordJSON), atdata.MAX_JSON_RECORD_SIZE)
	}
	raw, err := decodeJSON(recordJSON)
	if err != nil {
		return nil, err
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: top level is not a JSON object", ErrInvalid)
	}
	if err := atdata.Validate(obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	out, err := toModel(obj)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return integers(v)
}

// integers replaces every json.Number with an int64, rejecting floats.
func integers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: number %s is not a 64-bit integer (atproto records allow no floats)", ErrInvalid, v)
		}
		return n, nil
	case map[string]any:
		for k, e := range v {
			n, err := integers(e)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	case []any:
		for i, e := range v {
			n, err := integers(e)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	}
	return v, nil
}

// toModel turns {"$link": s} into a CID link and {"$bytes": b64} into bytes,
// at any depth; atdata.Validate has already checked their shape. Blobs stay
// maps, so their ref becomes a link like any other.
func toModel(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["$link"]; ok && len(v) == 1 {
			return link(v["$link"])
		}
		if _, ok := v["$bytes"]; ok && len(v) == 1 {
			s, _ := v["$bytes"].(string)
			b, err := base64.RawStdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("%w: $bytes: %v", ErrInvalid, err)
			}
			return atdata.Bytes(b), nil
		}
		for k, e := range v {
			m, err := toModel(e)
			if err != nil {
				return nil, err
			}
			v[k] = m
		}
	case []any:
		for i, e := range v {
			m, err := toModel(e)
			if err != nil {
				return nil, err
			}
			v[i] = m
		}
	}
	return v, nil
}

func link(v any) (atdata.CIDLink, error) {
	s, _ := v.(string)
	c, err := cid.Decode(s)
	if err != nil {
		return atdata.CIDLink{}, fmt.Errorf("%w: $link %q: %v", ErrInvalid, s, err)
	}
	return atdata.CIDLink(c), nil
}
