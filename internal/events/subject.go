// Package events is alf's event log on NATS JetStream: subject naming, the
// provisioning of streams, buckets and the object store, appends with
// optimistic concurrency, and ordered replay.
//
// Every state change of alf is an alf.events.v1.Envelope appended to the
// stream ALF_EVENTS on the subject of its aggregate:
//
//	alf.evt.draft.<acct>.<draft>      one draft lifecycle
//	alf.evt.schedule.<acct>.<sched>   one recurring schedule
//	alf.evt.account.<acct>            one account's authorization
//
// Tokens are hashes (see Token) because DIDs and AT-URIs contain '.' and ':'.
// The real identifiers live in the payload. The account token comes first so
// that everything of one user is one subject filter (AccountFilter).
//
// A command appends with the version (last subject sequence) it was decided
// on, so two writers can never both move one aggregate:
//
//	seq, err := store.Append(ctx, events.DraftSubject(did, id), version, env)
//	if errors.Is(err, events.ErrConflict) { /* reload and decide again */ }
package events

import (
	"crypto/sha256"
	"encoding/base32"
	"strconv"
	"strings"
	"time"
)

// Stream, bucket and object-store names.
const (
	StreamEvents    = "ALF_EVENTS"
	StreamDue       = "ALF_DUE"
	BucketSessions  = "alf_sessions"
	BucketTriggers  = "alf_triggers"
	BucketSnapshots = "alf_snapshots"
	BucketAPIKeys   = "alf_api_keys"
	ObjectBlobs     = "alf_blobs"
	// BucketOAuth holds alf's OAuth client key (sealed), shared by every
	// gateway of a deployment.
	BucketOAuth = "alf_oauth"
	// BucketOAuthRequests holds pending OAuth authorization requests
	// (sealed), kept for OAuthRequestTTL.
	BucketOAuthRequests = "alf_oauth_requests"
)

// OAuthRequestTTL is how long a pending OAuth authorization request lives:
// the time a user has to sign in and approve alf.
const OAuthRequestTTL = 10 * time.Minute

// Subject prefixes.
const (
	eventsPrefix = "alf.evt."
	duePrefix    = "alf.due."
)

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Token is the subject token for an identifier: lowercase base32 of the first
// 16 bytes of its SHA-256 (26 characters, safe in a NATS subject).
func Token(id string) string {
	sum := sha256.Sum256([]byte(id))
	return strings.ToLower(tokenEncoding.EncodeToString(sum[:16]))
}

// AccountToken is the subject token of an account DID.
func AccountToken(did string) string { return Token(did) }

// DraftID names one lifecycle of the draft of an AT-URI: the first draft of
// a URI has lifecycle 1, a later draft of the same URI (after the earlier one
// ended) the next number.
func DraftID(uri string, lifecycle uint32) string {
	return Token(uri + "#" + strconv.FormatUint(uint64(lifecycle), 10))
}

// DraftSubject is the subject of a draft lifecycle's events.
func DraftSubject(did, draftID string) string {
	return eventsPrefix + "draft." + AccountToken(did) + "." + draftID
}

// ScheduleSubject is the subject of a recurring schedule's events.
func ScheduleSubject(did, scheduleID string) string {
	return eventsPrefix + "schedule." + AccountToken(did) + "." + Token(scheduleID)
}

// Filters of every draft event and every schedule event, of all accounts.
const (
	DraftsFilter    = eventsPrefix + "draft.>"
	SchedulesFilter = eventsPrefix + "schedule.>"
)

// DeletedSubject is the subject of an account's tombstone (AccountDeleted):
// outside AccountFilters, so purging the account leaves it.
func DeletedSubject(did string) string {
	return eventsPrefix + "deleted." + AccountToken(did)
}

// IsScheduleSubject reports whether subject is a schedule's.
func IsScheduleSubject(subject string) bool {
	return strings.HasPrefix(subject, eventsPrefix+"schedule.")
}

// AccountSubject is the subject of an account's authorization events.
func AccountSubject(did string) string {
	return eventsPrefix + "account." + AccountToken(did)
}

// DueSubject is the ALF_DUE subject for an account's due drafts.
func DueSubject(did string) string {
	return duePrefix + AccountToken(did)
}

// AccountDraftsFilter selects every draft event of one account.
func AccountDraftsFilter(did string) string {
	return eventsPrefix + "draft." + AccountToken(did) + ".*"
}

// AccountFilters are the subject filters that select every event of one
// account, for audit, export and purge.
func AccountFilters(did string) []string {
	acct := AccountToken(did)
	return []string{
		eventsPrefix + "draft." + acct + ".*",
		eventsPrefix + "schedule." + acct + ".*",
		eventsPrefix + "account." + acct,
	}
}
