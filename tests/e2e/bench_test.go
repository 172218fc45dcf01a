//go:build netns && bench

package e2e

// Cluster benchmarks, run by `make bench-cluster` and `make bench-loss`
// (build tag bench: never part of `make test`). They put heartbeatd and real Heartbeat
// 3.0.6 side by side in the same run; TestBenchCluster (bench_cluster_test.go)
// prints the table. This file: resource-use probes and the failover run.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// sub runs one measurement in a subtest of its own, so that its
// namespaces and processes are gone before the next one starts, also when
// it fails. A measurement that failed returns an error, so that the table
// reports it instead of dropping it: fn's own error, or, when fn stopped on
// t.Fatal (a setup step that timed out), a pointer to the subtest's log.
func sub(t *testing.T, name string, fn func(t *testing.T) error) error {
	var err error
	ok := t.Run(name, func(t *testing.T) { err = fn(t) })
	if err == nil && !ok {
		err = fmt.Errorf("%s: setup failed (the subtest's log above says why)", name)
	}
	return err
}

// failoverOnce builds a fresh two-node cluster with n1 holding a floating
// IP, injects the fault ("crash" or "power-off") on n1 and returns fault ->
// first gratuitous ARP for the VIP from n2, from the client's capture.
func failoverOnce(t *testing.T, real bool, fault string, tm timing) (time.Duration, error) {
	var d time.Duration
	err := sub(t, fmt.Sprintf("failover/%s/%s/%s", whoName(real), fault, tm.deadtime), func(t *testing.T) error {
		c, vip := benchPair(t, "bfo", real, tm, "auto_failback off\n")
		n1, n2 := c.nodes["n1"], c.nodes["n2"]
		arp := c.captureARP()
		n2mac := n2.mac()
		time.Sleep(500 * time.Millisecond)
		faultAt := time.Now()
		if fault == "crash" {
			n1.crash()
			if !n1.holdsVIP(vip) {
				return fmt.Errorf("n1 lost the VIP when its daemon was killed: not a crash")
			}
		} else {
			c.powerOff(n1)
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			if at, ok := firstAfter(arp.announcements(vip, n2mac), faultAt); ok {
				d = at.Sub(faultAt)
				return nil
			}
		}
		return fmt.Errorf("no ARP from n2 for %s within 10 s", vip)
	})
	return d, err
}

// benchPair builds n1 and n2 (heartbeatd with its native IPaddr, or real
// Heartbeat with Debian's) plus a client, with the group "n1
// IPaddr::VIP/24/eth1" on bcast over both links, starts both daemons and
// returns once n1 holds the VIP, n2 is standby and the start-up deadtime
// is over.
func benchPair(t *testing.T, name string, real bool, tm timing, extra string) (*cluster, string) {
	t.Helper()
	c := newCluster(t, name, true)
	n1, n2 := c.addDaemonNode("n1", 1, real), c.addDaemonNode("n2", 2, real)
	vip := c.br[0].Addr(100).Addr().String()
	// Runs before the nodes' and the lab's cleanups (registered earlier).
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("at the failure: VIP on %v; deaths declared:\n%s", c.holders(vip), strings.Join(benchDeaths([2]*hbNode{n1, n2}, [2]int{}), "\n"))
		}
	})
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, tm, "bcast eth1 eth2", extra), fmt.Sprintf("n1 IPaddr::%s/24/eth1\n", vip))
	}
	n1.launch()
	n2.launch()
	waitFor(t, 40*time.Second, "n1 holds the VIP, n2 standby", func() bool {
		s, _ := n2.clStatus("rscstatus")
		return n1.holdsVIP(vip) && !n2.holdsVIP(vip) && (s == "none" || s == "local")
	})
	time.Sleep(6 * time.Second) // past the start-up deadtime
	return c, vip
}

func whoName(real bool) string {
	if real {
		return "heartbeat"
	}
	return "heartbeatd"
}
