package node

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Issue 14 item 2, in the node simulator: two REAL nodes at keepalive
// 10 ms and deadtime 50 ms, both links losing 30 % of the packets in
// each direction (independently per packet, link and receiver), for ten
// simulated minutes. With redundant copies neither node declares the other
// dead, so nothing fails over; with them turned off (MaxCopies 1) the
// same links make false deaths, which proves the test can fail.
const (
	lossKeepalive = 10 * time.Millisecond
	lossDeadtime  = 50 * time.Millisecond
	lossRate      = 0.3
)

// lossRun plays the schedule with copies as the cap on redundancy and
// returns the false deaths (one line per death: a status that comes
// after deadtime logs "is dead" a second time, Heartbeat's late-heartbeat
// path), the extra copies both nodes sent, and the world.
func lossRun(t *testing.T, seed int64, copies int, d time.Duration) (deaths []string, extra uint64, w *world) {
	w = newWorld(t, seed, "on")
	for i := range w.nodes {
		lossStart(w, i, copies)
	}
	// Past the start-up dead time bonus (deadtime + 2 s for 5 s) and the
	// resource negotiation, on clean links.
	w.run(8 * time.Second)
	for i, sn := range w.nodes {
		if st := sn.n.NodeStatus(simNames[1-i]); st != "active" {
			t.Fatalf("%s sees its peer %s before the loss starts\n%s", sn.name, st, w.dump())
		}
	}
	marks := [2]int{len(w.nodes[0].logs), len(w.nodes[1].logs)}
	before := [2]uint64{w.nodes[0].n.Membership().Stats().Copies, w.nodes[1].n.Membership().Stats().Copies}
	w.loss = lossRate
	w.tracef("---- loss %.2f", w.loss)
	w.run(d)
	for i, sn := range w.nodes {
		last := -time.Hour
		for _, l := range sn.logs[marks[i]:] {
			if !strings.Contains(l, ": is dead") {
				continue
			}
			var sec float64
			fmt.Sscanf(l, "%f", &sec)
			at := time.Duration(sec * float64(time.Second))
			if at-last > time.Second {
				deaths = append(deaths, sn.name+": "+strings.TrimSpace(l))
			}
			last = at
		}
		extra += sn.n.Membership().Stats().Copies - before[i]
	}
	return deaths, extra, w
}

// lossStart starts node i with the timings.
func lossStart(w *world, i int, copies int) {
	sn := w.nodes[i]
	sn.gen++
	cfg := w.cfg(i)
	m := &cfg.Membership
	m.Keepalive, m.Deadtime, m.Warntime, m.Initdead = lossKeepalive, lossDeadtime, 30*time.Millisecond, 2*time.Second
	m.MaxCopies = copies
	n, err := New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	sn.n, sn.running, sn.paused, sn.inbox, sn.ops, sn.exiting = n, true, false, nil, nil, false
	sn.since, sn.last = w.now, w.now
	w.tracef("%s ---- start (generation %d, at most %d copies)", sn.name, sn.gen, copies)
	w.step(i, Start{})
}

func TestLossNoFalseDeathWithCopies(t *testing.T) {
	d := 10 * time.Minute
	if testing.Short() {
		d = time.Minute
	}
	deaths, extra, w := lossRun(t, 1, 0, d)
	statuses := uint64(d / lossKeepalive * 2)
	t.Logf("%v at %.0f%% loss on both links, keepalive %v, deadtime %v: %d false deaths, %d extra copies (%.2f per status)",
		d, 100*lossRate, lossKeepalive, lossDeadtime, len(deaths), extra, float64(extra)/float64(statuses))
	for _, sn := range w.nodes {
		n, info := sn.n.Membership().Copies()
		t.Logf("%s sends %d copies: %+v", sn.name, n, info)
	}
	if len(deaths) > 0 {
		t.Fatalf("false deaths with redundant copies:\n%s", strings.Join(deaths, "\n"))
	}
	if len(w.violations) > 0 {
		t.Fatalf("violations: %v", w.violations)
	}
	for k, on := range w.owners() {
		if len(on) != 1 {
			t.Errorf("%s runs on %v after %v of loss", k, on, d)
		}
	}

	// The loss stops: both nodes back off to one copy within seconds
	// (the average forgets in about 64 statuses, then one step down per
	// 2 s), and say so once.
	w.loss = 0
	w.tracef("---- loss over")
	w.run(10 * time.Second)
	for _, sn := range w.nodes {
		if n, info := sn.n.Membership().Copies(); n != 1 {
			t.Errorf("%s still sends %d copies 10 s after the loss stopped: %+v", sn.name, n, info)
		}
		var said []string
		for _, l := range sn.logs {
			if strings.Contains(l, "takeover message") {
				said = append(said, l)
			}
		}
		t.Logf("%s's lines about copies:\n%s", sn.name, strings.Join(said, "\n"))
		if len(said) == 0 || !strings.Contains(said[len(said)-1], "sending each status and takeover message once") {
			t.Errorf("%s did not log the end of the copies", sn.name)
		}
	}
}

// TestLossFalseDeathsWithoutCopies is the control: the same links with
// copies turned off (MaxCopies 1) make false deaths, so the test above
// can fail. A status is lost on both links with p = 0.09 and five in a
// row make a death: about one every half hour per direction, so ten
// minutes often pass without one. The control plays ten minutes per seed,
// up to an hour, and stops at the first seed with a death (seed 3, after
// 30 minutes, with two: one each way).
func TestLossFalseDeathsWithoutCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("the control runs up to an hour of simulated time")
	}
	var deaths []string
	var ran time.Duration
	seed := int64(1)
	for ; ran < time.Hour; seed++ {
		var extra uint64
		deaths, extra, _ = lossRun(t, seed, 1, 10*time.Minute)
		ran += 10 * time.Minute
		if extra != 0 {
			t.Fatalf("MaxCopies 1 sent %d extra copies", extra)
		}
		if len(deaths) > 0 {
			break
		}
	}
	if len(deaths) == 0 {
		t.Fatalf("no false death in %v of %.0f%% loss without copies: the loss test could not fail", ran, 100*lossRate)
	}
	t.Logf("%.0f%% loss on both links without copies: %d false deaths in the 10 minutes of seed %d (%v played in all)", 100*lossRate, len(deaths), seed, ran)
	t.Logf("first ones:\n%s", strings.Join(deaths[:min(len(deaths), 4)], "\n"))
}
