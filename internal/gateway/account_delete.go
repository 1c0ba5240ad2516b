package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/syntax"
	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/internal/events"
)

// deleteAccountLXM is the method a DELETE /account token names: the route
// is the REST form of AccountService.DeleteAccount.
const deleteAccountLXM = "alf.v1.AccountService.DeleteAccount"

func (s *accounts) DeleteAccount(ctx context.Context, _ *connect.Request[alfv1.DeleteAccountRequest]) (*connect.Response[alfv1.DeleteAccountResponse], error) {
	did, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.g.deleteAccount(ctx, did); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&alfv1.DeleteAccountResponse{Deleted: true}), nil
}

// serveDeleteAccount serves DELETE /account: 200 {"deleted":true}. Unlike
// the reference (401 {"error":"Unauthorized"} for every failure), a caller
// alf cannot authenticate gets 401 AuthenticationRequired and a storage
// failure 503, and everything of the account is removed, not only its
// session.
func (g *Gateway) serveDeleteAccount(w http.ResponseWriter, r *http.Request) {
	did, err := g.cfg.Verifier.VerifyRequest(r.Context(), r, deleteAccountLXM)
	if err != nil {
		writeXRPCError(w, http.StatusUnauthorized, "AuthenticationRequired", authMessage(err))
		return
	}
	if err := g.limitAccount(did); err != nil {
		writeErr(w, err)
		return
	}
	if err := g.deleteAccount(r.Context(), did); err != nil {
		g.cfg.Log.Error("delete account", "err", err)
		writeXRPCError(w, http.StatusServiceUnavailable, "Unavailable", "the account could not be deleted completely; try again")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
}

// deleteAccount removes everything alf holds about did. The tombstone
// comes first, so every process stops deciding anything for the account;
// then its events are purged (work under way for it then fails its
// appends), and its session, triggers, blobs and API keys removed. It is safe to
// repeat after a failure.
func (g *Gateway) deleteAccount(ctx context.Context, did syntax.DID) error {
	triggers := g.cfg.View.TriggerHashes(did.String())
	env := events.New("alf:gateway", g.cfg.Clock.Now(), &eventsv1.AccountDeleted{AccountToken: events.AccountToken(did.String())})
	seq, err := g.cfg.Store.Append(ctx, events.DeletedSubject(did.String()), 0, env)
	if errors.Is(err, events.ErrConflict) {
		seq, err = g.cfg.Store.Append(ctx, events.DeletedSubject(did.String()), g.lastOf(ctx, did), env)
	}
	if err != nil {
		return fmt.Errorf("append tombstone: %w", err)
	}
	if err := g.waitView(ctx, seq); err != nil {
		return err
	}
	var errs []error
	errs = append(errs, g.cfg.Store.PurgeAccount(ctx, did.String()))
	if g.cfg.Accounts != nil {
		errs = append(errs, g.cfg.Accounts.Delete(ctx, did))
	}
	if g.cfg.OAuth != nil {
		errs = append(errs, g.cfg.OAuth.Delete(ctx, did))
	}
	if g.cfg.Triggers != nil {
		errs = append(errs, g.cfg.Triggers.Forget(ctx, triggers))
	}
	if g.cfg.Blobs != nil {
		errs = append(errs, g.cfg.Blobs.DeleteAccount(ctx, did.String()))
	}
	if g.cfg.APIKeys != nil {
		errs = append(errs, g.cfg.APIKeys.DeleteAccount(ctx, did))
	}
	return errors.Join(errs...)
}

// lastOf is the sequence of the account's last tombstone (an account
// deleted before, used again, and deleted again).
func (g *Gateway) lastOf(ctx context.Context, did syntax.DID) uint64 {
	last, err := g.cfg.Store.LastOfSubject(ctx, events.DeletedSubject(did.String()))
	if err != nil {
		return 0
	}
	return last
}
