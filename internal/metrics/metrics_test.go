package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latency-fabric/alf/internal/metrics"
)

func TestSeriesAreServed(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Published("published")
	m.Published("retry")
	m.Late(3 * time.Millisecond)
	m.Emitted(2)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`alf_publish_attempts_total{outcome="published"} 1`,
		`alf_publish_attempts_total{outcome="retry"} 1`,
		`alf_publish_lateness_seconds_bucket{le="0.005"} 1`,
		`alf_timer_due_emitted_total 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %q", want)
		}
	}
}
