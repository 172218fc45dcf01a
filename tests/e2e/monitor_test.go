//go:build netns

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Resource monitoring (ha.cf monitor_interval, a heartbeatd extension)
// with real daemons: the VIP an admin removed by hand comes back within
// the interval; a service whose daemon keeps dying moves to the peer after
// monitor_max_restarts restarts; one that dies on both nodes does not
// bounce between them.

// TestMonitorVIPRestored: `ip addr del` of the VIP on the node holding it
// is noticed by IPaddr's monitor op and the group restarted there, within
// one interval (plus the restart itself). The cluster starts without
// monitoring, which `heartbeatd reload` turns on.
func TestMonitorVIPRestored(t *testing.T) {
	c, vip := vipCluster(t, "mon-vip", "on", nativeIPaddr)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	conf := func(extra string) {
		for _, n := range []*hbNode{n1, n2} {
			n.writeConf(c.haCF(n, failoverTiming, "bcast eth1 eth2", "auto_failback on\n"+extra),
				fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker\n", vip))
		}
	}
	conf("")
	startN1ThenN2(c, vip)
	conf("monitor_interval 1\n")
	out, code := n1.reloadCmd()
	if code != 0 || !strings.Contains(out, "monitoring") || strings.Contains(out, "monitor_interval") {
		t.Fatalf("reload turning monitoring on: exit %d: %s", code, out)
	}
	// Let the first checks pass: a healthy group is left alone.
	time.Sleep(2500 * time.Millisecond)
	if strings.Contains(n1.log(), "failed its monitor check") {
		t.Fatalf("a healthy group failed its monitor check")
	}
	const interval = time.Second
	for round := 1; round <= 3; round++ {
		if out, err := n1.ns.Exec("ip", "addr", "del", vip+"/24", "dev", "eth1"); err != nil {
			t.Fatalf("ip addr del: %v: %s", err, out)
		}
		back := waitFor(t, interval+5*time.Second, "the VIP back on n1", func() bool { return n1.holdsVIP(vip) })
		t.Logf("round %d: VIP removed by hand, configured again on n1 after %v (interval %v)", round, back, interval)
		if back > interval+2*time.Second {
			t.Errorf("round %d: VIP restored after %v, more than the interval %v plus 2 s", round, back, interval)
		}
		c.expectOwner(vip, "n1", 5*time.Second, "after the restart")
		if h := c.holders(vip); len(h) != 1 {
			t.Errorf("VIP held by %v", h)
		}
		time.Sleep(1500 * time.Millisecond)
	}
	log := n1.log()
	if !strings.Contains(log, "ERROR: Resource IPaddr::"+vip+"/24/eth1 failed its monitor check") ||
		!strings.Contains(log, "Restarting resource group IPaddr::"+vip+"/24/eth1 on n1") {
		t.Errorf("n1 did not log the monitor failure and restart")
	}
}

// dyingScript is an init-style service whose daemon dies soon after every
// start on the nodes named in the shared dir's "broken.NODE" files: its
// status says stopped there once started.
const dyingScript = `#!/bin/sh
f=%[1]s/marker.$HA_CURHOST.svc
case "$1" in
start) echo running > "$f"; echo "$HA_CURHOST" >> %[1]s/starts ;;
stop) rm -f "$f" ;;
status)
	if [ -f "$f" ] && [ ! -f %[1]s/broken.$HA_CURHOST ]; then echo "svcd is running"; else echo "svcd is stopped"; exit 3; fi ;;
esac
`

// dyingCluster: group "n1 svcd", monitored every second, restarted at most
// twice within a minute; the nodes in broken have a service that dies.
func dyingCluster(t *testing.T, name string, broken ...string) *cluster {
	t.Helper()
	c := newCluster(t, name, false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	c.shared = t.TempDir()
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, failoverTiming, "bcast eth1 eth2",
			"auto_failback on\nmonitor_interval 1\nmonitor_max_restarts 2\nmonitor_window 60\n"), "n1 svcd\n")
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "svcd"), []byte(fmt.Sprintf(dyingScript, c.shared)), 0o755)
	}
	return c
}

func (c *cluster) breakOn(node string) {
	os.WriteFile(filepath.Join(c.shared, "broken."+node), nil, 0o644)
}

