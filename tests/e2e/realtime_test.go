//go:build netns

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threadPolicies returns the scheduling policy of every thread of pid
// (from /proc/<pid>/task/*/sched: policy 1 is SCHED_FIFO).
func threadPolicies(t *testing.T, pid int) map[int]int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/sched", pid))
	re := regexp.MustCompile(`(?m)^policy\s*:\s*(\d+)`)
	out := map[int]int{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := re.FindSubmatch(b); m != nil {
			tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out[tid], _ = strconv.Atoi(string(m[1]))
		}
	}
	return out
}

func vmLck(t *testing.T, pid int) int {
	t.Helper()
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	m := regexp.MustCompile(`(?m)^VmLck:\s*(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmLck in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestRealtimeOnAndRefused(t *testing.T) {
	c := newCluster(t, "rt", false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", "auto_failback on\nrealtime on\n"), "")
	}
	n1.start()
	// n2 without CAP_SYS_NICE / CAP_IPC_LOCK and with zero limits: both
	// refused, one WARN each, and it runs on.
	n2.startWith(nil, "prlimit", "--memlock=0", "--rtprio=0", "--",
		"setpriv", "--inh-caps=-sys_nice,-ipc_lock", "--bounding-set=-sys_nice,-ipc_lock", "--")
	waitFor(t, 10*time.Second, "both nodes active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})

	pid := n1.cmd.Process.Pid
	pols := threadPolicies(t, pid)
	fifo := 0
	for _, p := range pols {
		if p == 1 {
			fifo++
		}
	}
	if fifo != 1 {
		t.Errorf("n1 threads' policies %v: want exactly one SCHED_FIFO thread (the main loop)", pols)
	}
	m := regexp.MustCompile(`main loop thread (\d+) at SCHED_FIFO priority 1`).FindStringSubmatch(n1.log())
	if m == nil {
		t.Fatalf("n1's log lacks the realtime line")
	}
	if tid, _ := strconv.Atoi(m[1]); pols[tid] != 1 {
		t.Errorf("the logged loop thread %d has policy %d", tid, pols[tid])
	}
	if kb := vmLck(t, pid); kb <= 0 {
		t.Errorf("n1 VmLck %d kB, want > 0 (mlockall)", kb)
	}

	pid2 := n2.cmd.Process.Pid
	for tid, p := range threadPolicies(t, pid2) {
		if p != 0 {
			t.Errorf("n2 thread %d has policy %d although realtime was refused", tid, p)
		}
	}
	if kb := vmLck(t, pid2); kb != 0 {
		t.Errorf("n2 VmLck %d kB, want 0", kb)
	}
	l2 := n2.log()
	if strings.Count(l2, "WARN: realtime: cannot lock memory") != 1 || strings.Count(l2, "WARN: realtime: cannot set SCHED_FIFO") != 1 {
		t.Errorf("n2 should warn once for each refusal; log:\n%s", l2)
	}

	// realtime off: neither. (Stop once the resource negotiation is over,
	// or the shutdown waits for it.)
	waitFor(t, 15*time.Second, "n1 stable", func() bool {
		s, _ := n1.clStatus("rscstatus")
		return s != "transition" && s != ""
	})
	n1.stop(10 * time.Second)
	n1.writeConf(c.haCF(n1, fast, "bcast eth1 eth2", "auto_failback on\nrealtime off\n"), "")
	os.Truncate(n1.logfile, 0)
	n1.start()
	waitFor(t, 10*time.Second, "n1 back", func() bool { return n2.nodeStatus("n1") == "active" })
	for tid, p := range threadPolicies(t, n1.cmd.Process.Pid) {
		if p != 0 {
			t.Errorf("realtime off: thread %d has policy %d", tid, p)
		}
	}
	if kb := vmLck(t, n1.cmd.Process.Pid); kb != 0 {
		t.Errorf("realtime off: VmLck %d kB", kb)
	}
	if strings.Contains(n1.log(), "realtime:") {
		t.Errorf("realtime off still logs about realtime")
	}
}
