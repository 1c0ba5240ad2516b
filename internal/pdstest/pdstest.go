// Package pdstest gives end-to-end tests the real PDS that scripts/test
// starts (Bluesky's @atproto/pds with an in-memory PLC, on loopback).
//
// scripts/test starts the harness in tools/pds and points ALF_TEST_PDS at the
// JSON line it prints. A test asks for it with Load:
//
//	h := pdstest.Load(t)
//	alice := h.Accounts[0]
//
// Without ALF_TEST_PDS (a plain `go test ./...` on a laptop), Load skips the
// test and says how to run it; scripts/test always sets it, so CI runs them.
package pdstest

import (
	"encoding/json"
	"os"
	"testing"
)

// Env names the variable holding the path of the harness's ready.json.
const Env = "ALF_TEST_PDS"

// Account is a test account on the harness PDS.
type Account struct {
	DID         string `json:"did"`
	Handle      string `json:"handle"`
	Password    string `json:"password"`
	AppPassword string `json:"appPassword"`
	AccessJwt   string `json:"accessJwt"`
	RefreshJwt  string `json:"refreshJwt"`
}

// Harness describes the running PDS and PLC.
type Harness struct {
	PDSURL   string    `json:"pdsUrl"`
	PLCURL   string    `json:"plcUrl"`
	Accounts []Account `json:"accounts"`
	// AccessTokenAlg is how the PDS's OAuth provider signs access tokens:
	// HS256 (its default: a secret, nothing published) or the asymmetric
	// algorithm of PDS_ACCESS_TOKEN_ALG, whose key it publishes.
	AccessTokenAlg string `json:"accessTokenAlg"`
}

// Load returns the running harness, or skips the test when none was started.
func Load(t testing.TB) *Harness {
	t.Helper()
	path := os.Getenv(Env)
	if path == "" {
		t.Skipf("end-to-end test: needs the real PDS; run scripts/test (it sets %s)", Env)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read PDS harness info %s: %v", path, err)
	}
	var h Harness
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("parse PDS harness info %s: %v", path, err)
	}
	if h.PDSURL == "" || h.PLCURL == "" || len(h.Accounts) == 0 {
		t.Fatalf("PDS harness info %s is incomplete", path)
	}
	return &h
}

// Account returns the i-th test account, failing the test if there are
// fewer.
func (h *Harness) Account(t testing.TB, i int) Account {
	t.Helper()
	if i >= len(h.Accounts) {
		t.Fatalf("PDS harness has %d accounts, test wants #%d", len(h.Accounts), i)
	}
	return h.Accounts[i]
}
