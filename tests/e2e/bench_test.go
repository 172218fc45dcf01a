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

// procUsage sums CPU time (utime+stime, clock ticks) and PSS (kB) over every
// process in the node's network namespace. utime+stime include threads that
// have exited (Go's runtime starts and parks threads); their resolution is
// one tick (10 ms), so a window of a minute is the shortest meaningful one.
func procUsage(ns string) (cpu time.Duration, pssKB int, procs int) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		stat, err := os.ReadFile("/proc/" + f + "/stat")
		if err != nil {
			continue
		}
		// Fields after the ")" of the command name: utime is the 14th
		// field of the line, stime the 15th.
		s := string(stat)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.Atoi(rest[11])
		st, _ := strconv.Atoi(rest[12])
		cpu += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
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

// TestBenchResourceUse: CPU seconds per minute and PSS of one node of a
// two-node cluster on two links, heartbeatd vs Heartbeat, at keepalive
// 100ms (the reference) and at seed 002's 2 s / 30 s.
func TestBenchResourceUse(t *testing.T) {
	const window = 60 * time.Second
	type row struct {
		timing    string
		who       string
		cpuPerMin time.Duration
		pssKB     int
		procs     int
	}
	var rows []row
	for i, bench := range []timing{{"100ms", "1", "500ms", "3"}, {"2", "30", "10", "120"}} {
		for _, real := range []bool{false, true} {
			c := newCluster(t, fmt.Sprintf("b%d%s", i, map[bool]string{false: "hd", true: "hb"}[real]), false)
			var n1, n2 *hbNode
			if real {
				n1, n2 = c.addRealNode("n1", 1), c.addRealNode("n2", 2)
			} else {
				n1, n2 = c.addNode("n1", 1), c.addNode("n2", 2)
			}
			for _, n := range []*hbNode{n1, n2} {
				n.writeConf(c.haCF(n, bench, "bcast eth1 eth2", "auto_failback on\n"), "")
				if real {
					n.startReal()
				} else {
					n.start()
				}
			}
			waitFor(t, 30*time.Second, "both active", func() bool {
				return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
			})
			time.Sleep(6 * time.Second) // past start-up
			cpu0, _, _ := procUsage(n1.ns.NS)
			time.Sleep(window)
			cpu1, pss, procs := procUsage(n1.ns.NS)
			who := "heartbeatd"
			if real {
				who = "Heartbeat 3.0.6"
			}
			rows = append(rows, row{"keepalive " + bench.keepalive + " deadtime " + bench.deadtime,
				who, perMinute(cpu1-cpu0, window), pss, procs})
			// Stop this pair so it does not load the next measurement.
			n1.killProcesses()
			n2.killProcesses()
		}
	}
	t.Logf("one node, bcast on 2 links, %v window:", window)
	t.Logf("%-26s %-16s %14s %10s %6s", "timings", "daemon", "CPU s/minute", "PSS", "procs")
	for _, r := range rows {
		t.Logf("%-26s %-16s %14.3f %8d kB %6d", r.timing, r.who, r.cpuPerMin.Seconds(), r.pssKB, r.procs)
	}
}

// TestBenchFailoverLatency measures, from the client's view, the time from a
// fault on the active node to the first ARP for the floating IP from the new
// node (tcpdump timestamps in the client namespace), for kill -9 and for a
// cut of both links, at two timing settings.
func TestBenchFailoverLatency(t *testing.T) {
	reps := 5
	if s := os.Getenv("BENCH_REPS"); s != "" {
		reps, _ = strconv.Atoi(s)
	}
	type key struct{ who, fault, timing string }
	results := map[key][]time.Duration{}
	for _, tm := range []timing{{"100ms", "500ms", "300ms", "3"}, {"20ms", "100ms", "60ms", "3"}} {
		for _, real := range []bool{false, true} {
			for _, fault := range []string{"kill -9", "link cut"} {
				for i := 0; i < reps; i++ {
					d, err := failoverOnce(t, real, fault, tm)
					who := "heartbeatd"
					if real {
						who = "Heartbeat"
					}
					k := key{who, fault, tm.keepalive + "/" + tm.deadtime}
					if err != nil {
						t.Logf("%v rep %d: %v", k, i, err)
						continue
					}
					results[k] = append(results[k], d)
				}
			}
		}
	}
	var keys []key
	for k := range results {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.timing != b.timing {
			return a.timing > b.timing
		}
		if a.fault != b.fault {
			return a.fault < b.fault
		}
		return a.who > b.who
	})
	t.Logf("fault -> first ARP from the new node, seen by the client (%d reps):", reps)
	t.Logf("%-14s %-9s %-11s %8s %8s %8s", "keepalive/dt", "fault", "daemon", "min", "median", "max")
	for _, k := range keys {
		v := results[k]
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		t.Logf("%-14s %-9s %-11s %8s %8s %8s (n=%d)", k.timing, k.fault, k.who,
			v[0].Round(time.Millisecond), v[len(v)/2].Round(time.Millisecond), v[len(v)-1].Round(time.Millisecond), len(v))
	}
}

// failoverOnce builds a fresh two-node cluster with n1 holding a floating
// IP, injects the fault on n1 and returns fault -> first gratuitous ARP for
// the VIP from n2.
func failoverOnce(t *testing.T, real bool, fault string, tm timing) (time.Duration, error) {
	var d time.Duration
	var err error
	t.Run(fmt.Sprintf("real=%v/%s/%s", real, strings.ReplaceAll(fault, " ", ""), tm.deadtime), func(t *testing.T) {
		c := newCluster(t, "bfo", true)
		var n1, n2 *hbNode
		if real {
			n1, n2 = c.addRealNode("n1", 1), c.addRealNode("n2", 2)
		} else {
			n1, n2 = c.addNode("n1", 1), c.addNode("n2", 2)
		}
		vip := c.br[0].Addr(100).Addr().String()
		for _, n := range []*hbNode{n1, n2} {
			n.writeConf(c.haCF(n, tm, "bcast eth1 eth2", "auto_failback off\n"), fmt.Sprintf("n1 IPaddr::%s/24/eth1\n", vip))
			if !real {
				n.installIPaddr(nativeIPaddr)
			}
		}
		start := func(n *hbNode) {
			if real {
				n.startReal()
			} else {
				n.start()
			}
		}
		start(n1)
		start(n2)
		waitFor(t, 40*time.Second, "n1 holds the VIP", func() bool {
			out, _ := n1.ns.Exec("ip", "-o", "addr", "show", "dev", "eth1")
			s, _ := n2.clStatus("rscstatus")
			return strings.Contains(out, vip+"/") && (s == "none" || s == "local")
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
		if fault == "kill -9" {
			n1.kill9()
			n1.ns.Exec("ip", "addr", "flush", "dev", "eth1", "label", "eth1:*")
		} else {
			n1.ns.Cut("eth1")
			n1.ns.Cut("eth2")
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
