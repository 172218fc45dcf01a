package iscsi

import (
	"os"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/agent"
)

// monitor on IET (the fake ietadm/ietd): the service, one target and one
// LUN, healthy, then losing ietd, a LUN and the backing store.
func TestIETMonitor(t *testing.T) {
	n := newIETNode(t)
	disk := backingFile(t, n.dir)
	iqn := "iqn.2024-01.test:t1"
	monitor := func(step string, f func(*Agent, []string, agent.IO) int, wantCode int, wantOut string, args ...string) result {
		t.Helper()
		r := n.run(f, append(args, "monitor")...)
		if r.code != wantCode || r.stdout != wantOut {
			t.Fatalf("%s: monitor %q exit %d %q (stderr %q), want %d %q", step, args, r.code, r.stdout, r.stderr, wantCode, wantOut)
		}
		return r
	}
	writeSeedConf(t, n.env["IET_CONF"], disk)
	monitor("before start", service, agent.NotRunning, "stopped\n")
	monitor("before start", target, agent.NotRunning, "stopped\n", iqn)
	monitor("before start", lu, agent.NotRunning, "stopped\n", iqn, "0", disk)
	for _, step := range []struct {
		f    func(*Agent, []string, agent.IO) int
		args []string
	}{{service, nil}, {target, []string{iqn}}, {lu, []string{iqn, "0", disk}}} {
		if r := n.run(step.f, append(step.args, "start")...); r.code != 0 {
			t.Fatalf("start %q: %+v", step.args, r)
		}
	}
	monitor("started", service, agent.OK, "running\n")
	monitor("started", target, agent.OK, "running\n", iqn)
	monitor("started", lu, agent.OK, "running\n", iqn, "0", disk)

	// The backing store goes away under the export.
	if err := os.Rename(disk, disk+".gone"); err != nil {
		t.Fatal(err)
	}
	monitor("store gone", lu, agent.Failed, "failed: backing store missing\n", iqn, "0", disk)
	if r := n.run(lu, iqn, "0", disk, "status"); r.stdout != "running\n" {
		t.Fatalf("status changed meaning: %+v", r)
	}
	if err := os.Rename(disk+".gone", disk); err != nil {
		t.Fatal(err)
	}

	// The service's target loses its only LUN: configured, serving nothing.
	if err := n.agent().ietadm("--op", "delete", "--tid=1", "--lun=0"); err != nil {
		t.Fatal(err)
	}
	r := monitor("LUN deleted", service, agent.Failed, "failed: target without LUNs\n")
	if !strings.Contains(r.stderr, seedIQN) {
		t.Errorf("stderr does not name the target: %q", r.stderr)
	}

	// ietd dies: the kernel still exports, nobody can log in anew.
	n.killIetd()
	deadline := time.Now().Add(5 * time.Second)
	for n.agent().ietdPid() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	monitor("ietd dead", service, agent.Failed, "failed: not fully exported\n")
	monitor("ietd dead", target, agent.Failed, "failed: ietd down\n", iqn)
	if r := n.run(target, iqn, "status"); r.stdout != "running\n" {
		t.Fatalf("target status changed meaning: %+v", r)
	}
}
