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

// TestInteropIpfail: real Heartbeat 3.0.6 running its ipfail (n1) beside
// heartbeatd with ipfail built in (n2), one ping node (the client), one
// group homed on each node, auto_failback off. Each side in turn loses
// the ping node; the other side's ipfail says you_are_dead and every
// group moves to the side that still reaches it.
func TestInteropIpfail(t *testing.T) {
	c := newCluster(t, "iipf", true)
	real, ours := c.addRealNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	c.shared = t.TempDir()
	os.Chmod(c.shared, 0o777)
	vip1, vip2 := c.br[0].Addr(101).Addr().String(), c.br[0].Addr(102).Addr().String()
	gw := c.br[0].Addr(200).Addr().String()
	hr := fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker::g1\nn2 IPaddr::%s/24/eth1 marker::g2\n", vip1, vip2)
	for _, n := range []*hbNode{real, ours} {
		n.writeConf(c.haCF(n, interopTiming, "bcast eth1 eth2",
			fmt.Sprintf("auto_failback off\nping %s\n%s", gw, ipfailRespawn)), hr)
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, c.shared)), 0o755)
	}
	ours.installIPaddr(stockIPaddr)

	// The real node starts first and alone: it takes both groups after
	// initdead, and with auto_failback off keeps them when heartbeatd
	// joins. (Started together, each node takes its own group.)
	real.startReal()
	c.placement("n1", "n1", 40*time.Second, "initial acquisition")
	ours.start()
	stable := func(why, want1, want2 string) {
		waitFor(t, 30*time.Second, why, func() bool {
			a, _ := real.clStatus("rscstatus")
			b, _ := ours.clStatus("rscstatus")
			return a == want1 && b == want2 && real.nodeStatus(gw) == "ping" && ours.nodeStatus(gw) == "ping"
		})
	}
	stable("both stable and reaching the ping node", "all", "none")
	// Let Heartbeat's ipfail sign on and exchange its first counts.
	waitFor(t, 20*time.Second, "real ipfail running", func() bool {
		return strings.Contains(real.log(), "Starting \"/usr/libexec/heartbeat/ipfail\"")
	})
	time.Sleep(3 * time.Second)

	// The real node loses the ping node: its ipfail sends its count,
	// heartbeatd answers you_are_dead, and the real ipfail gives up (as
	// ipfail, with hb_standby's exchange).
	start := time.Now()
	real.dropPings(gw, true)
	c.placement("n2", "n2", 40*time.Second, "real Heartbeat lost its ping node")
	t.Logf("ping node dropped on real Heartbeat → both groups on heartbeatd after %v", time.Since(start))
	if !strings.Contains(ours.log(), "Telling other node that we have more visible ping nodes.") {
		t.Errorf("heartbeatd did not answer the real ipfail's count")
	}
	real.dropPings(gw, false)
	stable("stable again, all on heartbeatd", "none", "all")
	time.Sleep(3 * time.Second)
	c.placement("n2", "n2", time.Second, "no ping-pong after the ping node returned")

	// heartbeatd loses the ping node: the real ipfail tells it so, and
	// both groups move back to the real node.
	start = time.Now()
	ours.dropPings(gw, true)
	c.placement("n1", "n1", 40*time.Second, "heartbeatd lost its ping node")
	t.Logf("ping node dropped on heartbeatd → both groups on real Heartbeat after %v", time.Since(start))
	if !strings.Contains(ours.log(), "Giving up because we were told that we have less ping nodes.") {
		t.Errorf("heartbeatd did not act on the real ipfail's you_are_dead")
	}
	checkNoOwnershipErrors(t, real)
}
