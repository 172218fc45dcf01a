//go:build netns && bench

package e2e

// Cluster benchmarks, run by `make bench-cluster` (not part of `make test`:
// they measure, they do not assert). They put heartbeatd and real Heartbeat
// 3.0.6 side by side in the same run and print tables for the notes.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procUsage sums CPU time and PSS (kB) over every process in the node's
// network namespace. CPU time is the first field of each thread's
// /proc/PID/task/TID/schedstat (nanoseconds on the CPU): utime+stime count in
// 10 ms ticks, too coarse for daemons that use a few milliseconds a second.
// Threads that exited during the window are not counted; neither daemon
// starts or ends threads or processes in steady state (heartbeatd no longer
// locks a goroutine to a thread, the only way Go ends one).
func procUsage(ns string) (cpu time.Duration, pssKB int, procs int) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		tasks, _ := filepath.Glob("/proc/" + f + "/task/*/schedstat")
		if len(tasks) == 0 {
			continue
		}
		for _, ts := range tasks {
			b, err := os.ReadFile(ts)
			if err != nil {
				continue
			}
			if fs := strings.Fields(string(b)); len(fs) > 0 {
				ns, _ := strconv.ParseInt(fs[0], 10, 64)
				cpu += time.Duration(ns)
			}
		}
		procs++
		if sm, err := os.Open("/proc/" + f + "/smaps_rollup"); err == nil {
			sc := bufio.NewScanner(sm)
			for sc.Scan() {
				if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "Pss:" {
					n, _ := strconv.Atoi(fs[1])
					pssKB += n
				}
			}
			sm.Close()
		}
	}
	return
}

// perMinute scales CPU time used over window to a minute. (Multiplying two
// Durations overflows int64 past about 0.15 s x 1 min: the first version of
// this bench printed nonsense that way.)
func perMinute(cpu, window time.Duration) time.Duration {
	return time.Duration(float64(cpu) * float64(time.Minute) / float64(window))
}

