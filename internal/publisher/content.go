package publisher

import (
	"context"
	"errors"
	"fmt"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
	"github.com/latency-fabric/alf/internal/projection"
	"github.com/latency-fabric/alf/internal/record"
)

// Fetcher fetches the record of a dynamic schedule's occurrence from its
// content URL (content.Fetcher does). An error with a Retryable method
// saying false fails the draft at once; any other is retried like a failed
// PDS write.
type Fetcher interface {
	Fetch(ctx context.Context, url string, fireCount int, scheduledAt time.Time) ([]byte, error)
}

// needsContent reports whether the draft's record is still to be fetched.
func needsContent(d projection.Draft) bool {
	return d.Occurrence != nil && d.Occurrence.ContentURL != "" && len(d.Record) == 0
}

// fetchContent fetches a dynamic draft's record and fixes it in the log
// (DraftContentFetched at the claim's sequence) before anything is
// written, so every later attempt and any takeover write the same bytes.
// It returns the draft with its record and the sequence the outcome is to
// be appended at, or the outcome of a failed fetch.
func (p *Publisher) fetchContent(ctx context.Context, d projection.Draft, c projection.Claim, claimSeq uint64) (projection.Draft, uint64, *outcome, error) {
	if !needsContent(d) {
		return d, claimSeq, nil, nil
	}
	if p.cfg.Content == nil {
		return d, claimSeq, &outcome{kind: failed, reason: "content_url_fetch_failed: this server does not fetch content URLs"}, nil
	}
	o := d.Occurrence
	body, err := p.cfg.Content.Fetch(ctx, o.ContentURL, int(o.FireCount), o.At)
	if err == nil {
		body, d.CID, err = record.Prepare(d.Collection, body)
		if err != nil {
			err = permanentContent{fmt.Errorf("the content is not a valid record: %w", err)}
		}
	}
	if err != nil {
		out := p.cfg.Policy.classify(contentError{err}, c.Attempt, p.cfg.Clock.Now())
		out.reason = truncate("content_url_fetch_failed: " + out.reason)
		return d, claimSeq, &out, nil
	}
	env := events.New(Actor, p.cfg.Clock.Now(), &eventsv1.DraftContentFetched{DraftId: d.ID, Record: body, Cid: d.CID})
	seq, err := p.cfg.Store.Append(ctx, events.DraftSubject(d.DID, d.ID), claimSeq, env)
	if err != nil {
		return d, claimSeq, nil, err
	}
	d.Record = body
	return d, seq, nil, nil
}

// contentError marks a failed fetch: retryable unless it says otherwise.
type contentError struct{ err error }

func (e contentError) Error() string { return e.err.Error() }
func (e contentError) Unwrap() error { return e.err }

func (e contentError) retryable() bool {
	var r interface{ Retryable() bool }
	if errors.As(e.err, &r) {
		return r.Retryable()
	}
	return true
}

// permanentContent is content that retrying cannot mend.
type permanentContent struct{ error }

func (permanentContent) Retryable() bool { return false }
