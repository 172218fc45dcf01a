//go:build netns

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStockDrbddiskThroughExecutor: drbd-utils' own drbddisk script (as
// installed in /etc/ha.d/resource.d by Debian's drbd-utils) runs unchanged
// through heartbeatd's executor. drbdadm is the fake, bind-mounted over
// /usr/sbin/drbdadm in the node's private mount namespace.
func TestStockDrbddiskThroughExecutor(t *testing.T) {
	const stock = "/etc/ha.d/resource.d/drbddisk"
	if _, err := os.Stat(stock); err != nil {
		t.Fatalf("%s missing: drbd-utils not installed (tests/install-deps.sh installs it)", stock)
	}
	c := newCluster(t, "stockdrbd", false)
	n1, _ := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	state := filepath.Join(n1.dir, "drbd.json")
	os.WriteFile(state, []byte(`{"resources":{"r0":{"minor":0,"up":true,"role":"Secondary","peer_role":"Unknown","disk":"UpToDate","peer_disk":"DUnknown","cstate":"WFConnection"}}}`), 0o644)
	wrapper := filepath.Join(n1.dir, "drbdadm")
	os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\nFAKE_DRBD_STATE=%s FAKE_DRBD_VERSION=9 exec %s \"$@\"\n", state, fakeDrbdadm(t))), 0o755)
	n1.realSetup = "mount --bind " + wrapper + " /usr/sbin/drbdadm"
	n1.writeConf(c.haCF(n1, failoverTiming, "bcast eth1 eth2", "auto_failback on\n"), "n1 drbddisk::r0\n")
	if err := os.Symlink(stock, filepath.Join(n1.confdir, "resource.d", "drbddisk")); err != nil {
		t.Fatal(err)
	}
	// n1 alone: it takes its group after initdead.
	n1.start()
	waitFor(t, 15*time.Second, "r0 primary through stock drbddisk", func() bool { return drbdRole(t, state, "r0") == "Primary" })
	// A graceful stop releases it: drbddisk stop -> drbdadm secondary.
	n1.stop(30 * time.Second)
	if r := drbdRole(t, state, "r0"); r != "Secondary" {
		t.Fatalf("after a graceful stop r0 is %q, want Secondary", r)
	}
}
