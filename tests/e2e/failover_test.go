//go:build netns

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// failoverTiming: a short initdead so a lone node starts quickly.
var failoverTiming = timing{"100ms", "600ms", "300ms", "2"}

// ipaddrScript installs the IPaddr agent a test uses into a node's
// resource.d: heartbeatd's own (the wrapper of resource.d/IPaddr) or
// Debian's stock script.
type ipaddrKind int

const (
	nativeIPaddr ipaddrKind = iota
	stockIPaddr
)

func (n *hbNode) installIPaddr(kind ipaddrKind) {
	n.c.t.Helper()
	dst := filepath.Join(n.confdir, "resource.d", "IPaddr")
	os.Remove(dst)
	var err error
	if kind == stockIPaddr {
		err = os.Symlink("/etc/ha.d/resource.d/IPaddr", dst)
	} else {
		var b []byte
		if b, err = os.ReadFile("../../resource.d/IPaddr"); err == nil {
			err = os.WriteFile(dst, b, 0o755)
		}
	}
	if err != nil {
		n.c.t.Fatal(err)
	}
}

// marker is a resource script that records start/stop per node in a file,
// so tests see exactly where the service runs.
const markerScript = `#!/bin/sh
name=svc
if [ $# -ge 2 ]; then name=$1; shift; fi
f=%s/marker.$HA_CURHOST.$name
case "$1" in
start) echo running > "$f" ;;
stop) rm -f "$f" ;;
status) if [ -f "$f" ]; then echo running; else echo stopped; fi ;;
esac
`

// vipCluster builds n1/n2 (+client) with the group "n1 IPaddr::VIP/24/eth1 marker".
func vipCluster(t *testing.T, name, failback string, kind ipaddrKind) (*cluster, string) {
	t.Helper()
	c := newCluster(t, name, true)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	vip := c.br[0].Addr(100).Addr().String()
	shared := t.TempDir()
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, failoverTiming, "bcast eth1 eth2", "auto_failback "+failback+"\n"),
			fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker\n", vip))
		n.installIPaddr(kind)
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, shared)), 0o755)
	}
	c.shared = shared
	return c, vip
}

// runsOn reports which nodes run the marker service (marker::NAME; "svc"
// for a bare "marker").
func (c *cluster) runsOn(name ...string) []string {
	svc := "svc"
	if len(name) > 0 {
		svc = name[0]
	}
	var on []string
	for _, n := range []string{"n1", "n2"} {
		if _, err := os.Stat(filepath.Join(c.shared, "marker."+n+"."+svc)); err == nil {
			on = append(on, n)
		}
	}
	return on
}

// powerOff simulates a node that lost power: daemon killed, links cut, and
// whatever it ran is gone (its marker files and floating addresses).
func (c *cluster) powerOff(n *hbNode) {
	c.t.Helper()
	n.kill9()
	n.ns.Cut("eth1")
	n.ns.Cut("eth2")
	matches, _ := filepath.Glob(filepath.Join(c.shared, "marker."+n.name+".*"))
	for _, m := range matches {
		os.Remove(m)
	}
	n.ns.Exec("ip", "addr", "flush", "dev", "eth1", "label", "eth1:*")
}

// powerOn heals the links of a node powered off by powerOff.
func (c *cluster) powerOn(n *hbNode) {
	n.ns.Heal("eth1")
	n.ns.Heal("eth2")
}

var macRE = regexp.MustCompile(`(?i)\[([0-9a-f:]{17})\]`)

// arpOwner asks, from the client, who answers ARP for vip; "" if nobody.
func (c *cluster) arpOwner(vip string) string {
	out, _ := c.client.Exec("arping", "-c", "1", "-w", "1", "-I", "eth1", vip)
	m := macRE.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return c.nodeByMAC(strings.ToLower(m[1]))
}

// neighOwner is the node whose MAC the client's neighbour table has for vip
// (moved by gratuitous ARP).
func (c *cluster) neighOwner(vip string) string {
	out, _ := c.client.Exec("ip", "neigh", "show", vip)
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return c.nodeByMAC(strings.ToLower(f[i+1]))
		}
	}
	return ""
}

