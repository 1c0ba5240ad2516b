package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/bluesky-social/indigo/atproto/auth/oauth"
)

// successMessage is the reference's answer to a callback without redirect.
const successMessage = "Authorization successful. You can now use the scheduled posts service."

// Handler serves alf's OAuth routes:
//
//	GET /oauth/authorize?handle=<handle or DID>&redirect_uri=<optional>
//	GET /oauth/callback
//	GET /oauth/client-metadata.json
//	GET /oauth/jwks.json
//
// Mount it at "/oauth/" (a more specific route such as GET /oauth/status
// still wins) or at each path.
func (c *Client) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+authorizePath, c.serveAuthorize)
	mux.HandleFunc("GET "+callbackPath, c.serveCallback)
	mux.HandleFunc("GET "+metadataPath, c.serveMetadata)
	mux.HandleFunc("GET "+jwksPath, c.serveJWKS)
	return mux
}

// Metadata is the client metadata document served at
// /oauth/client-metadata.json. For a loopback client it describes what the
// authorization server derives from the client_id (public, native).
func (c *Client) Metadata() oauth.ClientMetadata {
	m := c.cfg.ClientMetadata()
	name, uri := clientName, c.service
	m.ClientName, m.ClientURI = &name, &uri
	if c.Confidential() {
		jwks := c.service + jwksPath
		m.JWKSURI = &jwks
	} else {
		native := "native"
		m.ApplicationType = &native
	}
	return m
}

// JWKS is the public client key set served at /oauth/jwks.json (empty for
// a loopback client).
func (c *Client) JWKS() (JWKS, error) { return c.key.publicJWKS() }

// serveAuthorize: 302 to the authorization server, or 400 for a missing
// handle or a redirect_uri alf does not send users to.
func (c *Client) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	handle := strings.TrimSpace(q.Get("handle"))
	if handle == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "handle parameter is required"})
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect != "" {
		if err := c.checkRedirect(redirect); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
	}
	to, err := c.start(r.Context(), handle, redirect)
	if errors.Is(err, errBadIdentifier) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "handle parameter must be a handle or a DID"})
		return
	}
	if err != nil {
		c.log.Info("oauth: authorization not started", "handle", handle, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "Authorization failed", "message": err.Error()})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

// serveCallback completes the flow: 302 to the pending redirect_uri with
// did=<DID> added, or 200 with the reference's JSON.
func (c *Client) serveCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("code") == "" {
		body := map[string]any{"error": "Missing authorization code"}
		if reason := oauthCode(q.Get("error")); reason != "" {
			body["message"] = "The authorization server answered " + reason
			if err := c.store.deleteRequest(r.Context(), q.Get("state")); err != nil {
				c.log.Warn("oauth: could not delete a refused authorization request", "err", err)
			}
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}
	a, redirect, err := c.complete(r.Context(), q)
	if err != nil {
		c.log.Info("oauth: authorization not completed", "err", err)
		msg := err.Error()
		if errors.Is(err, errHook) {
			msg = "The authorization could not be recorded; please start again."
		}
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "Authorization callback failed", "message": msg})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if redirect != "" {
		http.Redirect(w, r, withDID(redirect, a.DID), http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success bool   `json:"success"`
		DID     string `json:"did"`
		Message string `json:"message"`
	}{true, a.DID.String(), successMessage})
}

func (c *Client) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, c.Metadata())
}

func (c *Client) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	set, err := c.JWKS()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "InternalError"})
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, set)
}

// oauthCode keeps an error code from a query only if it looks like one
// (RFC 6749 codes are lowercase ASCII and underscores).
func oauthCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return ""
		}
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
