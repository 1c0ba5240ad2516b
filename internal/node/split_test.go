package node_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	alfv1 "github.com/latency-fabric/alf/gen/alf/v1"
	"github.com/latency-fabric/alf/gen/alf/v1/alfv1connect"
	"github.com/latency-fabric/alf/internal/embedded"
	"github.com/latency-fabric/alf/internal/pdstest"
	"github.com/latency-fabric/alf/internal/seal"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The three binaries, each its own process, against an external NATS
// (NATS_URL): a post scheduled through cmd/gateway is published by
// cmd/timer and cmd/publisher.
func TestSplitBinariesAgainstExternalNATS(t *testing.T) {
	t.Parallel()
	h := pdstest.Load(t)
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "github.com/latency-fabric/alf/cmd/gateway",
		"github.com/latency-fabric/alf/cmd/timer", "github.com/latency-fabric/alf/cmd/publisher")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Without ENCRYPTION_KEY (or NATS_URL) a split binary refuses to start
	// and names the variable.
	for _, missing := range []string{"ENCRYPTION_KEY", "NATS_URL"} {
		cmd := exec.Command(filepath.Join(bin, "publisher"))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if missing == "NATS_URL" {
			_, k := seal.NewKey()
			cmd.Env = append(cmd.Env, "ENCRYPTION_KEY="+k)
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), missing) {
			t.Fatalf("publisher without %s: %v, %s", missing, err, out)
		}
	}
	srv, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	port := freePort(t)
	_, keyHex := seal.NewKey()
	env := append(os.Environ(),
		"NATS_URL="+srv.ClientURL(),
		"ENCRYPTION_KEY="+keyHex,
		"ALF_SERVICE_DID="+serviceDID,
		"PLC_ROOT="+h.PLCURL,
		"LOG_LEVEL=warn",
	)
	ports := map[string]int{"gateway": port, "timer": freePort(t), "publisher": freePort(t)}
	for _, role := range []string{"gateway", "timer", "publisher"} {
		cmd := exec.Command(filepath.Join(bin, role))
		cmd.Env = append(env, "PORT="+strconv.Itoa(ports[role]))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		})
	}
	for role, p := range ports {
		eventually(t, 20*time.Second, role+" to answer /health", func() bool {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", p))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	u := signIn(t, h, 3)
	opt := connect.WithInterceptors(u.authenticate())
	drafts := alfv1connect.NewDraftServiceClient(http.DefaultClient, base, opt)
	connectAccount(t, u, alfv1connect.NewAccountServiceClient(http.DefaultClient, base, opt))
	marker := fmt.Sprintf("alf split %d", time.Now().UnixNano())
	d := createDraft(t, drafts, markedPost(t, marker, timestamppb.New(time.Now().Add(time.Second))))
	awaitStatus(t, drafts, d.Uri, alfv1.DraftStatus_DRAFT_STATUS_PUBLISHED)
	if got := countPosts(t, u.client, marker); got != 1 {
		t.Fatalf("%d posts on the PDS, want 1", got)
	}
	// Each role reports its own work on /metrics.
	for role, series := range map[string]string{
		"timer":     "alf_timer_due_emitted_total 1",
		"publisher": `alf_publish_attempts_total{outcome="published"} 1`,
	} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[role]))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), series) {
			t.Errorf("%s /metrics lacks %q", role, series)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
