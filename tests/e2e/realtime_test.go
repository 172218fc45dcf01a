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
	// n1's group is one script that records its own scheduling policy
	// (field 41 of /proc/self/stat) when started.
	policyFile := filepath.Join(n1.dir, "script-policy")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in\nstart) awk '{print $41}' /proc/self/stat > %s; touch %[1]s.on;;\nstop) rm -f %[1]s.on;;\nstatus) [ -e %[1]s.on ] && echo running || echo stopped;;\nesac\nexit 0\n", policyFile)
	if err := os.WriteFile(filepath.Join(n1.confdir, "resource.d", "rtprobe"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", "auto_failback on\nrealtime on\n"), "n1 rtprobe\n")
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
	m := regexp.MustCompile(`realtime: all (\d+) threads at SCHED_FIFO priority 1`).FindStringSubmatch(n1.log())
	if m == nil {
		t.Fatalf("n1's log lacks the realtime line")
	}
	// Every thread, including those the runtime started after the
	// start-up line, once the loop's periodic sweep (5 s) has seen them.
	waitFor(t, 12*time.Second, "every n1 thread at SCHED_FIFO", func() bool {
		for _, p := range threadPolicies(t, pid) {
			if p != 1 {
				return false
			}
		}
		return true
	})
	if pols := threadPolicies(t, pid); len(pols) < 2 {
		t.Errorf("n1 has %d threads; the check above means little", len(pols))
	}
	// ... but not the resource scripts it runs (SCHED_RESET_ON_FORK).
	waitFor(t, 15*time.Second, "n1's script started", func() bool {
		_, err := os.Stat(policyFile + ".on") // touched after the policy is written
		return err == nil
	})
	if b, _ := os.ReadFile(policyFile); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("a resource script of a realtime daemon runs at policy %q, want 0 (SCHED_OTHER)", b)
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
