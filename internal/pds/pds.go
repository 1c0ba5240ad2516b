// Package pds is alf's outbound side: the record writes alf performs on a
// user's PDS, and the app-password sessions that authorize them.
//
// A Client writes one account's repository. Sessions keeps app-password
// sessions sealed (internal/seal) in a JetStream KV bucket and hands out
// Clients that renew their tokens on their own: the access JWT is refreshed
// when it expires or the PDS says ExpiredToken, and when the refresh JWT is
// dead too the client logs in again with the stored app password. Every
// renewal is written back with compare-and-swap, so several processes can
// share one session.
//
//	sessions := pds.NewSessions(kv, key, identity.DefaultDirectory(), nil)
//	host, err := sessions.ConnectAppPassword(ctx, did, "alice.example.com", appPassword)
//	c, err := sessions.Client(ctx, did)
//	res, err := c.CreateRecord(ctx, "app.bsky.feed.post", rkey, recordJSON)
//	if pds.UnknownOutcome(err) { /* read it back with GetRecord before deciding */ }
//	if pds.Retryable(err) { /* try again later, not before Error.RetryAfter */ }
//
// UploadBlob and ApplyWrites (several writes in one commit, e.g. a thread)
// fail the same way and are classified by the same two functions.
package pds

import (
	"context"
	"errors"
	"io"

	"github.com/bluesky-social/indigo/atproto/syntax"
)

// Result is what the PDS reports for a write. CID is empty for deletes; Rev
// is the repository revision of the commit.
type Result struct{ URI, CID, Rev string }

// Client performs writes on one account's repository. Records are the
// client's JSON bytes and are sent as they are.
type Client interface {
	// DID is the account whose repository the client writes.
	DID() syntax.DID
	CreateRecord(ctx context.Context, collection, rkey string, record []byte) (Result, error)
	PutRecord(ctx context.Context, collection, rkey string, record []byte) (Result, error)
	DeleteRecord(ctx context.Context, collection, rkey string) (Result, error)
	// GetRecord returns the record's CID and JSON value, or an error
	// matching ErrNotFound.
	GetRecord(ctx context.Context, collection, rkey string) (cid string, value []byte, err error)
	// UploadBlob uploads bytes with their mime type and returns the blob
	// ref as the PDS gives it. size is the number of bytes (-1: unknown).
	UploadBlob(ctx context.Context, mimeType string, data io.Reader, size int64) (BlobRef, error)
	// ApplyWrites performs several writes in one commit
	// (com.atproto.repo.applyWrites): all of them or none. Results come in
	// the order of writes.
	ApplyWrites(ctx context.Context, writes []Write) ([]Result, error)
}

var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("record not found")
	// ErrRevoked: the session cannot be renewed; the PDS refuses the stored
	// app password (revoked, changed, account deleted or taken down). The
	// user has to connect again.
	ErrRevoked = errors.New("app-password session revoked")
	// ErrNoSession: alf holds no usable session for the account.
	ErrNoSession = errors.New("no app-password session for this account")
	// ErrWrongAccount: the login succeeded for another account than the
	// one being connected.
	ErrWrongAccount = errors.New("app password belongs to another account")
	// ErrNotAppPassword: the password given is the account's main password,
	// which alf refuses to store.
	ErrNotAppPassword = errors.New("not an app password (the account's main password was given)")
	// ErrLoginRefused: the PDS refused the identifier and password.
	ErrLoginRefused = errors.New("PDS refused the login")
)
