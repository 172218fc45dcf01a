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

// Ping nodes in these tests are the client namespace (on link1): it
// answers ICMP echo like any router. A node "loses its ping node" when an
// nftables rule in its own namespace drops the echo requests to it, so
// nothing else about its network changes.

// pingCluster is vipCluster with the client as ping node and extra ha.cf
// lines.
func pingCluster(t *testing.T, name, failback, extra string) (*cluster, string) {
	t.Helper()
	c := newCluster(t, name, true)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	vip := c.br[0].Addr(100).Addr().String()
	gw := c.br[0].Addr(200).Addr().String()
	shared := t.TempDir()
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, failoverTiming, "bcast eth1 eth2",
			fmt.Sprintf("auto_failback %s\nping %s\n%s", failback, gw, extra)),
			fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker\n", vip))
		n.installIPaddr(nativeIPaddr)
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, shared)), 0o755)
	}
	c.shared = shared
	return c, vip
}

// dropPings makes n lose its ping node gw (on) or find it again (off):
// echo requests to gw are dropped in n's namespace, in a table of their
// own beside netlab's.
func (n *hbNode) dropPings(gw string, on bool) {
	n.c.t.Helper()
	rules := "table inet ipfailtest\ndelete table inet ipfailtest\n"
	if on {
		rules += fmt.Sprintf("table inet ipfailtest {\n  chain out {\n    type filter hook output priority -300; policy accept;\n"+
			"    ip daddr %s icmp type echo-request drop\n  }\n}\n", gw)
	}
	if out, err := n.ns.Exec("sh", "-c", "printf '%s' \"$0\" | nft -f -", rules); err != nil {
		n.c.t.Fatalf("nft on %s: %v: %s", n.name, err, out)
	}
}

// dropHeartbeats cuts n off from its peer silently (both links, carrier
// up) without touching anything else: heartbeat's UDP port is dropped
// in both directions.
func (n *hbNode) dropHeartbeats() {
	n.c.t.Helper()
	rules := "table inet hbcut\ndelete table inet hbcut\ntable inet hbcut {\n" +
		"  chain in {\n    type filter hook input priority -300; policy accept;\n    udp dport 694 drop\n  }\n" +
		"  chain out {\n    type filter hook output priority -300; policy accept;\n    udp dport 694 drop\n  }\n}\n"
	if out, err := n.ns.Exec("sh", "-c", "printf '%s' \"$0\" | nft -f -", rules); err != nil {
		n.c.t.Fatalf("nft on %s: %v: %s", n.name, err, out)
	}
}

const ipfailRespawn = "respawn hacluster /usr/libexec/heartbeat/ipfail\n"

// TestIpfailActiveLosesPingNode: the active node (n1) stops reaching the
// ping node while the cluster links stay up. Built-in ipfail compares the
// counts (n1 0, n2 1) and n1 hands its group to n2 with hb_standby's
// exchange. When the ping node answers n1 again, the counts balance and,
// with auto_failback off, nothing moves back.
func TestIpfailActiveLosesPingNode(t *testing.T) {
	c, vip := pingCluster(t, "ipfail", "off", ipfailRespawn)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	gw := c.br[0].Addr(200).Addr().String()
	startN1ThenN2(c, vip)
	waitFor(t, 10*time.Second, "both see the ping node", func() bool {
		return n1.nodeStatus(gw) == "ping" && n2.nodeStatus(gw) == "ping"
	})
	c.pastStartupDeadtime()

	start := time.Now()
	n1.dropPings(gw, true)
	waitFor(t, 10*time.Second, "n1 sees the ping node dead", func() bool { return n1.nodeStatus(gw) == "dead" })
	dead := time.Since(start)
	c.expectOwner(vip, "n2", 20*time.Second, "ipfail giveup")
	t.Logf("ping node dropped on n1 → dead on n1 after %v → VIP and service on n2 after %v", dead, time.Since(start))
	for _, want := range []string{"Asking other side for ping node count.", "Giving up because we were told that we have less ping nodes.", "Going standby [all]."} {
		if !strings.Contains(n1.log(), want) {
			t.Errorf("n1 did not log %q", want)
		}
	}
	if !strings.Contains(n2.log(), "Telling other node that we have more visible ping nodes.") {
		t.Errorf("n2 did not log the count comparison")
	}

	n1.dropPings(gw, false)
	waitFor(t, 10*time.Second, "n1 sees the ping node again", func() bool { return n1.nodeStatus(gw) == "ping" })
	waitFor(t, 5*time.Second, "n2 finds the counts balanced", func() bool {
		return strings.Contains(n2.log(), "Ping node count is balanced.")
	})
	// No ping-pong: watch for a while that the service stays on n2.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if on := c.runsOn(); len(on) != 1 || on[0] != "n2" {
			t.Fatalf("after the ping node came back the service runs on %v, want only n2", on)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s, _ := n1.clStatus("rscstatus"); s != "none" {
		t.Errorf("n1 rscstatus %q, want none", s)
	}
}

// TestPingTiebreakPartition: both cluster links are cut silently (no
// fencing) while exactly one node still reaches the ping node. Only that
// node may hold the group afterwards: when it is the active node it keeps
// it and the isolated standby takes nothing; when it is the standby it
// takes the group, and the isolated active releases it.
func TestPingTiebreakPartition(t *testing.T) {
	for _, v := range []struct{ name, keeper, isolated string }{
		{"active keeps the ping node", "n1", "n2"},
		{"standby keeps the ping node", "n2", "n1"},
	} {
		t.Run(v.name, func(t *testing.T) {
			c, vip := pingCluster(t, "tiebrk", "off", "")
			gw := c.br[0].Addr(200).Addr().String()
			startN1ThenN2(c, vip)
			waitFor(t, 10*time.Second, "both see the ping node", func() bool {
				return c.nodes["n1"].nodeStatus(gw) == "ping" && c.nodes["n2"].nodeStatus(gw) == "ping"
			})
			c.pastStartupDeadtime()
			keeper, isolated := c.nodes[v.keeper], c.nodes[v.isolated]

			start := time.Now()
			isolated.dropPings(gw, true)
			c.nodes["n1"].dropHeartbeats()
			waitFor(t, 10*time.Second, "both declare the peer dead", func() bool {
				return keeper.nodeStatus(isolated.name) == "dead" && isolated.nodeStatus(keeper.name) == "dead"
			})
			waitFor(t, 15*time.Second, "the service and the VIP only on "+keeper.name, func() bool {
				on := c.runsOn()
				return len(on) == 1 && on[0] == keeper.name && keeper.hasAddr(vip) && !isolated.hasAddr(vip)
			})
			t.Logf("partition → service only on %s after %v", keeper.name, time.Since(start))
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if on := c.runsOn(); len(on) != 1 || on[0] != keeper.name || isolated.hasAddr(vip) {
					t.Fatalf("during the partition the service runs on %v (VIP on %s: %v), want only %s",
						on, isolated.name, isolated.hasAddr(vip), keeper.name)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(isolated.log(), "this node is the isolated one") {
				t.Errorf("%s did not log that it is the isolated node", isolated.name)
			}
		})
	}
}

// hasAddr: addr is configured on one of n's interfaces.
func (n *hbNode) hasAddr(addr string) bool {
	out, _ := n.ns.Exec("ip", "-o", "addr", "show")
	return strings.Contains(out, " "+addr+"/")
}
