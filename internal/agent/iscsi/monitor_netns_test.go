//go:build netns

package iscsi

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"heartbeatd/internal/agent"
)

// monitor against a real tgtd: healthy when exported and ready; a tgtd
// set offline refuses logins, a service target without its disk serves
// nothing.
func TestTgtMonitor(t *testing.T) {
	l := newTgtLab(t)
	svcIQN := "iqn.2024-01.test:service"
	if err := os.WriteFile(l.env["TGT_CONF"], []byte(fmt.Sprintf("<target %s>\n  backing-store %s\n</target>\n", svcIQN, l.file("svc.img"))), 0o644); err != nil {
		t.Fatal(err)
	}
	iqn, disk := "iqn.2024-01.test:per-target", l.file("lun1.img")
	monitor := func(step string, f func(*Agent, []string, agent.IO) int, wantCode int, wantOut string, args ...string) {
		t.Helper()
		r := l.run(f, append(args, "monitor")...)
		if r.code != wantCode || r.stdout != wantOut {
			t.Fatalf("%s: monitor %q exit %d %q (stderr %q), want %d %q", step, args, r.code, r.stdout, r.stderr, wantCode, wantOut)
		}
	}
	monitor("no tgtd", service, agent.NotRunning, "stopped\n")
	monitor("no tgtd", target, agent.NotRunning, "stopped\n", iqn)
	monitor("no tgtd", lu, agent.NotRunning, "stopped\n", iqn, "1", disk)
	for _, args := range [][]string{{"start"}, {iqn, "start"}, {iqn, "1", disk, "start"}} {
		f := map[int]func(*Agent, []string, agent.IO) int{1: service, 2: target, 4: lu}[len(args)]
		if r := l.run(f, args...); r.code != 0 {
			t.Fatalf("%q: %+v", args, r)
		}
	}
	monitor("started", service, agent.OK, "running\n")
	monitor("started", target, agent.OK, "running\n", iqn)
	monitor("started", lu, agent.OK, "running\n", iqn, "1", disk)

	if r := l.tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline"); r.Code != 0 {
		t.Fatalf("set offline: %+v", r)
	}
	monitor("offline", target, agent.Failed, "failed: target daemon offline\n", iqn)
	monitor("offline", service, agent.Failed, "failed: not fully exported\n")
	if r := l.run(target, iqn, "status"); r.stdout != "running\n" {
		t.Fatalf("target status changed meaning: %+v", r)
	}
	if r := l.tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "ready"); r.Code != 0 {
		t.Fatalf("set ready: %+v", r)
	}

	// The service's target loses its disk (deleted by hand).
	ts, _ := l.show()
	st, _ := findTarget(ts, svcIQN)
	if r := l.tgtadm("--op", "delete", "--mode", "logicalunit", "--tid", strconv.Itoa(st.TID), "--lun", "1"); r.Code != 0 {
		t.Fatalf("delete LUN: %+v", r)
	}
	monitor("LUN deleted", service, agent.Failed, "failed: target without LUNs\n")
	if r := l.run(service, "status"); r.stdout != "running\n" {
		t.Fatalf("service status changed meaning: %+v", r)
	}
}