// starts lists the nodes the service was started on, in order.
func (c *cluster) starts() []string {
	b, _ := os.ReadFile(filepath.Join(c.shared, "starts"))
	return strings.Fields(string(b))
}

func startBoth(c *cluster) {
	c.t.Helper()
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	n1.start()
	n2.start()
	waitFor(c.t, 15*time.Second, "both active, svcd on n1", func() bool {
		on := c.runsOn()
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active" && len(on) == 1 && on[0] == "n1"
	})
}

// TestMonitorServiceMovesToPeer: the service keeps dying on n1; after two
// restarts there it is handed to n2, where it stays up.
func TestMonitorServiceMovesToPeer(t *testing.T) {
	c := dyingCluster(t, "mon-move")
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	startBoth(c)
	c.breakOn("n1")
	took := waitFor(t, 30*time.Second, "svcd on n2", func() bool { on := c.runsOn(); return len(on) == 1 && on[0] == "n2" })
	t.Logf("svcd broken on n1: on n2 after %v; starts %v", took, c.starts())
	time.Sleep(4 * time.Second) // n2's checks pass: it stays there
	if on := c.runsOn(); len(on) != 1 || on[0] != "n2" {
		t.Fatalf("svcd runs on %v, want n2", on)
	}
	want := []string{"n1", "n1", "n1", "n2"} // first start, two restarts, handover
	if got := c.starts(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("starts %v, want %v", got, want)
	}
	log := n1.log()
	for _, line := range []string{
		"ERROR: Resource svcd failed its monitor check: svcd is stopped",
		"Restarting resource group svcd on n1 (restart 2 of 2 within 1m0s)",
		"resource group svcd failed its monitor check 3 times within 1m0s on n1: handing it to n2",
	} {
		if !strings.Contains(log, line) {
			t.Errorf("n1's log lacks %q", line)
		}
	}
	if strings.Contains(n2.log(), "failed its monitor check") {
		t.Errorf("n2's healthy service failed its monitor")
	}
}

// TestMonitorFlappingNoPingPong: the service dies on both nodes. n1 hands
// it to n2 after its restarts; n2 restarts it, asks n1 to take it back,
// n1 refuses (it gave it away for failures), and n2 stops it with a CRIT
// line: it moved once and then stays stopped, instead of bouncing.
func TestMonitorFlappingNoPingPong(t *testing.T) {
	c := dyingCluster(t, "mon-flap")
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	startBoth(c)
	c.breakOn("n1")
	c.breakOn("n2")
	waitFor(t, 60*time.Second, "n2 gives up on svcd", func() bool {
		return strings.Contains(n2.log(), "CRIT: resource group svcd keeps failing its monitor check on n2")
	})
	waitFor(t, 10*time.Second, "svcd stopped everywhere", func() bool { return len(c.runsOn()) == 0 })
	time.Sleep(5 * time.Second)
	if on := c.runsOn(); len(on) != 0 {
		t.Errorf("svcd runs on %v after both nodes gave up", on)
	}
	// n1: first start + 2 restarts; n2: handover + 2 restarts; no more.
	want := "n1 n1 n1 n2 n2 n2"
	if got := strings.Join(c.starts(), " "); got != want {
		t.Errorf("starts %q, want %q (no ping-pong)", got, want)
	}
	if !strings.Contains(n1.log(), "standby request [all] from n2 refused: resource group svcd failed its monitor check here") &&
		!strings.Contains(n1.log(), "from n2 refused: resource group svcd") {
		t.Errorf("n1 did not refuse to take svcd back")
	}
	if strings.Count(n1.log(), "handing it to n2") != 1 {
		t.Errorf("n1 handed svcd over %d times", strings.Count(n1.log(), "handing it to n2"))
	}
	// cleanup on n2 (the admin fixed it): it starts again where it is claimed.
	os.Remove(filepath.Join(c.shared, "broken.n2"))
	out := n2.admin("cleanup", "svcd")
	t.Logf("cleanup: %s", strings.TrimSpace(out))
	waitFor(t, 10*time.Second, "svcd on n2 after cleanup", func() bool { on := c.runsOn(); return len(on) == 1 && on[0] == "n2" })
}
