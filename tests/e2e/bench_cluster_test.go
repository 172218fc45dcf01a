//go:build netns && bench

package e2e

// TestBenchCluster is `make bench-cluster`: one run, one table, heartbeatd
// next to real Heartbeat 3.0.6 (and the floor program for resource use),
// the goals checked under it. Knobs for a quick smoke run (the
// defaults are the issue's):
//
//	HBD_BENCH_REPS=7            failover repetitions per cell
//	HBD_BENCH_LOSS_SECS=60      each false-failover window
//	HBD_BENCH_IDLE_SECS=40      each idle-use window
//	HBD_BENCH_ROUNDS=3          idle-use rounds
//	HBD_BENCH_PARTITION_SECS=20 length of the total partition
//	HBD_BENCH_WATCH_SECS=60     longest the client watches after the heal
//	HBD_BENCH_PARTITION_REPS=3  partition repetitions
//	HBD_BENCH_ONLY=failover,loss,idle,partition   sections to run
//	HBD_BENCH_OUT=path          also write the table (Markdown) there

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	hdName, hbName, floorName = "heartbeatd", "Heartbeat 3.0.6", "floor"
)

// The bench's timings (warntime, initdead as the e2e tests use them).
var (
	tm100 = timing{"100ms", "500ms", "300ms", "3"}
	tm20  = timing{"20ms", "100ms", "60ms", "3"}
	tm2s  = timing{"2", "30", "10", "120"}
	// lossTiming (loss_test.go) is 10 ms / 50 ms.
)

// label is "100 ms / 500 ms" (ha.cf's plain numbers are seconds).
func (tm timing) label() string {
	f := func(s string) string {
		if v, ok := strings.CutSuffix(s, "ms"); ok {
			return v + " ms"
		}
		return s + " s"
	}
	return f(tm.keepalive) + " / " + f(tm.deadtime)
}

// dist is one cell's measurements, and the repetitions that failed.
type dist struct {
	v     []float64
	fails []string
}

func (d *dist) add(v float64, err error) {
	if err != nil {
		d.fails = append(d.fails, err.Error())
		return
	}
	d.v = append(d.v, v)
	sort.Float64s(d.v)
}

func (d *dist) median() (float64, bool) {
	if d == nil || len(d.v) == 0 {
		return 0, false
	}
	return d.v[len(d.v)/2], true
}

// cell renders "median (min–max)" with format, how many measurements, and
// how many failed: a failed repetition shows in the table.
func (d *dist) cell(format string) string {
	if d == nil {
		return "—"
	}
	s := "no result"
	if m, ok := d.median(); ok {
		s = fmt.Sprintf(format, m)
		if len(d.v) > 1 {
			s += fmt.Sprintf(" ("+format+"–"+format+")", d.v[0], d.v[len(d.v)-1])
		}
	}
	if len(d.fails) > 0 {
		s += fmt.Sprintf(" **%d of %d failed**", len(d.fails), len(d.fails)+len(d.v))
	}
	return s
}

// benchRow is one line of the table: what, at which timing, and the cells
// of heartbeatd, Heartbeat and the floor.
type benchRow struct {
	what, timing string
	cells        map[string]*dist
	format       string
}

type benchTable struct {
	rows  []benchRow
	goals []string
	notes []string
}

func (b *benchTable) row(what string, tm timing, format string, cells map[string]*dist) {
	b.rows = append(b.rows, benchRow{what, tm.label(), cells, format})
}

// goal adds a pass/fail line; missing is true when a number it needs is
// not there.
func (b *benchTable) goal(pass, missing bool, text string) {
	verdict := "FAIL"
	switch {
	case missing:
		verdict = "n/a "
	case pass:
		verdict = "PASS"
	}
	if missing {
		text += " [a number is missing: its measurements failed, see below]"
	}
	b.goals = append(b.goals, verdict+"  "+text)
}