func (c *cluster) nodeByMAC(mac string) string {
	for name, n := range c.nodes {
		out, _ := n.ns.Exec("sh", "-c", "cat /sys/class/net/eth*/address")
		for _, m := range strings.Fields(out) {
			if m == mac {
				return name
			}
		}
	}
	return "unknown " + mac
}

// expectOwner waits until the service and the VIP are on exactly node, as
// the client sees it (neighbour entry moved by gratuitous ARP, and the
// address answering ARP from that node).
func (c *cluster) expectOwner(vip, node string, within time.Duration, why string) time.Duration {
	c.t.Helper()
	return waitFor(c.t, within, fmt.Sprintf("%s: service and %s on %s", why, vip, node), func() bool {
		on := c.runsOn()
		return len(on) == 1 && on[0] == node && c.neighOwner(vip) == node && c.arpOwner(vip) == node
	})
}

// startN1ThenN2 starts n1 alone (it takes its group after initdead), primes
// the client's neighbour entry, then starts n2.
func startN1ThenN2(c *cluster, vip string) {
	c.t.Helper()
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	n1.start()
	// Alone, n1 takes its group once initdead declares n2 dead; it then
	// reports "transition" for Heartbeat's 10 s negotiation fallback.
	waitFor(c.t, 10*time.Second, "n1 runs its group", func() bool { on := c.runsOn(); return len(on) == 1 && on[0] == "n1" })
	c.client.Exec("ping", "-c", "1", "-W", "1", vip)
	c.expectOwner(vip, "n1", 5*time.Second, "start")
	n2.start()
	waitFor(c.t, 10*time.Second, "both active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})
	waitFor(c.t, 25*time.Second, "resources stable", func() bool {
		// n1 took n2's (empty) group set too while alone, so it may
		// report "all" and n2 "none", as Heartbeat would.
		s1, _ := n1.clStatus("rscstatus")
		s2, _ := n2.clStatus("rscstatus")
		return (s1 == "local" || s1 == "all") && (s2 == "local" || s2 == "none")
	})
	c.started = time.Now()
}

func TestFailoverAutoFailbackOn(t *testing.T) {
	c, vip := vipCluster(t, "fo-on", "on", nativeIPaddr)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	startN1ThenN2(c, vip)

	n1.admin("hb_standby")
	c.expectOwner(vip, "n2", 10*time.Second, "hb_standby on n1")
	n1.admin("hb_takeover")
	c.expectOwner(vip, "n1", 10*time.Second, "hb_takeover on n1")

	// SIGTERM: n1 releases everything, sends shutdone, n2 takes over at once.
	n1.stop(20 * time.Second)
	took := c.expectOwner(vip, "n2", 10*time.Second, "SIGTERM of n1")
	t.Logf("graceful stop of n1: service on n2 after %v", took)

	// n1 returns: with auto_failback on the group goes home.
	n1.start()
	c.expectOwner(vip, "n1", 30*time.Second, "n1 returned (auto_failback on)")

	// Power n1 off: daemon killed, links cut. n2 takes over.
	c.started = time.Now()
	c.pastStartupDeadtime()
	c.powerOff(n1)
	took = c.expectOwner(vip, "n2", 10*time.Second, "n1 powered off")
	t.Logf("kill -9 + links cut: service on n2 after %v", took)
	if !strings.Contains(n2.log(), "node n1: is dead") {
		t.Errorf("n2 did not log n1's death")
	}
}

func TestFailoverAutoFailbackOff(t *testing.T) {
	c, vip := vipCluster(t, "fo-off", "off", stockIPaddr)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	startN1ThenN2(c, vip)
	c.pastStartupDeadtime()

	c.powerOff(n1)
	c.expectOwner(vip, "n2", 10*time.Second, "n1 powered off")

	// n1 comes back; with auto_failback off the group stays on n2.
	c.powerOn(n1)
	n1.start()
	waitFor(t, 15*time.Second, "n1 back and active", func() bool { return n2.nodeStatus("n1") == "active" })
	time.Sleep(3 * time.Second) // give a (wrong) failback every chance to happen
	if on := c.runsOn(); len(on) != 1 || on[0] != "n2" {
		t.Fatalf("with auto_failback off the service moved: runs on %v", on)
	}
	if o := c.arpOwner(vip); o != "n2" {
		t.Fatalf("VIP answered by %q, want n2", o)
	}
}