// TestBenchResourceUse: CPU seconds per minute and PSS per node (the mean of
// the two nodes) of a two-node cluster on two links, heartbeatd vs Heartbeat
// vs the floor (tests/floor: the same packets on the wire with no protocol
// behind them), at keepalive 100ms (the reference) and at seed
// 002's 2 s / 30 s. The three alternate over BENCH_ROUNDS rounds (default
// 3) of a 40 s window each, so that a change in the machine's load during
// the run (this is a virtual machine) shows up as spread in all of them
// instead of as a difference between them; each round's ratios are printed
// too.
func TestBenchResourceUse(t *testing.T) {
	const window = 40 * time.Second
	rounds := 3
	if s := os.Getenv("BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	floorBin := buildFloor(t)
	type sample struct {
		cpuPerMin time.Duration
		pssKB     int
		procs     int
	}
	const (
		hd, hb, floor = "heartbeatd", "Heartbeat 3.0.6", "floor"
	)
	daemons := []string{hd, hb, floor}
	type key struct{ timing, who string }
	results := map[key][]sample{}
	ratios := map[key][]float64{} // heartbeatd / who, per round
	timings := []timing{{"100ms", "1", "500ms", "3"}, {"2", "30", "10", "120"}}
	for i, bench := range timings {
		tname := "keepalive " + bench.keepalive + " deadtime " + bench.deadtime
		for r := 0; r < rounds; r++ {
			round := map[string]time.Duration{}
			for j, who := range daemons {
				c := newCluster(t, fmt.Sprintf("b%d%d", i, j), false)
				var n1, n2 *hbNode
				if who == hb {
					n1, n2 = c.addRealNode("n1", 1), c.addRealNode("n2", 2)
				} else {
					n1, n2 = c.addNode("n1", 1), c.addNode("n2", 2)
				}
				for _, n := range []*hbNode{n1, n2} {
					n.writeConf(c.haCF(n, bench, "bcast eth1 eth2", "auto_failback on\n"), "")
					switch who {
					case hb:
						n.startReal()
					case hd:
						n.start()
					case floor:
						n.startFloor(floorBin, bench.keepalive)
					}
				}
				if who == floor {
					time.Sleep(5 * time.Second)
				} else {
					waitFor(t, 30*time.Second, "both active", func() bool {
						return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
					})
					time.Sleep(15 * time.Second) // past start-up and the resource negotiation
				}
				// Both nodes, averaged: with followPeer one node wakes once
				// per keepalive and the other twice, and which is which
				// depends on who started first.
				a0, _, _ := procUsage(n1.ns.NS)
				b0, _, _ := procUsage(n2.ns.NS)
				time.Sleep(window)
				a1, pssA, procs := procUsage(n1.ns.NS)
				b1, pssB, _ := procUsage(n2.ns.NS)
				cpu := perMinute((a1+b1-a0-b0)/2, window)
				round[who] = cpu
				results[key{tname, who}] = append(results[key{tname, who}], sample{cpu, (pssA + pssB) / 2, procs})
				// Stop this pair so it does not load the next measurement.
				n1.killProcesses()
				n2.killProcesses()
			}
			for _, who := range []string{hb, floor} {
				ratios[key{tname, who}] = append(ratios[key{tname, who}], float64(round[hd])/float64(round[who]))
			}
		}
	}
	t.Logf("per node (mean of the two), bcast on 2 links, %d rounds of %v, daemons alternating:", rounds, window)
	t.Logf("%-26s %-16s %22s %10s %6s", "timings", "daemon", "CPU s/minute med (min-max)", "PSS", "procs")
	for _, bench := range timings {
		tname := "keepalive " + bench.keepalive + " deadtime " + bench.deadtime
		for _, who := range daemons {
			v := results[key{tname, who}]
			sort.Slice(v, func(i, j int) bool { return v[i].cpuPerMin < v[j].cpuPerMin })
			med := v[len(v)/2]
			t.Logf("%-26s %-16s %8.3f (%.3f-%.3f) %8d kB %6d", tname, who, med.cpuPerMin.Seconds(),
				v[0].cpuPerMin.Seconds(), v[len(v)-1].cpuPerMin.Seconds(), med.pssKB, med.procs)
		}
		for _, who := range []string{hb, floor} {
			rs := ratios[key{tname, who}]
			sort.Float64s(rs)
			t.Logf("%-26s heartbeatd / %s per round: %.2f", tname, who, rs)
		}
	}
}

// buildFloor builds tests/floor, the bench's yardstick.
func buildFloor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "floor")
	if out, err := exec.Command("go", "build", "-o", bin, "heartbeatd/tests/floor").CombinedOutput(); err != nil {
		t.Fatalf("go build tests/floor: %v: %s", err, out)
	}
	return bin
}

