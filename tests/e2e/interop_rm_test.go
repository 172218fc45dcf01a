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

// rmInterop builds real Heartbeat on n1 and heartbeatd on n2 sharing one
// haresources with a group homed on each node:
//
//	n1 IPaddr::VIP1/24/eth1 marker::g1
//	n2 IPaddr::VIP2/24/eth1 marker::g2
//
// Both use Debian's stock IPaddr, so the only difference is the daemon.
func rmInterop(t *testing.T, name, failback string) (c *cluster, real, ours *hbNode, vip1, vip2 string) {
	t.Helper()
	c = newCluster(t, name, true)
	real, ours = c.addRealNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	c.shared = t.TempDir()
	os.Chmod(c.shared, 0o777)
	vip1, vip2 = c.br[0].Addr(101).Addr().String(), c.br[0].Addr(102).Addr().String()
	hr := fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker::g1\nn2 IPaddr::%s/24/eth1 marker::g2\n", vip1, vip2)
	for _, n := range []*hbNode{real, ours} {
		n.writeConf(c.haCF(n, interopTiming, "bcast eth1 eth2", "auto_failback "+failback+"\n"), hr)
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, c.shared)), 0o755)
	}
	ours.installIPaddr(stockIPaddr)
	return
}

// placement waits until g1 and g2 run exactly where wanted.
func (c *cluster) placement(g1, g2 string, within time.Duration, why string) {
	c.t.Helper()
	waitFor(c.t, within, fmt.Sprintf("%s: g1 on %s, g2 on %s", why, g1, g2), func() bool {
		a, b := c.runsOn("g1"), c.runsOn("g2")
		return len(a) == 1 && a[0] == g1 && len(b) == 1 && b[0] == g2
	})
}

func checkNoOwnershipErrors(t *testing.T, real *hbNode) {
	t.Helper()
	log := real.log()
	for _, bad := range []string{"Both machines own", "No one owns", "failed authentication"} {
		if strings.Contains(log, bad) {
			t.Errorf("real Heartbeat logged %q:\n%s", bad, grepLines(log, bad))
		}
	}
}

func TestInteropResourcesAutoFailbackOn(t *testing.T) {
	c, real, ours, _, _ := rmInterop(t, "irm-on", "on")
	real.startReal()
	ours.start()
	c.placement("n1", "n2", 40*time.Second, "initial acquisition")
	waitFor(t, 20*time.Second, "both stable", func() bool {
		a, _ := real.clStatus("rscstatus")
		b, _ := ours.clStatus("rscstatus")
		return a == "local" && b == "local"
	})

	// hb_standby on the real node: heartbeatd takes everything.
	real.admin("hb_standby")
	c.placement("n2", "n2", 30*time.Second, "hb_standby on real n1")
	// hb_standby on heartbeatd: the real node takes everything.
	waitFor(t, 20*time.Second, "stable after standby", func() bool { b, _ := ours.clStatus("rscstatus"); return b == "all" })
	ours.admin("hb_standby")
	c.placement("n1", "n1", 30*time.Second, "hb_standby on heartbeatd n2")
	// hb_takeover on heartbeatd: it takes everything back ... and with
	// auto_failback on, "failback" = its own group only.
	waitFor(t, 20*time.Second, "stable after standby 2", func() bool { a, _ := real.clStatus("rscstatus"); return a == "all" })
	ours.admin("hb_takeover", "failback")
	c.placement("n1", "n2", 30*time.Second, "hb_takeover failback on n2")

	// kill -9 heartbeatd: real Heartbeat takes over g2.
	c.started = time.Now()
	c.pastStartupDeadtime()
	c.powerOff(ours)
	c.placement("n1", "n1", 15*time.Second, "heartbeatd powered off")
	c.powerOn(ours)
	ours.start()
	c.placement("n1", "n2", 40*time.Second, "heartbeatd returned (failback)")

	// kill -9 real Heartbeat: heartbeatd takes over g1, and gives it back
	// when the real node returns.
	waitFor(t, 20*time.Second, "stable before kill", func() bool {
		a, _ := real.clStatus("rscstatus")
		b, _ := ours.clStatus("rscstatus")
		return a == "local" && b == "local"
	})
	c.powerOff(real)
	c.placement("n2", "n2", 15*time.Second, "real Heartbeat powered off")
	c.powerOn(real)
	real.startReal()
	c.placement("n1", "n2", 40*time.Second, "real Heartbeat returned (failback)")
	checkNoOwnershipErrors(t, real)
}

func TestInteropResourcesLegacy(t *testing.T) {
	c, real, ours, _, _ := rmInterop(t, "irm-leg", "legacy")
	real.startReal()
	ours.start()
	c.placement("n1", "n2", 40*time.Second, "initial acquisition")

	c.started = time.Now()
	c.pastStartupDeadtime()
	c.powerOff(ours)
	c.placement("n1", "n1", 15*time.Second, "heartbeatd powered off")
	c.powerOn(ours)
	ours.start()
	// Legacy: the returning home node pulls its group back with ip-request.
	c.placement("n1", "n2", 40*time.Second, "heartbeatd returned (ip-request)")

	c.powerOff(real)
	c.placement("n2", "n2", 15*time.Second, "real Heartbeat powered off")
	c.powerOn(real)
	real.startReal()
	c.placement("n1", "n2", 40*time.Second, "real Heartbeat returned (ip-request)")
	checkNoOwnershipErrors(t, real)
}
