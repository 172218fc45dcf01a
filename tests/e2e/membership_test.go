//go:build netns

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPair starts two heartbeatd nodes with the given media lines
// (rendered per node by mediaFor) and waits until each sees the other active.
func startPair(t *testing.T, name string, mediaFor func(c *cluster, n *hbNode) string) *cluster {
	t.Helper()
	c := newCluster(t, name, false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, fast, mediaFor(c, n), "auto_failback on\n"), "")
		n.start()
	}
	waitFor(t, 10*time.Second, "both nodes active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})
	c.started = time.Now()
	return c
}

func bcastMedia(*cluster, *hbNode) string { return "bcast eth1 eth2" }

func TestTwoNodesBcastLinksAndDeath(t *testing.T) {
	c := startPair(t, "bcast", bcastMedia)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	for _, l := range []string{"eth1", "eth2"} {
		waitFor(t, 3*time.Second, "link "+l+" up", func() bool { return n2.linkStatus("n1", l) == "up" })
	}
	if out, code := n2.clStatus("listnodes"); code != 0 || out != "n2\nn1" {
		t.Errorf("listnodes = %q (code %d), want Heartbeat's reverse order", out, code)
	}

	// Cut one link of n1: that link dies on both sides, the node stays.
	n1.ns.Cut("eth2")
	waitFor(t, 3*time.Second, "n1:eth2 dead on n2", func() bool { return n2.linkStatus("n1", "eth2") == "dead" })
	if s := n2.nodeStatus("n1"); s != "active" {
		t.Fatalf("n1 is %q on n2 with one link left, want active", s)
	}
	if s := n2.linkStatus("n1", "eth1"); s != "up" {
		t.Fatalf("n1:eth1 is %q, want up", s)
	}
	n1.ns.Heal("eth2")
	waitFor(t, 3*time.Second, "n1:eth2 back up", func() bool { return n2.linkStatus("n1", "eth2") == "up" })
	if !strings.Contains(n2.log(), "Link n1:eth2 dead.") || !strings.Contains(n2.log(), "Link n1:eth2 up.") {
		t.Errorf("n2's log lacks Heartbeat's link lines")
	}

	// kill -9 n1: n2 declares it dead within deadtime + one keepalive.
	c.pastStartupDeadtime()
	start := time.Now()
	n1.kill9()
	waitFor(t, 5*time.Second, "n1 dead on n2", func() bool { return n2.nodeStatus("n1") == "dead" })
	took := time.Since(start)
	t.Logf("kill -9 detected after %v (deadtime 600ms, keepalive 100ms)", took)
	// 100 ms of slack covers our own polling of cl_status (20 ms) and the
	// cost of running it; the daemon itself checks every tick.
	if limit := 700*time.Millisecond + 100*time.Millisecond; took > limit {
		t.Errorf("death detected after %v, want within deadtime+keepalive (%v with polling slack)", took, limit)
	}
	if !strings.Contains(n2.log(), "node n1: is dead") {
		t.Errorf("n2's log lacks \"node n1: is dead\"")
	}
}

