//go:build netns

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSplitBrainHealReannounces: both links of the active node are cut, so
// the peer takes the floating IP too (split brain, no STONITH) and the
// client's ARP cache follows the peer's gratuitous ARP. When the links come
// back, the home node keeps the group, the peer releases it, and the home
// node announces the address again so the client's cache points back to it
// without waiting for the entry to age out.
func TestSplitBrainHealReannounces(t *testing.T) {
	c, vip := vipCluster(t, "sbrain", "on", nativeIPaddr)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	startN1ThenN2(c, vip)
	c.pastStartupDeadtime()

	n1.ns.Cut("eth1")
	n1.ns.Cut("eth2")
	waitFor(t, 10*time.Second, "n2 took the group during the partition", func() bool {
		on := c.runsOn()
		return len(on) == 2 && c.neighOwner(vip) == "n2"
	})

	n1.ns.Heal("eth1")
	n1.ns.Heal("eth2")
	// No traffic from the client: only an announcement can move its entry.
	defer func() {
		if t.Failed() {
			t.Logf("at the end: service on %v, client's entry on %q", c.runsOn(), c.neighOwner(vip))
		}
	}()
	waitFor(t, 15*time.Second, "group only on n1 and the client's cache back on n1", func() bool {
		on := c.runsOn()
		return len(on) == 1 && on[0] == "n1" && c.neighOwner(vip) == "n1"
	})
	if !strings.Contains(n1.log(), "partition healed: announcing") {
		t.Errorf("n1 did not log the re-announcement")
	}
	if !strings.Contains(n2.log(), "returning after partition") && !strings.Contains(n1.log(), "returning after partition") {
		t.Errorf("no node logged the partition heal")
	}
}