// startFloor runs the floor program in the node's namespace on eth1 and
// eth2 at the given keepalive (ha.cf syntax: plain numbers are seconds).
func (n *hbNode) startFloor(bin, keepalive string) {
	n.c.t.Helper()
	if _, err := strconv.ParseFloat(keepalive, 64); err == nil {
		keepalive += "s"
	}
	n.cmd = n.ns.Command(bin, "-keepalive", keepalive, "-port", "694", "-bcast", "eth1,eth2")
	if err := n.cmd.Start(); err != nil {
		n.c.t.Fatalf("start floor on %s: %v", n.name, err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { cmd.Wait(); close(ch) }(n.cmd, n.exited)
}

// TestBenchFailoverLatency measures, from the client's view, the time from a
// fault on the active node to the first ARP for the floating IP from the new
// node (tcpdump timestamps in the client namespace), at two timing settings,
// for two faults:
//
//   - crash: kill -9 of the active node's daemon only (heartbeatd, or real
//     Heartbeat's master control process); the node stays up with the
//     floating IP configured and answering ARP, so the new node takes an
//     address that is still answered (heartbeatd's IPaddr with its default
//     probe settings).
//   - power-off: kill -9 and both links cut (c.powerOff): the old node is
//     silent on every link.
func TestBenchFailoverLatency(t *testing.T) {
	reps := 5
	if s := os.Getenv("BENCH_REPS"); s != "" {
		reps, _ = strconv.Atoi(s)
	}
	type key struct{ who, fault, timing string }
	results := map[key][]time.Duration{}
	var keys []key // table order: timing, fault, daemon
	for _, tm := range []timing{{"100ms", "500ms", "300ms", "3"}, {"20ms", "100ms", "60ms", "3"}} {
		for _, fault := range []string{"crash", "power-off"} {
			for _, real := range []bool{false, true} {
				who := "heartbeatd"
				if real {
					who = "Heartbeat"
				}
				k := key{who, fault, tm.keepalive + "/" + tm.deadtime}
				for i := 0; i < reps; i++ {
					d, err := failoverOnce(t, real, fault, tm)
					if err != nil {
						t.Logf("%v rep %d: %v", k, i, err)
						continue
					}
					if results[k] == nil {
						keys = append(keys, k)
					}
					results[k] = append(results[k], d)
				}
			}
		}
	}
	t.Logf("fault -> first ARP from the new node, seen by the client (%d reps):", reps)
	t.Logf("  crash: kill -9 of the active daemon only, node and VIP left up (the old node still answers ARP)")
	t.Logf("  power-off: kill -9 of the active daemon and both its links cut")
	t.Logf("%-14s %-9s %-11s %8s %8s %8s", "keepalive/dt", "fault", "daemon", "min", "median", "max")
	for _, k := range keys {
		v := results[k]
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		t.Logf("%-14s %-9s %-11s %8s %8s %8s (n=%d)", k.timing, k.fault, k.who,
			v[0].Round(time.Millisecond), v[len(v)/2].Round(time.Millisecond), v[len(v)-1].Round(time.Millisecond), len(v))
	}
}

// failoverOnce builds a fresh two-node cluster with n1 holding a floating
// IP, injects the fault ("crash" or "power-off") on n1 and returns fault ->
// first gratuitous ARP for the VIP from n2.
func failoverOnce(t *testing.T, real bool, fault string, tm timing) (time.Duration, error) {
	var d time.Duration
	var err error
	t.Run(fmt.Sprintf("real=%v/%s/%s", real, fault, tm.deadtime), func(t *testing.T) {
		c := newCluster(t, "bfo", true)
		n1, n2 := c.addDaemonNode("n1", 1, real), c.addDaemonNode("n2", 2, real)
		vip := c.br[0].Addr(100).Addr().String()
		for _, n := range []*hbNode{n1, n2} {
			n.writeConf(c.haCF(n, tm, "bcast eth1 eth2", "auto_failback off\n"), fmt.Sprintf("n1 IPaddr::%s/24/eth1\n", vip))
		}
		n1.launch()
		n2.launch()
		waitFor(t, 40*time.Second, "n1 holds the VIP", func() bool {
			s, _ := n2.clStatus("rscstatus")
			return n1.holdsVIP(vip) && (s == "none" || s == "local")
		})
		time.Sleep(6 * time.Second) // past the start-up deadtime
		n2mac := strings.TrimSpace(n2.ns.MustExec("cat", "/sys/class/net/eth1/address"))
		cap := filepath.Join(t.TempDir(), "arp.txt")
		f, _ := os.Create(cap)
		dump := c.client.Command("tcpdump", "-l", "-n", "-e", "-tt", "-i", "eth1", "arp")
		dump.Stdout = f
		if e := dump.Start(); e != nil {
			err = e
			return
		}
		time.Sleep(500 * time.Millisecond)
		faultAt := time.Now()
		if fault == "crash" {
			n1.crash()
			if !n1.holdsVIP(vip) {
				err = fmt.Errorf("n1 lost the VIP when its daemon was killed: not a crash")
				dump.Process.Kill()
				return
			}
		} else {
			c.powerOff(n1)
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			b, _ := os.ReadFile(cap)
			for _, line := range strings.Split(string(b), "\n") {
				fs := strings.Fields(line)
				if len(fs) < 2 || !strings.HasPrefix(strings.ToLower(fs[1]), n2mac) || !isGratuitous(line, vip) {
					continue
				}
				ts, e := strconv.ParseFloat(fs[0], 64)
				if e != nil {
					continue
				}
				at := time.Unix(0, int64(ts*1e9))
				if at.After(faultAt) {
					d = at.Sub(faultAt)
					dump.Process.Kill()
					return
				}
			}
		}
		dump.Process.Kill()
		err = fmt.Errorf("no ARP from n2 for %s within 10 s", vip)
	})
	return d, err
}

// isGratuitous: a tcpdump line of an ARP frame that announces vip (sender
// address vip, as request or reply), not the duplicate-address probe
// (sender 0.0.0.0), which moves no neighbour entry.
func isGratuitous(line, vip string) bool {
	return strings.Contains(line, "tell "+vip+",") || strings.Contains(line, "Reply "+vip+" is-at")
}
