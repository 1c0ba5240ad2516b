package projection

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
)

// View is the in-memory read model of drafts and accounts. Apply must be
// called with events in log order from one goroutine (an events.Feed); every
// other method is safe for concurrent use.
type View struct {
	mu        sync.RWMutex
	seq       uint64
	advanced  chan struct{} // closed and replaced whenever seq moves
	drafts    map[string]*Draft
	current   map[string]string              // AT-URI → newest draft ID
	byAccount map[string]map[string]struct{} // DID → draft IDs
	draftsSeq map[string]uint64              // DID → sequence of its last draft event
	spends    map[string][]spend             // DID → alf's writes of the last day
	accounts  map[string]Account
	observers []func(Draft)

	schedules      map[string]*Schedule
	schedulesByDID map[string]map[string]struct{} // DID → schedule IDs
}

// NewView returns an empty view.
func NewView() *View {
	return &View{
		advanced:  make(chan struct{}),
		drafts:    make(map[string]*Draft),
		current:   make(map[string]string),
		byAccount: make(map[string]map[string]struct{}),
		draftsSeq: make(map[string]uint64),
		spends:    make(map[string][]spend),
		accounts:  make(map[string]Account),

		schedules:      make(map[string]*Schedule),
		schedulesByDID: make(map[string]map[string]struct{}),
	}
}

// Observe registers fn to be called with the new state of every draft that
// changes, after the view shows it, on the applying goroutine. Register
// observers before the feed starts.
func (v *View) Observe(fn func(Draft)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.observers = append(v.observers, fn)
}

// Apply folds one event into the view.
func (v *View) Apply(ev events.Event) {
	v.mu.Lock()
	changed, ok := v.apply(ev)
	if ev.Seq > v.seq {
		v.seq = ev.Seq
		close(v.advanced)
		v.advanced = make(chan struct{})
	}
	observers := v.observers
	v.mu.Unlock()
	if !ok {
		return
	}
	for _, fn := range observers {
		fn(changed)
	}
}

func (v *View) apply(ev events.Event) (Draft, bool) {
	env := ev.Envelope
	if env == nil {
		return Draft{}, false
	}
	switch e := env.Event.(type) {
	case *eventsv1.Envelope_AccountAuthorized:
		v.applyAccount(e.AccountAuthorized.GetDid(), ev)
		return Draft{}, false
	case *eventsv1.Envelope_AccountRevoked:
		v.applyAccount(e.AccountRevoked.GetDid(), ev)
		return Draft{}, false
	case *eventsv1.Envelope_AccountDeleted:
		v.dropAccount(e.AccountDeleted.GetAccountToken())
		return Draft{}, false
	}
	if id := events.ScheduleIDOf(env); id != "" {
		v.applySchedule(id, ev)
		return Draft{}, false
	}
	id := events.DraftIDOf(env)
	if id == "" {
		return Draft{}, false
	}
	var prev Draft
	if p := v.drafts[id]; p != nil {
		prev = *p
	}
	next := Fold(prev, ev)
	if next.ID == "" { // an event for a draft this view never saw created
		return Draft{}, false
	}
	v.drafts[id] = &next
	v.draftsSeq[next.DID] = ev.Seq
	if next.Status == StatusPublished && prev.Status != StatusPublished {
		v.recordSpend(next)
	}
	if prev.ID == "" {
		v.index(&next)
	}
	if o := next.Occurrence; o != nil {
		if s := v.schedules[o.ScheduleID]; s != nil {
			*s = ObserveDraft(*s, prev, next)
		}
	}
	return next, true
}

func (v *View) applySchedule(id string, ev events.Event) {
	var prev Schedule
	if p := v.schedules[id]; p != nil {
		prev = *p
	}
	next := FoldSchedule(prev, ev)
	if next.ID == "" {
		return
	}
	v.schedules[id] = &next
	if prev.ID == "" {
		ids := v.schedulesByDID[next.DID]
		if ids == nil {
			ids = make(map[string]struct{})
			v.schedulesByDID[next.DID] = ids
		}
		ids[id] = struct{}{}
	}
}

// dropAccount forgets everything of the account whose subject token is
// token: its drafts, schedules, authorization and write spends.
func (v *View) dropAccount(token string) {
	for did := range v.dids() {
		if events.AccountToken(did) != token {
			continue
		}
		for id := range v.byAccount[did] {
			if cur, ok := v.current[v.drafts[id].URI]; ok && cur == id {
				delete(v.current, v.drafts[id].URI)
			}
			delete(v.drafts, id)
		}
		for id := range v.schedulesByDID[did] {
			delete(v.schedules, id)
		}
		delete(v.byAccount, did)
		delete(v.schedulesByDID, did)
		delete(v.draftsSeq, did)
		delete(v.spends, did)
		delete(v.accounts, did)
	}
}

// dids is every account the view holds anything of.
func (v *View) dids() map[string]struct{} {
	out := make(map[string]struct{}, len(v.accounts)+len(v.byAccount))
	for did := range v.byAccount {
		out[did] = struct{}{}
	}
	for did := range v.schedulesByDID {
		out[did] = struct{}{}
	}
	for did := range v.accounts {
		out[did] = struct{}{}
	}
	return out
}

func (v *View) applyAccount(did string, ev events.Event) {
	v.accounts[did] = FoldAccount(v.accounts[did], ev)
}

func (v *View) index(d *Draft) {
	if cur, ok := v.current[d.URI]; !ok || v.drafts[cur].Lifecycle < d.Lifecycle {
		v.current[d.URI] = d.ID
	}
	ids := v.byAccount[d.DID]
	if ids == nil {
		ids = make(map[string]struct{})
		v.byAccount[d.DID] = ids
	}
	ids[d.ID] = struct{}{}
}

