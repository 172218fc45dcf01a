package membership

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// describe renders an action with its time, for comparing runs.
func describe(e timedAction) string {
	at := e.at.Sub(t0).Milliseconds()
	switch a := e.a.(type) {
	case Transmit:
		return fmt.Sprintf("%d transmit t=%s seq=%s dt=%s st=%s dest=%s", at, a.Msg.Type(),
			a.Msg.Value("seq"), a.Msg.Value("dt"), a.Msg.Value("st"), a.Msg.Value("dest"))
	case Log:
		return fmt.Sprintf("%d log %s %s", at, a.Level, a.Text)
	case NodeStatus:
		return fmt.Sprintf("%d node %s %s->%s", at, a.Node, a.Old, a.New)
	case Deliver:
		return fmt.Sprintf("%d deliver %s from %s n=%s", at, a.Msg.Type(), a.Msg.Value("src"), a.Msg.Value("n"))
	default:
		return fmt.Sprintf("%d %T %+v", at, a, a)
	}
}

// wakeScenario runs joins, a lossy stretch with retransmissions, a link
// cut, a partition and heal, and a kill, on a network built by mk.
func wakeScenario(n *Network) {
	n.start(700 * time.Millisecond)
	n.run(7 * time.Second)
	n.loss = 0.3
	for i := 0; i < 40; i++ {
		m := wire.New("resource")
		m.Set("n", itoa3(i))
		n.step("pa1", Send{Msg: m})
		n.run(37 * time.Millisecond)
	}
	n.loss = 0
	n.run(2 * time.Second)
	n.cut["pa2"]["eth2"] = true
	n.run(8 * time.Second)
	n.cut["pa2"]["eth1"] = true
	n.run(8 * time.Second)
	n.cut["pa2"]["eth1"], n.cut["pa2"]["eth2"] = false, false
	n.run(3 * time.Second)
	n.stopped["pa1"] = true
	n.run(8 * time.Second)
}

// TestNextWakeMatchesEagerTicks: a node ticked only at NextWake does exactly
// what a node ticked every millisecond does, at the same millisecond: no
// keepalive late, no death seen later, no retransmission request missed. It
// holds for Heartbeat's 250 ms dead check and for the daemon's 1 ms one.
func TestNextWakeMatchesEagerTicks(t *testing.T) {
	for _, deadCheck := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond} {
		for seed := int64(1); seed <= 5; seed++ {
			run := func(wake bool) (map[string][]string, int) {
				n := newNetwork(t, seed, "pa1", "pa2")
				for _, tb := range n.tables {
					if deadCheck > 0 {
						tb.cfg.DeadCheck = deadCheck
					}
				}
				n.tickEvery, n.wake = time.Millisecond, wake
				wakeScenario(n)
				out := map[string][]string{}
				for name, evs := range n.events {
					for _, e := range evs {
						out[name] = append(out[name], describe(e))
					}
				}
				return out, n.ticks
			}
			eager, eagerTicks := run(false)
			lazy, lazyTicks := run(true)
			// Keepalive 1 s: a few wake-ups a second, not a thousand.
			if lazyTicks*50 > eagerTicks {
				t.Errorf("deadcheck %v seed %d: %d wake-ups vs %d ticks", deadCheck, seed, lazyTicks, eagerTicks)
			}
			for _, name := range []string{"pa1", "pa2"} {
				a, b := eager[name], lazy[name]
				for i := 0; i < len(a) || i < len(b); i++ {
					var x, y string
					if i < len(a) {
						x = a[i]
					}
					if i < len(b) {
						y = b[i]
					}
					if x != y {
						t.Fatalf("deadcheck %v seed %d %s: action %d differs:\n  ticked every ms: %s\n  ticked at NextWake: %s\ncontext:\n%s",
							deadCheck, seed, name, i, x, y, strings.Join(a[max(0, i-5):i], "\n"))
					}
				}
				all := strings.Join(a, "\n")
				for _, want := range []string{"node pa1 active->dead", "transmit t=NS_rexmit", "Link pa1:eth2 dead."} {
					if name == "pa2" && !strings.Contains(all, want) {
						t.Fatalf("deadcheck %v seed %d: scenario never produced %q on pa2", deadCheck, seed, want)
					}
				}
			}
		}
	}
}
