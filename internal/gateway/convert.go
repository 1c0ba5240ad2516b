package gateway

import (
	"context"
	"fmt"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/projection"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// draftMessage is the API form of a draft, for its owner.
func (g *Gateway) draftMessage(ctx context.Context, d projection.Draft) *alfv1.Draft {
	m := &alfv1.Draft{
		Uri:           d.URI,
		Cid:           d.CID,
		Collection:    d.Collection,
		Rkey:          d.Rkey,
		Action:        draftAction(d.Action),
		Status:        draftStatus(d.Status),
		ScheduledAt:   timestamp(d.ScheduledAt),
		CreatedAt:     timestamp(d.CreatedAt),
		UpdatedAt:     timestamp(d.UpdatedAt),
		PublishedAt:   timestamp(d.PublishedAt),
		FailureReason: d.FailureReason,
		Attempts:      d.Attempts,
		PublishedCid:  d.PublishedCID,
	}
	if o := d.Occurrence; o != nil {
		m.ScheduleId = o.ScheduleID
	}
	if g.cfg.Triggers != nil {
		m.TriggerUrl = g.cfg.Triggers.URL(ctx, d.TriggerHash)
	}
	m.Record = recordStruct(d.Record)
	for _, w := range d.Writes {
		m.Writes = append(m.Writes, &alfv1.DraftWrite{
			Action: draftAction(w.GetAction()), Collection: w.GetCollection(), Rkey: w.GetRkey(),
			Record: recordStruct(w.GetRecord()), Cid: w.GetCid(),
		})
	}
	return m
}

// recordStruct is a record's JSON as a Struct (nil for none).
func recordStruct(b []byte) *structpb.Struct {
	if len(b) == 0 {
		return nil
	}
	rec := new(structpb.Struct)
	if protojson.Unmarshal(b, rec) != nil {
		return nil
	}
	return rec
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func draftAction(a eventsv1.Action) alfv1.DraftAction {
	switch a {
	case eventsv1.Action_ACTION_PUT:
		return alfv1.DraftAction_DRAFT_ACTION_PUT
	case eventsv1.Action_ACTION_DELETE:
		return alfv1.DraftAction_DRAFT_ACTION_DELETE
	case eventsv1.Action_ACTION_BATCH:
		return alfv1.DraftAction_DRAFT_ACTION_BATCH
	}
	return alfv1.DraftAction_DRAFT_ACTION_CREATE
}

var statuses = map[projection.Status]alfv1.DraftStatus{
	projection.StatusDraft:      alfv1.DraftStatus_DRAFT_STATUS_DRAFT,
	projection.StatusScheduled:  alfv1.DraftStatus_DRAFT_STATUS_SCHEDULED,
	projection.StatusPublishing: alfv1.DraftStatus_DRAFT_STATUS_PUBLISHING,
	projection.StatusPublished:  alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED,
	projection.StatusFailed:     alfv1.DraftStatus_DRAFT_STATUS_FAILED,
	projection.StatusCancelled:  alfv1.DraftStatus_DRAFT_STATUS_CANCELLED,
}

func draftStatus(s projection.Status) alfv1.DraftStatus { return statuses[s] }

// statusFilter maps an API status to the projection's ("" for all).
func statusFilter(s alfv1.DraftStatus) projection.Status {
	for k, v := range statuses {
		if v == s {
			return k
		}
	}
	return ""
}

// recordJSON is the JSON of a record given as a Struct (record.Prepare
// compacts it).
func recordJSON(rec *structpb.Struct) ([]byte, error) {
	raw, err := protojson.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return raw, nil
}
