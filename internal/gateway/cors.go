package gateway

import (
	"net/http"
	"strings"
)

// corsMethods and corsHeaders are what browsers may send (spec §4.1), the
// DPoP header included.
const (
	corsMethods = "GET,HEAD,PUT,PATCH,POST,DELETE"
	corsHeaders = "Authorization, Content-Type, DPoP, X-Scheduled-At, X-Trigger, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout, X-Grpc-Web, X-User-Agent"
)

// withCORS reflects the caller's Origin (no credentials) and answers
// preflights with 204, as the reference does.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Retry-After")
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Methods", corsMethods)
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		} else {
			h.Set("Access-Control-Allow-Headers", corsHeaders)
		}
		h.Set("Access-Control-Max-Age", "7200")
		h.Add("Vary", strings.Join([]string{"Access-Control-Request-Method", "Access-Control-Request-Headers"}, ", "))
		w.WriteHeader(http.StatusNoContent)
	})
}