// Seq is the sequence of the last event applied.
func (v *View) Seq() uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.seq
}

// WaitFor blocks until the view has applied the event at seq, or ctx ends.
func (v *View) WaitFor(ctx context.Context, seq uint64) error {
	for {
		v.mu.RLock()
		cur, ch := v.seq, v.advanced
		v.mu.RUnlock()
		if cur >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for event %d (view at %d): %w", seq, cur, ctx.Err())
		}
	}
}

// Draft returns a draft lifecycle by ID.
func (v *View) Draft(id string) (Draft, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	d := v.drafts[id]
	if d == nil {
		return Draft{}, false
	}
	return *d, true
}

// DraftByURI returns the newest draft lifecycle of an AT-URI.
func (v *View) DraftByURI(uri string) (Draft, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	id, ok := v.current[uri]
	if !ok {
		return Draft{}, false
	}
	return *v.drafts[id], true
}

// Account returns the authorization state of an account.
func (v *View) Account(did string) (Account, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, ok := v.accounts[did]
	return a, ok
}

// Pending returns every draft the timer must know about: scheduled drafts
// and drafts held by a publisher.
func (v *View) Pending() []Draft {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []Draft
	for _, d := range v.drafts {
		if d.Status == StatusScheduled || d.Status == StatusPublishing {
			out = append(out, *d)
		}
	}
	return out
}

// ActiveCount is the number of an account's drafts that are not terminal.
func (v *View) ActiveCount(did string) int {
	n, _ := v.ActiveCountAt(did)
	return n
}

// ActiveCountAt is ActiveCount together with the sequence of the account's
// last draft event, the version the count was decided at: append with
// events.Store.AppendGuarded and events.AccountDraftsFilter so the count
// still holds when the event is stored.
func (v *View) ActiveCountAt(did string) (int, uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n := 0
	for id := range v.byAccount[did] {
		if !v.drafts[id].Status.Terminal() {
			n++
		}
	}
	return n, v.draftsSeq[did]
}

// Active returns an account's drafts that are not terminal.
func (v *View) Active(did string) []Draft {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []Draft
	for id := range v.byAccount[did] {
		if d := v.drafts[id]; !d.Status.Terminal() {
			out = append(out, *d)
		}
	}
	return out
}

// Query selects a page of an account's drafts.
type Query struct {
	Status Status // "" for every status
	Limit  int    // 1–100; 0 means 50
	Cursor string // from the previous page
	// BySchedule orders by scheduled time, soonest first, instead of newest
	// first by creation.
	BySchedule bool
}

// ErrBadCursor reports a cursor this view did not make.
var ErrBadCursor = errors.New("invalid cursor")

// List returns a page of an account's drafts, newest first (or soonest
// first with BySchedule), ties broken by ID so no row is skipped or repeated
// across pages, and the cursor of the next page ("" after the last).
func (v *View) List(did string, q Query) ([]Draft, string, error) {
	after, err := parseCursor(q.Cursor)
	if err != nil {
		return nil, "", err
	}
	key, cmp := listOrder(q.BySchedule)

	v.mu.RLock()
	rows := make([]Draft, 0, len(v.byAccount[did]))
	for id := range v.byAccount[did] {
		d := v.drafts[id]
		if q.Status != "" && d.Status != q.Status {
			continue
		}
		if after != nil && cmp(after.at, after.id, key(d), d.ID) >= 0 {
			continue
		}
		rows = append(rows, *d)
	}
	v.mu.RUnlock()

	rows, next := cut(rows, q.Limit, func(d Draft) (time.Time, string) { return key(&d), d.ID }, cmp)
	return rows, next, nil
}

// cut sorts rows by (sort key, id) with cmp and returns the first page of
// limit rows (1–100; 0 means 50) and the cursor of the next ("" after the
// last).
func cut[T any](rows []T, limit int, sortKey func(T) (time.Time, string), cmp func(at time.Time, id string, bt time.Time, bid string) int) ([]T, string) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 100)
	slices.SortFunc(rows, func(a, b T) int {
		at, aid := sortKey(a)
		bt, bid := sortKey(b)
		return cmp(at, aid, bt, bid)
	})
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	at, id := sortKey(rows[limit-1])
	return rows, makeCursor(at, id)
}

// listOrder gives the sort key of a listing and the comparison of two rows
// by (key, id): negative when the first comes first.
func listOrder(bySchedule bool) (func(*Draft) time.Time, func(at time.Time, id string, bt time.Time, bid string) int) {
	if bySchedule {
		return func(d *Draft) time.Time { return d.ScheduledAt },
			func(at time.Time, id string, bt time.Time, bid string) int {
				if c := at.Compare(bt); c != 0 {
					return c
				}
				return strings.Compare(id, bid)
			}
	}
	return func(d *Draft) time.Time { return d.CreatedAt },
		func(at time.Time, id string, bt time.Time, bid string) int {
			if c := bt.Compare(at); c != 0 {
				return c
			}
			return strings.Compare(bid, id)
		}
}

type cursor struct {
	at time.Time
	id string
}

func makeCursor(at time.Time, id string) string {
	raw := strconv.FormatInt(at.UnixNano(), 10) + ":" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parseCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	ns, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return nil, ErrBadCursor
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return nil, ErrBadCursor
	}
	return &cursor{at: time.Unix(0, n).UTC(), id: id}, nil
}

// TriggerHashes returns the trigger hashes of every draft of an account.
func (v *View) TriggerHashes(did string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []string
	for id := range v.byAccount[did] {
		if h := v.drafts[id].TriggerHash; h != "" {
			out = append(out, h)
		}
	}
	return out
}
