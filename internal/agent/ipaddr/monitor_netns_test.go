//go:build netns

package ipaddr

import (
	"testing"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/tests/netlab"
)

// monitor is stricter than status: an address on a link without carrier,
// or on an interface set down, reaches nobody. status keeps saying
// "running" throughout (the address is still here, and the peer must not
// take it too).
func TestMonitorChecksLink(t *testing.T) {
	l := netlab.New(t, t.Name())
	n := l.AddNode("n")
	// A veth pair inside the node: vx's carrier follows vy's state.
	n.MustExec("ip", "link", "add", "vx", "type", "veth", "peer", "name", "vy")
	n.MustExec("ip", "addr", "add", "10.231.7.1/24", "dev", "vx")
	n.MustExec("ip", "link", "set", "vx", "up")
	n.MustExec("ip", "link", "set", "vy", "up")
	arg := "10.231.7.50/24/vx"
	env := map[string]string{"HA_ARP_COUNT": "0", "HA_IPADDR_NO_PROBE": "1"}

	check := func(step string, rc int, out string) {
		t.Helper()
		// The kernel's linkwatch updates the operational state (and so
		// IFF_RUNNING) up to a second after a carrier change.
		r := ipaddrAgent.Run(t, n, env, arg, "monitor")
		for deadline := time.Now().Add(3 * time.Second); (r.RC != rc || r.Stdout != out) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			r = ipaddrAgent.Run(t, n, env, arg, "monitor")
		}
		if r.RC != rc || r.Stdout != out {
			t.Fatalf("%s: monitor rc %d %q, want %d %q", step, r.RC, r.Stdout, rc, out)
		}
		if s := ipaddrAgent.MustRun(t, n, env, arg, "status"); (rc == agent.NotRunning) != (s.Stdout == "stopped\n") {
			t.Fatalf("%s: status %q changed meaning with monitor %q", step, s.Stdout, r.Stdout)
		}
	}
	check("before start", agent.NotRunning, "stopped\n")
	ipaddrAgent.MustRun(t, n, env, arg, "start")
	check("after start", agent.OK, "running\n")

	n.MustExec("ip", "link", "set", "vy", "down") // vx loses carrier
	check("carrier lost", agent.Failed, "failed: no carrier\n")
	n.MustExec("ip", "link", "set", "vy", "up")
	check("carrier back", agent.OK, "running\n")

	n.MustExec("ip", "link", "set", "vx", "down") // the address stays
	check("interface down", agent.Failed, "failed: link down\n")
	n.MustExec("ip", "link", "set", "vx", "up")
	check("interface up", agent.OK, "running\n")

	ipaddrAgent.MustRun(t, n, env, arg, "stop")
	check("after stop", agent.NotRunning, "stopped\n")
}
