// Package metrics is alf's Prometheus instrumentation: one registry per
// process, the scheduler's own series, and the handler that serves them at
// GET /metrics. Labels never carry DIDs, URIs or secrets.
//
//	m := metrics.New()
//	m.Published("published")
//	mux.Handle("GET /metrics", m.Handler())
//
// A nil *Metrics records nothing, so roles can run without it.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the series of one process.
type Metrics struct {
	reg        *prometheus.Registry
	publishes  *prometheus.CounterVec
	lateness   prometheus.Histogram
	dueEmitted prometheus.Counter
}

// New registers alf's series and the Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alf_publish_attempts_total",
			Help: "Publish attempts by outcome: published, retry or failed.",
		}, []string{"outcome"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "alf_publish_lateness_seconds",
			Help:    "Time from a draft's due instant to its claim by a publisher.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		dueEmitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alf_timer_due_emitted_total",
			Help: "DraftDue messages the timer emitted to ALF_DUE.",
		}),
	}
	reg.MustRegister(m.publishes, m.lateness, m.dueEmitted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Published counts one publish attempt's outcome.
func (m *Metrics) Published(outcome string) {
	if m == nil {
		return
	}
	m.publishes.WithLabelValues(outcome).Inc()
}

// Late observes how long after its due instant a draft was claimed.
func (m *Metrics) Late(d time.Duration) {
	if m == nil {
		return
	}
	m.lateness.Observe(max(d, 0).Seconds())
}

// Emitted counts DraftDue messages accepted by ALF_DUE.
func (m *Metrics) Emitted(n int) {
	if m == nil {
		return
	}
	m.dueEmitted.Add(float64(n))
}
