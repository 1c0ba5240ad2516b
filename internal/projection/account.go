package projection

import (
	"time"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	"github.com/latency-fabric/alf/internal/events"
)

// Account is alf's authorization to write to one account's repo.
type Account struct {
	DID           string
	Authorized    bool
	Method        eventsv1.AuthMethod
	PDSHost       string
	AuthorizedAt  time.Time
	RevokedReason string
	Version       uint64
}

// FoldAccount applies one event of the account's subject to its state.
func FoldAccount(a Account, ev events.Event) Account {
	env := ev.Envelope
	if env == nil {
		return a
	}
	at := env.GetOccurredAt().AsTime()
	switch e := env.Event.(type) {
	case *eventsv1.Envelope_AccountAuthorized:
		a = Account{
			DID:          e.AccountAuthorized.GetDid(),
			Authorized:   true,
			Method:       e.AccountAuthorized.GetMethod(),
			PDSHost:      e.AccountAuthorized.GetPdsHost(),
			AuthorizedAt: at,
		}
	case *eventsv1.Envelope_AccountRevoked:
		a.DID = e.AccountRevoked.GetDid()
		a.Authorized = false
		a.RevokedReason = e.AccountRevoked.GetReason()
	default:
		return a
	}
	a.Version = ev.Seq
	return a
}
