package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"heartbeatd/haresources"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/script"
	"heartbeatd/internal/status/statustest"
)

// scrape fetches the handler's text and returns each sample by its name
// with labels, as written (`name{a="x",b="y"}`), and the HELP/TYPE lines.
func scrape(t *testing.T, h http.Handler) (samples map[string]string, text string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", Path, resp.Status)
	}
	body, _ := io.ReadAll(resp.Body)
	samples = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		samples[line[:i]] = line[i+1:]
	}
	return samples, string(body)
}

func want(t *testing.T, samples map[string]string, series, value string) {
	t.Helper()
	got, ok := samples[series]
	switch {
	case !ok:
		t.Errorf("%s missing", series)
	case got != value:
		t.Errorf("%s = %s, want %s", series, got, value)
	}
}

// TestScrapeThroughAFailover publishes a real node's state at the
// moments the loop would and checks what a scrape shows: before the
// first publication, with both nodes up, and after pa2's death and the
// takeover.
func TestScrapeThroughAFailover(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	clock := p.Now
	e := New("3.0.6 (heartbeatd)", func() time.Time { return clock })

	s, _ := scrape(t, e.Handler())
	if _, ok := s[`heartbeatd_node_up{node="pa1"}`]; ok {
		t.Error("node metrics before anything was published")
	}
	if _, ok := s["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	p.Run(20 * time.Second)
	e.Publish(p.Now, p.Node(0), Shell{BadPackets: 3, AuthFailures: 2, SendErrors: 1})
	clock = p.Now.Add(1500 * time.Millisecond) // a scrape 1.5 s later
	s, text := scrape(t, e.Handler())
	want(t, s, `heartbeatd_info{node="pa1",version="3.0.6 (heartbeatd)"}`, "1")
	want(t, s, "heartbeatd_snapshot_age_seconds", "1.5")
	want(t, s, `heartbeatd_node_up{node="pa1"}`, "1")
	want(t, s, `heartbeatd_node_up{node="pa2"}`, "1")
	want(t, s, `heartbeatd_node_generation{node="pa2"}`, "101")
	want(t, s, `heartbeatd_link_up{link="eth2",node="pa2"}`, "1")
	want(t, s, `heartbeatd_link_packets_lost_total{link="eth1",node="pa2"}`, "0")
	want(t, s, `heartbeatd_link_late_heartbeats_total{link="eth1",node="pa2"}`, "0")
	want(t, s, `heartbeatd_link_loss_ratio{link="eth1",node="pa2"}`, "0")
	want(t, s, "heartbeatd_packets_auth_failed_total", "2")
	want(t, s, "heartbeatd_packets_bad_total", "3")
	want(t, s, "heartbeatd_send_errors_total", "1")
	want(t, s, "heartbeatd_packets_lost_total", "0")
	want(t, s, "heartbeatd_packets_replayed_total", "0")
	want(t, s, `heartbeatd_group_state{group="10.0.0.1",state="running"}`, "1")
	want(t, s, `heartbeatd_group_state{group="10.0.0.1",state="stopped"}`, "0")
	want(t, s, `heartbeatd_group_owner{group="IPaddr::10.0.0.2/24/eth0",node="pa2"}`, "1")
	want(t, s, `heartbeatd_group_owner{group="IPaddr::10.0.0.2/24/eth0",node="pa1"}`, "0")
	want(t, s, "heartbeatd_failovers_total", "0")
	want(t, s, "heartbeatd_fence_attempts_total", "0")
	want(t, s, `heartbeatd_fence_results_total{result="ok"}`, "0")
	want(t, s, `heartbeatd_fence_results_total{result="failed"}`, "0")
	for _, m := range []string{"heartbeatd_packets_sent_total", "heartbeatd_packets_received_total",
		"heartbeatd_packets_duplicate_total", `heartbeatd_link_packets_received_total{link="eth1",node="pa2"}`} {
		if v := s[m]; v == "" || v == "0" {
			t.Errorf("%s = %q, want a count", m, v)
		}
	}
	// The age of the last keepalive grows between publications.
	if v, err := strconv.ParseFloat(s[`heartbeatd_node_last_heard_seconds{node="pa2"}`], 64); err != nil || v < 1.5 || v > 2.5 {
		t.Errorf("pa2 last heard %v s ago at the scrape (%v)", v, err)
	}
	for _, line := range []string{"# TYPE heartbeatd_link_packets_lost_total counter", "# TYPE heartbeatd_node_up gauge"} {
		if !strings.Contains(text, line) {
			t.Errorf("no %q", line)
		}
	}

	// Within a second and without a change, nothing new is published.
	before := e.snap.Load()
	p.Run(200 * time.Millisecond)
	e.Publish(p.Now, p.Node(0), Shell{})
	if e.snap.Load() != before {
		t.Error("published again within a second without a change")
	}

	// pa2 dies; pa1 publishes on the change (the death) at once.
	p.Kill(1)
	for i := 0; p.Node(0).Membership().Status("pa2") != "dead"; i++ {
		if i > 10000 {
			t.Fatal("pa2 never declared dead")
		}
		p.Run(time.Millisecond)
		e.Publish(p.Now, p.Node(0), Shell{})
	}
	if st := e.snap.Load().Status; st.Nodes[1].Status != "dead" {
		t.Errorf("the death was not published at once: %+v", st.Nodes[1])
	}
	p.Run(3 * time.Second)
	e.Publish(p.Now, p.Node(0), Shell{})
	clock = p.Now
	s, text = scrape(t, e.Handler())
	want(t, s, `heartbeatd_node_up{node="pa2"}`, "0")
	want(t, s, `heartbeatd_link_up{link="eth1",node="pa2"}`, "0")
	want(t, s, "heartbeatd_failovers_total", "1")
	want(t, s, `heartbeatd_group_owner{group="IPaddr::10.0.0.2/24/eth0",node="pa1"}`, "1")
	want(t, s, `heartbeatd_group_state{group="IPaddr::10.0.0.2/24/eth0",state="running"}`, "1")
	want(t, s, `heartbeatd_failover_duration_seconds_count{peer="pa2"}`, "1")
	want(t, s, `heartbeatd_failover_duration_seconds_bucket{peer="pa2",le="0.25"}`, "0")
	want(t, s, `heartbeatd_failover_duration_seconds_bucket{peer="pa2",le="0.5"}`, "1")
	if !strings.Contains(text, "# TYPE heartbeatd_failover_duration_seconds histogram") {
		t.Error("no failover histogram")
	}
	// Published again later, the same failover is not counted twice.
	p.Run(2 * time.Second)
	e.Publish(p.Now, p.Node(0), Shell{})
	s, _ = scrape(t, e.Handler())
	want(t, s, `heartbeatd_failover_duration_seconds_count{peer="pa2"}`, "1")
}

type fakeScripts struct {
	clock  *time.Time
	took   time.Duration
	result script.Result
}

func (f *fakeScripts) StartChecks(haresources.Resource) bool { return false }

func (f *fakeScripts) RunOp(ctx context.Context, res haresources.Resource, op string, env []string) script.Result {
	*f.clock = f.clock.Add(f.took)
	return f.result
}

func TestScriptRuns(t *testing.T) {
	clock := statustest.T0
	e := New("v", func() time.Time { return clock })
	ip := haresources.Resource{Script: "IPaddr", Args: []string{"10.0.0.1"}, Raw: "10.0.0.1"}
	fs := haresources.Resource{Script: "Filesystem", Raw: "Filesystem::/dev/drbd0::/srv::ext4"}
	run := func(res haresources.Resource, op string, took time.Duration, r script.Result) {
		e.Scripts(&fakeScripts{clock: &clock, took: took, result: r}).RunOp(context.Background(), res, op, nil)
	}
	run(ip, "start", 2*time.Second, script.Result{})
	run(ip, "start", 30*time.Millisecond, script.Result{})
	run(ip, "status", 5*time.Millisecond, script.Result{Running: true})
	run(fs, "stop", time.Minute, script.Result{ExitCode: -1, TimedOut: true, Err: errors.New("timed out")})
	run(fs, "start", 0, script.Result{ExitCode: 1})
	s, _ := scrape(t, e.Handler())
	want(t, s, `heartbeatd_script_runs_total{op="start",resource="10.0.0.1",result="ok"}`, "2")
	want(t, s, `heartbeatd_script_runs_total{op="status",resource="10.0.0.1",result="running"}`, "1")
	want(t, s, `heartbeatd_script_runs_total{op="stop",resource="Filesystem::/dev/drbd0::/srv::ext4",result="timeout"}`, "1")
	want(t, s, `heartbeatd_script_runs_total{op="start",resource="Filesystem::/dev/drbd0::/srv::ext4",result="failed"}`, "1")
	want(t, s, `heartbeatd_script_duration_seconds_sum{op="start",resource="10.0.0.1",result="ok"}`, "2.03")
	want(t, s, `heartbeatd_script_duration_seconds_bucket{op="start",resource="10.0.0.1",result="ok",le="0.05"}`, "1")
	want(t, s, `heartbeatd_script_duration_seconds_bucket{op="start",resource="10.0.0.1",result="ok",le="2.5"}`, "2")

	var off *Exporter
	inner := &fakeScripts{clock: &clock}
	if off.Scripts(inner) != Scripts(inner) {
		t.Error("metrics off: the runner is not the daemon's own")
	}
	off.Publish(clock, nil, Shell{}) // must not touch the node
	if err := off.Close(); err != nil {
		t.Error(err)
	}
}

func TestOutcome(t *testing.T) {
	for _, c := range []struct {
		op   string
		r    script.Result
		want string
	}{
		{"start", script.Result{}, "ok"},
		{"stop", script.Result{ExitCode: 7}, "failed"},
		{"status", script.Result{Running: true}, "running"},
		{"status", script.Result{ExitCode: 3}, "stopped"},
		{"stop", script.Result{ExitCode: -1, Err: script.ErrUnkillable}, "unkillable"},
		{"start", script.Result{ExitCode: -1, Err: errors.New("exec: permission denied")}, "error"},
	} {
		if got := Outcome(c.op, c.r); got != c.want {
			t.Errorf("Outcome(%s, %+v) = %s, want %s", c.op, c.r, got, c.want)
		}
	}
}

// TestStart serves on a real socket; an address that cannot be bound is
// logged and leaves metrics off.
func TestStart(t *testing.T) {
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
	if e := Start("", "v", time.Now, logf); e != nil {
		t.Fatal("metrics_listen unset: serving anyway")
	}
	e := Start("127.0.0.1:0", "v", time.Now, logf)
	if e == nil {
		t.Fatalf("127.0.0.1:0: %v", logged)
	}
	defer e.Close()
	if e := Start("127.0.0.1:99999", "v", time.Now, logf); e != nil || len(logged) != 1 ||
		!strings.Contains(logged[0], "metrics_listen 127.0.0.1:99999: ") || !strings.HasSuffix(logged[0], "; running without metrics") {
		t.Errorf("port 99999: %v, logged %q", e, logged)
	}
}

// TestManPageListsMetrics: every metric the exporter describes is in
// heartbeatd(8)'s METRICS section, and nothing there is unknown.
func TestManPageListsMetrics(t *testing.T) {
	page, err := os.ReadFile("../../man/heartbeatd.8")
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	i, j := strings.Index(text, ".SH METRICS"), strings.Index(text, ".SH RESOURCE SCRIPTS")
	if i < 0 || j < i {
		t.Fatal("heartbeatd.8 has no METRICS section before RESOURCE SCRIPTS")
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`heartbeatd_[a-z_]+`).FindAllString(text[i:j], -1) {
		documented[m] = true
	}
	ch := make(chan *prometheus.Desc, 100)
	snapshotCollector{}.Describe(ch)
	close(ch)
	names := []string{"heartbeatd_failover_duration_seconds", "heartbeatd_script_runs_total", "heartbeatd_script_duration_seconds"}
	for d := range ch {
		names = append(names, regexp.MustCompile(`fqName: "([a-z_]+)"`).FindStringSubmatch(d.String())[1])
	}
	for _, n := range names {
		if !documented[n] {
			t.Errorf("heartbeatd.8 does not list %s", n)
		}
		delete(documented, n)
	}
	for n := range documented {
		t.Errorf("heartbeatd.8 lists %s, which the exporter does not have", n)
	}
}

// TestScrapeWhilePublishing scrapes from other goroutines while the
// "loop" steps the node and publishes (run with -race).
func TestScrapeWhilePublishing(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	e := New("v", time.Now)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			resp, err := http.Get(srv.URL)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	for i := 0; i < 300; i++ {
		p.Run(100 * time.Millisecond)
		e.Publish(p.Now, p.Node(0), Shell{})
		if i == 150 {
			p.Kill(1)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if st := e.snap.Load().Status; st.Failovers != 1 {
		t.Errorf("after the run: %d failovers", st.Failovers)
	}
}
