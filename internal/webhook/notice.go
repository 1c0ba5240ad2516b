package webhook

import (
	"context"
	"errors"
	"fmt"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Notice is the JSON body of a POST.
type Notice struct {
	// URI is the AT-URI of the record written (or deleted).
	URI string `json:"uri"`
	// CID is the CID of the record as written; empty, and left out, for a
	// delete.
	CID string `json:"cid,omitempty"`
	// PublishedAt is when the write was recorded, RFC 3339 in UTC with
	// milliseconds, e.g. "2026-03-01T09:00:00.000Z".
	PublishedAt string `json:"publishedAt"`
}

// TimeFormat is the layout of Notice.PublishedAt.
const TimeFormat = "2006-01-02T15:04:05.000Z"

const typePublished = "DraftPublished"

// errPermanent marks a notice that no retry can build.
var errPermanent = errors.New("unusable event")

// NewNotice is the notice of a DraftPublished for the draft created with
// uri; the envelope's time is the publish time.
func NewNotice(uri string, env *eventsv1.Envelope) Notice {
	return Notice{
		URI:         uri,
		CID:         env.GetDraftPublished().GetCid(),
		PublishedAt: env.GetOccurredAt().AsTime().UTC().Format(TimeFormat),
	}
}

// notice builds the notice of a DraftPublished stored on subject. The event
// names its draft, not its URI: the URI is in the DraftCreated that opens
// the draft's subject, read from the stream by subject. Unlike a map of the
// DraftCreated events this consumer has seen, the read also works for drafts
// created before a restart; unlike a projection.View it needs no view in
// the process and no wait for one to catch up.
func (n *Notifier) notice(ctx context.Context, subject string, env *eventsv1.Envelope) (Notice, error) {
	pub := env.GetDraftPublished()
	if pub == nil {
		return Notice{}, fmt.Errorf("%w: %s is not a DraftPublished", errPermanent, events.TypeOf(env))
	}
	uri, err := n.draftURI(ctx, subject, pub.GetDraftId())
	if err != nil {
		return Notice{}, err
	}
	return NewNotice(uri, env), nil
}

// draftURI reads the URI of a draft from the first event of its subject.
func (n *Notifier) draftURI(ctx context.Context, subject, draftID string) (string, error) {
	raw, err := n.drafts.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", fmt.Errorf("%w: draft %s has no events (purged?)", errPermanent, draftID)
	}
	if err != nil {
		return "", fmt.Errorf("read draft %s: %w", draftID, err)
	}
	env, err := events.Decode(raw.Data)
	if err != nil {
		return "", fmt.Errorf("%w: draft %s: %w", errPermanent, draftID, err)
	}
	created := env.GetDraftCreated()
	if created == nil || created.GetDraftId() != draftID || created.GetUri() == "" {
		return "", fmt.Errorf("%w: draft %s does not start with its DraftCreated", errPermanent, draftID)
	}
	return created.GetUri(), nil
}