// TestKeepalivesFallIntoStep: n2 starts 230 ms after n1, so their
// keepalives (100 ms) are 30 ms apart; within a second one node's statuses
// follow the other's within FollowSlack (5 ms): membership's followPeer at
// work in a real cluster. Without it they would stay 30 ms apart.
func TestKeepalivesFallIntoStep(t *testing.T) {
	c := newCluster(t, "step", false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", "auto_failback on\n"), "")
	}
	n1.start()
	time.Sleep(230 * time.Millisecond)
	n2.start()
	waitFor(t, 10*time.Second, "both nodes active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})
	time.Sleep(time.Second)
	var out strings.Builder
	dump := n2.ns.Command("tcpdump", "-l", "-n", "-tt", "-A", "-i", "eth1", "udp port 694")
	dump.Stdout = &out
	if err := dump.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	time.Sleep(2500 * time.Millisecond)
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()
	// A header line ("1700000000.123456 IP 10.0.1.1.38000 > ...") then
	// the payload in ASCII, where a status shows "t=status".
	type status struct {
		at   float64
		from string
	}
	var sts []status
	var at float64
	var from string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == "IP" {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				at, from = v, f[2][:strings.LastIndexByte(f[2], '.')]
				continue
			}
		}
		if from != "" && strings.Contains(line, "t=status") {
			sts = append(sts, status{at, from})
			from = ""
		}
	}
	addr := map[string]string{n1.ns.Addr("eth1").Addr().String(): "n1", n2.ns.Addr("eth1").Addr().String(): "n2"}
	// For each node: how many of its statuses came within 5 ms after the
	// other node's latest one.
	inStep, total := map[string]int{}, map[string]int{}
	last := map[string]float64{}
	for _, s := range sts {
		me := addr[s.from]
		other := map[string]string{"n1": "n2", "n2": "n1"}[me]
		if me == "" {
			continue
		}
		if l, ok := last[other]; ok {
			total[me]++
			if s.at-l >= 0 && s.at-l <= 0.005 {
				inStep[me]++
			}
		}
		last[me] = s.at
	}
	if total["n1"] < 15 || total["n2"] < 15 {
		t.Fatalf("captured %d statuses of n1 and %d of n2 in 2.5 s at keepalive 100 ms:\n%s", total["n1"], total["n2"], out.String())
	}
	for _, me := range []string{"n1", "n2"} {
		if inStep[me]*10 >= total[me]*8 {
			t.Logf("%s sent %d of %d statuses within 5 ms after its peer's", me, inStep[me], total[me])
			return
		}
	}
	t.Errorf("neither node follows the other's keepalive: within 5 ms after the peer's status: n1 %d of %d, n2 %d of %d",
		inStep["n1"], total["n1"], inStep["n2"], total["n2"])
}

func TestBothLinksCutMeansDead(t *testing.T) {
	c := startPair(t, "cut2", bcastMedia)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	n1.ns.Cut("eth1")
	n1.ns.Cut("eth2")
	waitFor(t, 3*time.Second, "n1 dead on n2", func() bool { return n2.nodeStatus("n1") == "dead" })
	waitFor(t, 3*time.Second, "n2 dead on n1", func() bool { return n1.nodeStatus("n2") == "dead" })
	n1.ns.Heal("eth1")
	n1.ns.Heal("eth2")
	// Heartbeat answers a partition heal with a restart of the node that
	// notices it; either way both must see each other alive again.
	waitFor(t, 20*time.Second, "nodes see each other again", func() bool {
		s1, s2 := n1.nodeStatus("n2"), n2.nodeStatus("n1")
		return (s1 == "active" || s1 == "up") && (s2 == "active" || s2 == "up")
	})
}

func TestUcastAndMcast(t *testing.T) {
	t.Run("ucast", func(t *testing.T) {
		c := startPair(t, "ucast", func(c *cluster, n *hbNode) string {
			host := 2
			if n.name == "n2" {
				host = 1
			}
			return fmt.Sprintf("ucast eth1 %s\nucast eth2 %s", c.br[0].Addr(host).Addr(), c.br[1].Addr(host).Addr())
		})
		n1, n2 := c.nodes["n1"], c.nodes["n2"]
		waitFor(t, 3*time.Second, "ucast links up", func() bool {
			return n2.linkStatus("n1", "eth1") == "up" && n2.linkStatus("n1", "eth2") == "up"
		})
		n1.kill9()
		waitFor(t, 3*time.Second, "n1 dead over ucast", func() bool { return n2.nodeStatus("n1") == "dead" })
	})
	t.Run("mcast", func(t *testing.T) {
		c := startPair(t, "mcast", func(*cluster, *hbNode) string {
			return "mcast eth1 239.0.0.43 694 1 0\nmcast eth2 239.0.0.44 694 1 0"
		})
		n1, n2 := c.nodes["n1"], c.nodes["n2"]
		waitFor(t, 3*time.Second, "mcast links up", func() bool {
			return n2.linkStatus("n1", "eth1") == "up" && n2.linkStatus("n1", "eth2") == "up"
		})
		n1.ns.Cut("eth1")
		waitFor(t, 3*time.Second, "n1:eth1 dead", func() bool { return n2.linkStatus("n1", "eth1") == "dead" })
		if s := n2.nodeStatus("n1"); s != "active" {
			t.Fatalf("n1 %q with one mcast link left", s)
		}
	})
}
