package node

import (
	"strconv"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// simPingNode is the simulated router both nodes ping.
const simPingNode = "gw"

// echoPing is the ping medium and the router: every status node i sends
// (one per keepalive) is also an echo request to the ping node, whose
// reply, the NS_st the medium asked for, arrives a millisecond later
// unless node i has lost the ping node.
func (w *world) echoPing(i int, m *wire.Message) {
	if !w.pings || w.pingLost[i] || m.Type() != "status" || m.Value("src") != w.nodes[i].name {
		return
	}
	r := wire.New("NS_st")
	r.Set("st", "ping")
	r.Set("info", "ping")
	r.Set("src", simPingNode)
	r.Set("ts", strconv.FormatInt(w.now.Unix(), 16))
	w.inflight = append(w.inflight, delivery{at: w.now.Add(time.Millisecond), to: i, link: simPingNode, msg: r})
}

// TestSimPing runs TestSim's schedules with one ping node, ipfail and the
// ping tie-breaker on, and one more fault: a node loses the ping node
// (ipfail then moves its groups to the peer; in a partition the isolated
// node takes nothing and releases what it holds). Same checks as TestSim:
// no start of a group running on the connected peer, and every group on
// exactly one machine after the faults (the ping node answers both again).
// Legacy is left out: ipfail does nothing there.
func TestSimPing(t *testing.T) {
	seeds := halfSeeds(25)
	for _, mode := range []string{"on", "off"} {
		t.Run(mode, func(t *testing.T) {
			runSeeds(t, seeds, "TestSimPing/"+mode, func(seed int64) *world { return simPingRun(t, seed, mode) })
		})
	}
}

func simPingRun(t testing.TB, seed int64, mode string) *world {
	w := newWorld(t, seed, mode)
	w.pings = true
	r := w.rng
	w.opFail = func(i int, key, op string) bool { return op == "start" && r.Float64() < 0.03 }
	w.start(0)
	w.run(time.Duration(r.Intn(3000)) * time.Millisecond)
	w.start(1)
	w.run(20 * time.Second)
	w.faults(func() bool {
		i := r.Intn(2)
		if r.Intn(3) != 0 {
			return false
		}
		w.pingLost[i] = true
		w.tracef("%s ---- ping-lost", w.nodes[i].name)
		return true
	})
	w.heal()
	w.settled()
	return w
}
