package gateway

import (
	"net/http"

	eventsv1 "github.com/latency-fabric/alf/gen/alf/events/v1"
)

// statusLXM is the method a /oauth/status token names: the route is the
// REST form of AccountService.GetAuthorization.
const statusLXM = "alf.v1.AccountService.GetAuthorization"

// oauthStatus serves GET /oauth/status as the reference does: never 401;
// a caller alf cannot authenticate is simply not authorized. Unlike the
// reference, a revoked session reads as not authorized.
func (g *Gateway) oauthStatus(w http.ResponseWriter, r *http.Request) {
	did, err := g.cfg.Verifier.VerifyRequest(r.Context(), r, statusLXM)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"authorized": false, "authType": nil})
		return
	}
	a, _ := g.cfg.View.Account(did.String())
	var authType any
	if a.Authorized {
		authType = authTypeName(a.Method)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"authorized":       a.Authorized,
		"authType":         authType,
		"disableRecurring": g.cfg.DisableRecurring,
	})
}

func authTypeName(m eventsv1.AuthMethod) string {
	if m == eventsv1.AuthMethod_AUTH_METHOD_APP_PASSWORD {
		return "app_password"
	}
	return "oauth"
}
