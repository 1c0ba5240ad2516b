package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Headers of a POST besides Content-Type.
const (
	// HeaderSignature carries Sign(SigningKey, body) when a key is set.
	HeaderSignature = "X-Alf-Signature"
	// HeaderEventID carries the id of the DraftPublished event: the same on
	// every retry of one notice, so receivers can drop repeats.
	HeaderEventID = "X-Alf-Event-Id"
)

const signaturePrefix = "sha256="

// Sign is the X-Alf-Signature of body under key: "sha256=" and the
// lowercase hex HMAC-SHA256 of the body, as sent.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is the X-Alf-Signature of body under
// key, in constant time: what a receiver checks before trusting a notice.
func Verify(key, body []byte, signature string) bool {
	hexSum, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hmac.Equal(sum, mac.Sum(nil))
}

// post sends one notice, within Timeout. Any answer but 2xx is an error.
func (n *Notifier) post(ctx context.Context, notice Notice, eventID string) error {
	body, err := json.Marshal(notice)
	if err != nil {
		return fmt.Errorf("%w: encode notice: %w", errPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: request to %s: %w", errPermanent, n.host, redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, eventID)
	if len(n.cfg.SigningKey) > 0 {
		req.Header.Set(HeaderSignature, Sign(n.cfg.SigningKey, body))
	}
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", n.host, redact(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: answered %s", n.host, resp.Status)
	}
	return nil
}

// redact drops the URL that net/http puts in its errors: it may hold a
// secret.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
