// Package metrics exports heartbeatd's state to Prometheus (ha.cf's
// metrics_listen, off by default) on /metrics.
//
// Serving never blocks the main loop: the loop publishes a snapshot of
// the node core's state (status.Build plus a few counters) with an atomic
// pointer swap, at most once a second or at once after a change, and the
// HTTP handler only reads the last one. Counters kept outside the loop
// (script runs, timed by the executor's goroutines; failover durations)
// are client_golang's own lock-free metrics. heartbeatd(8) lists every
// metric.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"heartbeatd/haresources"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/node"
	"heartbeatd/internal/script"
	"heartbeatd/internal/status"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Shell holds the counters the daemon's shell keeps itself: packets that
// never reached the node core, and sends that failed.
type Shell struct {
	BadPackets   uint64 // failed to decode or to authenticate
	AuthFailures uint64 // of which failed authentication
	SendErrors   uint64 // sends a medium refused
}

// Snapshot is one publication of the loop.
type Snapshot struct {
	Status     *status.Snapshot
	Membership membership.Stats
	Sent       uint64 // messages sent (each on every medium)
	Shell      Shell
}

// Exporter is the metrics of one daemon. Publish and Scripts' runs may be
// called concurrently with scrapes. A nil *Exporter (metrics off) does
// nothing.
type Exporter struct {
	version string
	now     func() time.Time
	reg     *prometheus.Registry
	snap    atomic.Pointer[Snapshot]
	srv     *http.Server

	// Only the loop's goroutine touches these (Publish).
	last      time.Time
	changes   uint64
	failovers int

	failoverDur *prometheus.HistogramVec
	scriptRuns  *prometheus.CounterVec
	scriptDur   *prometheus.HistogramVec
}

// New returns an exporter; now is the daemon's clock (ages are computed
// at scrape time from it).
func New(version string, now func() time.Time) *Exporter {
	e := &Exporter{version: version, now: now, reg: prometheus.NewRegistry()}
	e.failoverDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "heartbeatd_failover_duration_seconds",
		Help: "Takeovers from a dead peer: time from the death declared to the last group started.",
		// From a quick IPaddr move to a long fsck or DRBD promotion.
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"peer"})
	e.scriptRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "heartbeatd_script_runs_total",
		Help: "Resource script runs by resource (as written in haresources), op and result.",
	}, scriptLabels)
	e.scriptDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "heartbeatd_script_duration_seconds",
		Help:    "Resource script run time by resource, op and result.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	}, scriptLabels)
	e.reg.MustRegister(snapshotCollector{e}, e.failoverDur, e.scriptRuns, e.scriptDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return e
}

var scriptLabels = []string{"resource", "op", "result"}

// Handler serves the metrics.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg, Timeout: 10 * time.Second})
}

// Start listens on addr (metrics_listen) and serves Path there. An empty
// addr means metrics are off: nil. An address that cannot be bound is
// logged through logf and gives nil too: a failover daemon must not stay
// down for want of its metrics. logf also reports a server that stops on
// an error.
func Start(addr, version string, now func() time.Time, logf func(format string, args ...any)) *Exporter {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logf("metrics_listen %s: %v; running without metrics", addr, err)
		return nil
	}
	e := New(version, now)
	mux := http.NewServeMux()
	mux.Handle(Path, e.Handler())
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 20 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("metrics: %v", err)
		}
	}()
	return e
}

// Close stops the server.
func (e *Exporter) Close() error {
	if e == nil || e.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return e.srv.Shutdown(ctx)
}

// Publish gives the scrapes a new snapshot of n when one is due: a second
// after the last, or at once when n reports a change (a node's status, a
// group's state or owner, fencing, a failover: a handful per failover).
// The loop calls it after every event; between publications it costs a
// comparison.
func (e *Exporter) Publish(now time.Time, n *node.Node, sh Shell) {
	if e == nil {
		return
	}
	if !e.last.IsZero() && now.Sub(e.last) < time.Second && n.Changes() == e.changes {
		return
	}
	e.last, e.changes = now, n.Changes()
	s := &Snapshot{Status: status.Build(e.version, n, now), Membership: n.Membership().Stats(), Sent: n.Sent(), Shell: sh}
	// The node keeps the last failover only; two within one publication
	// (never seen: each takes a deadtime) would both count its duration.
	for ; e.failovers < s.Status.Failovers; e.failovers++ {
		f := s.Status.LastFailover
		e.failoverDur.WithLabelValues(f.Peer).Observe(float64(f.DurationMS) / 1000)
	}
	e.snap.Store(s)
}

// Scripts runs resource scripts; the daemon's executor takes one.
type Scripts interface {
	RunOp(ctx context.Context, res haresources.Resource, op string, env []string) script.Result
	StartChecks(res haresources.Resource) bool
}

// Scripts wraps s so that every run is counted and timed. A nil exporter
// returns s itself.
func (e *Exporter) Scripts(s Scripts) Scripts {
	if e == nil {
		return s
	}
	return timedScripts{s, e}
}

type timedScripts struct {
	Scripts
	e *Exporter
}

func (t timedScripts) RunOp(ctx context.Context, res haresources.Resource, op string, env []string) script.Result {
	began := t.e.now()
	r := t.Scripts.RunOp(ctx, res, op, env)
	labels := []string{res.Raw, op, Outcome(op, r)}
	t.e.scriptRuns.WithLabelValues(labels...).Inc()
	t.e.scriptDur.WithLabelValues(labels...).Observe(t.e.now().Sub(began).Seconds())
	return r
}

// Outcome is a script run's result label: for start and stop ok or
// failed (exit status), for status running or stopped (Heartbeat's verdict
// on its output); whatever the op, missing (no such script), timeout,
// unkillable (it outlived SIGKILL) or error (it could not be run).
func Outcome(op string, r script.Result) string {
	switch {
	case errors.Is(r.Err, script.ErrUnkillable):
		return "unkillable"
	case r.TimedOut:
		return "timeout"
	case script.IsMissing(r.Err):
		return "missing"
	case r.Err != nil:
		return "error"
	case op == "status" && r.Running:
		return "running"
	case op == "status":
		return "stopped"
	case r.ExitCode == 0:
		return "ok"
	}
	return "failed"
}
