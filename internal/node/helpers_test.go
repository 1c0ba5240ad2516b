package node_test

import (
	"context"
	"github.com/latency-fabric/alf/internal/embedded/natstest"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/bluesky-social/indigo/atproto/atclient"
	"github.com/bluesky-social/indigo/atproto/identity"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/auth"
	"github.com/latency-fabric/alf/internal/node"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/seal"
	"github.com/nats-io/nats.go"
)

// serviceDID is the aud the tests' alf expects.
const serviceDID = "did:web:localhost%3A1986"

// testKey seals the sessions of every test node.
var testKey, _ = seal.NewKey()

// The test servers and connections come from natstest.
var (
	natsServer   = natstest.Server
	natsServerAt = natstest.ServerAt
	connectNATS  = natstest.Conn
)

// startNode starts roles against nc resolving DIDs with dir; the gateway
// listens on a free loopback port.
func startNode(t *testing.T, nc *nats.Conn, dir identity.Directory, roles node.Roles, tune func(*node.Options)) *node.Node {
	t.Helper()
	opts := node.Options{
		Conn:       nc,
		Roles:      roles,
		Key:        testKey,
		ServiceDID: serviceDID,
		Directory:  dir,
	}
	if roles.Gateway {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		opts.Listener = ln
	}
	if tune != nil {
		tune(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// user is a harness account signed in to its PDS.
type user struct {
	acct   pdstest.Account
	client *atclient.APIClient

	mu     sync.Mutex
	tokens map[string]string
}

func signIn(t *testing.T, h *pdstest.Harness, i int) *user {
	t.Helper()
	acct := h.Account(t, i)
	c, err := atclient.LoginWithPasswordHost(context.Background(), h.PDSURL, acct.Handle, acct.Password, "", nil)
	if err != nil {
		t.Fatalf("sign in %s: %v", acct.Handle, err)
	}
	return &user{acct: acct, client: c, tokens: map[string]string{}}
}

// token fetches a service-auth JWT for alf and method lxm from the PDS.
func (u *user) token(ctx context.Context, lxm string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if tok, ok := u.tokens[lxm]; ok {
		return tok, nil
	}
	var out struct {
		Token string `json:"token"`
	}
	err := u.client.Get(ctx, "com.atproto.server.getServiceAuth", map[string]any{"aud": serviceDID, "lxm": lxm}, &out)
	if err != nil {
		return "", err
	}
	u.tokens[lxm] = out.Token // valid 60 s: enough for one test
	return out.Token, nil
}

// authenticate adds the user's service-auth token to every call.
func (u *user) authenticate() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			tok, err := u.token(ctx, auth.ProcedureLXM(req.Spec().Procedure))
			if err != nil {
				return nil, err
			}
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	})
}

// clients are the user's Connect clients for the node's gateway.
func (u *user) clients(n *node.Node) (alfv1connect.DraftServiceClient, alfv1connect.AccountServiceClient) {
	base := "http://" + n.Addr()
	opt := connect.WithInterceptors(u.authenticate())
	return alfv1connect.NewDraftServiceClient(http.DefaultClient, base, opt),
		alfv1connect.NewAccountServiceClient(http.DefaultClient, base, opt)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