func (b *benchTable) String() string {
	var s strings.Builder
	s.WriteString("| measurement | keepalive / deadtime | heartbeatd | Heartbeat 3.0.6 | floor |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range b.rows {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s |\n", r.what, r.timing,
			r.cells[hdName].cell(r.format), r.cells[hbName].cell(r.format), r.cells[floorName].cell(r.format))
	}
	s.WriteString("\n")
	for _, g := range b.goals {
		s.WriteString("    " + g + "\n")
	}
	for _, r := range b.rows {
		for _, who := range []string{hdName, hbName, floorName} {
			if r.cells[who] == nil {
				continue
			}
			for _, f := range r.cells[who].fails {
				b.notes = append(b.notes, fmt.Sprintf("failed: %s, %s, %s: %s", r.what, r.timing, who, f))
			}
		}
	}
	if len(b.notes) > 0 {
		s.WriteString("\n")
	}
	for _, n := range b.notes {
		s.WriteString(n + "\n")
	}
	return s.String()
}

func TestBenchCluster(t *testing.T) {
	reps := envInt(t, "HBD_BENCH_REPS", 7)
	lossWindow := envSecs(t, "HBD_BENCH_LOSS_SECS", 60)
	idleWindow := envSecs(t, "HBD_BENCH_IDLE_SECS", 40)
	rounds := envInt(t, "HBD_BENCH_ROUNDS", 3)
	cut := envSecs(t, "HBD_BENCH_PARTITION_SECS", 20)
	watch := envSecs(t, "HBD_BENCH_WATCH_SECS", 60)
	partReps := envInt(t, "HBD_BENCH_PARTITION_REPS", 3)
	only := os.Getenv("HBD_BENCH_ONLY")
	section := func(name string) bool {
		return only == "" || strings.Contains(","+only+",", ","+name+",")
	}
	began := time.Now()
	progress := func(format string, args ...any) {
		t.Logf("[%v] %s", time.Since(began).Round(time.Second), fmt.Sprintf(format, args...))
	}
	var tab benchTable
	daemons := []string{hdName, hbName}

	if section("failover") {
		med := map[string]*dist{} // timing label + fault + who
		for _, tm := range []timing{tm100, tm20, lossTiming} {
			for _, fault := range []string{"crash", "power-off"} {
				cells := map[string]*dist{hdName: {}, hbName: {}}
				// Repetitions alternate between the daemons, so that a
				// change in the machine's load hits both alike.
				for i := 0; i < reps; i++ {
					for _, who := range daemons {
						d, err := failoverOnce(t, who == hbName, fault, tm)
						cells[who].add(float64(d.Milliseconds()), err)
						progress("failover %s %s %s rep %d: %v %v", tm.label(), fault, who, i+1, d.Round(time.Millisecond), errText(err))
					}
				}
				what := map[string]string{"crash": "failover, kill -9 (ms)", "power-off": "failover, kill -9 and both links cut (ms)"}[fault]
				tab.row(what, tm, "%.0f", cells)
				for who, d := range cells {
					med[tm.label()+fault+who] = d
				}
			}
		}
		for _, fault := range []string{"crash", "power-off"} {
			name := map[string]string{"crash": "kill -9", "power-off": "cut"}[fault]
			a, okA := med[tm20.label()+fault+hdName].median()
			b, okB := med[tm20.label()+fault+hbName].median()
			tab.goal(a <= 0.3*b, !okA || !okB, fmt.Sprintf("20/100 %s: heartbeatd median %.0f ms <= 0.3 x Heartbeat's %.0f ms (%.0f ms); ratio %.2f", name, a, b, 0.3*b, a/b))
		}
		for _, fault := range []string{"crash", "power-off"} {
			name := map[string]string{"crash": "kill -9", "power-off": "cut"}[fault]
			a, ok := med[lossTiming.label()+fault+hdName].median()
			tab.goal(a <= 60, !ok, fmt.Sprintf("10/50 %s: heartbeatd median %.0f ms <= 60 ms", name, a))
		}
		tab.notes = append(tab.notes, fmt.Sprintf("Failover: %d repetitions per cell, median (min–max), from the fault to the first ARP claiming the VIP from the new node, in the client's capture. kill -9: the active node's daemon only (real Heartbeat's master control process); its kernel keeps the VIP and answers ARP. Both links cut: kill -9 and both links cut, nobody answers.", reps))
	}

	if section("loss") {
		for _, tm := range []timing{tm20, lossTiming} {
			for _, pct := range []int{10, 30} {
				cells := map[string]*dist{hdName: {}, hbName: {}}
				for _, who := range daemons {
					n, err := lossOnce(t, who == hbName, tm, pct, lossWindow)
					cells[who].add(float64(n), err)
					progress("loss %d%% %s %s: %d false failovers %v", pct, tm.label(), who, n, errText(err))
				}
				tab.row(fmt.Sprintf("false failovers, %d %% loss on both links, %v", pct, lossWindow), tm, "%.0f", cells)
				if tm == lossTiming && pct == 30 {
					tab.notes = append(tab.notes, "False failovers: how often a node declared its peer dead (\"node N: is dead\") in the window, two nodes without resources, that share of the packets arriving on each link of each node dropped (nftables numgen random).")
					n, ok := cells[hdName].median()
					tab.goal(n == 0, !ok, fmt.Sprintf("10/50 30 %% loss: heartbeatd %.0f false failovers in %v (the goal is 10 minutes: make bench-loss)", n, lossWindow))
				}
			}
		}
	}

	if section("idle") {
		floorBin := buildFloor(t)
		all := []string{hdName, hbName, floorName}
		for _, tm := range []timing{tm100, tm2s} {
			cpu := map[string]*dist{hdName: {}, hbName: {}, floorName: {}}
			pss := map[string]*dist{hdName: {}, hbName: {}, floorName: {}}
			ratio := &dist{} // heartbeatd / floor, per round
			for r := 0; r < rounds; r++ {
				got := map[string]float64{}
				for _, who := range all {
					s, err := idleOnce(t, who, tm, idleWindow, floorBin)
					cpu[who].add(s.cpuPerMin.Seconds(), err)
					pss[who].add(float64(s.pssKB)/1024, err)
					if err == nil {
						got[who] = s.cpuPerMin.Seconds()
					}
					progress("idle %s %s round %d: %.3f s/min, %d kB %v", tm.label(), who, r+1, s.cpuPerMin.Seconds(), s.pssKB, errText(err))
				}
				if got[hdName] > 0 && got[floorName] > 0 {
					ratio.add(got[hdName]/got[floorName], nil)
				}
			}
			tab.row(fmt.Sprintf("idle CPU per node (s per minute), %d rounds of %v", rounds, idleWindow), tm, "%.3f", cpu)
			tab.row("idle PSS per node (MB)", tm, "%.1f", pss)
			if tm == tm100 {
				tab.notes = append(tab.notes, "Idle: per node (the mean of the two), every process of the node's namespace, CPU from the threads' schedstat, PSS from smaps_rollup; heartbeatd, Heartbeat and the floor (tests/floor: the same packets through heartbeatd's media layer, no protocol behind them) alternate round by round.")
				m, ok := ratio.median()
				tab.goal(m <= 1.2, !ok, fmt.Sprintf("idle CPU at 100 ms: heartbeatd / floor %.2f <= 1.2 (median of the rounds' ratios: %s)", m, ratios(ratio.v)))
			}
		}
	}

	if section("partition") {
		cells := map[string]*dist{hdName: {}, hbName: {}}
		for i := 0; i < partReps; i++ {
			for _, who := range daemons {
				d, err := partitionOnce(t, who == hbName, tm100, cut, watch)
				cells[who].add(float64(d.Milliseconds()), err)
				progress("partition %s rep %d: VIP held by nobody for %v %v", who, i+1, d.Round(time.Millisecond), errText(err))
			}
		}
		tab.notes = append(tab.notes, fmt.Sprintf("Partition: both links of the VIP's home node cut for %v (auto_failback on; the peer takes the VIP too), then healed; the client asks who has the VIP every %v and counts the time when %d requests or more in a row go unanswered, until one node has answered every request for %v (at most %v); %d repetitions.", cut, arpProbeInterval, arpUnanswered, partitionSettled, watch, partReps))
		tab.row(fmt.Sprintf("VIP held by nobody after a %v total partition heals (ms)", cut), tm100, "%.0f", cells)
	}

	table := tab.String()
	fmt.Printf("\n---- make bench-cluster: %s, %d CPUs, %v ----\n\n%s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), time.Since(began).Round(time.Second), table)
	if out := os.Getenv("HBD_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Errorf("HBD_BENCH_OUT: %v", err)
		}
	}
}

// ratios formats per-round ratios for a goal line.
func ratios(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(s, ", ")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "FAILED: " + err.Error()
}
