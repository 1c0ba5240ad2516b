package auth

import (
	"encoding/json"
	"net/http"
)

// Middleware verifies each request before next sees it, with lxm(r) as the
// method the token must name (for XRPC, the route's NSID), and puts the
// caller's DID in the request context. A refused request gets 401 with the
// XRPC error body {"error":"AuthenticationRequired","message":...}.
func (v *Verifier) Middleware(lxm func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		did, err := v.VerifyRequest(r.Context(), r, lxm(r))
		if err != nil {
			writeUnauthorized(w, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithDID(r.Context(), did)))
	})
}

func writeUnauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("WWW-Authenticate", "Bearer")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"error":   "AuthenticationRequired",
		"message": message,
	})
}
