package membership

import (
	"testing"
	"time"
)

// statusTimes is when name transmitted a status in [since, until).
func (n *Network) statusTimes(name string, since, until time.Time) []time.Time {
	var out []time.Time
	for _, e := range n.events[name] {
		if tx, ok := e.a.(Transmit); ok && tx.Msg.Type() == "status" && !e.at.Before(since) && e.at.Before(until) {
			out = append(out, e.at)
		}
	}
	return out
}

// gaps are the intervals between consecutive times.
func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

// inStep checks that follower sent exactly as many statuses as leader in
// [since, until), want of each, every one at the moment the leader's
// arrived (one network latency later).
func inStep(t *testing.T, n *Network, leader, follower string, since, until time.Time, want int) {
	t.Helper()
	lead, follow := n.statusTimes(leader, since, until), n.statusTimes(follower, since, until)
	if len(lead) != want || len(follow) != want {
		t.Fatalf("%s sent %d statuses and %s %d, want %d each", leader, len(lead), follower, len(follow), want)
	}
	for i := range lead {
		if got := follow[i].Sub(lead[i]); got != n.latency {
			t.Fatalf("status %d: %s sent %v after %s, want %v (the moment its status arrived)", i, follower, got, leader, n.latency)
		}
	}
}

// TestFollowPeerLocksPhase: the node whose keepalive falls due soon after
// the peer's status arrives sends in the same instant as it hears the peer,
// from then on every keepalive, so its own alarm never has to wake it. No
// gap is ever longer than keepalive while the peer lives, and when the peer
// dies the follower goes back to its own pace after one gap of at most
// keepalive+FollowSlack.
func TestFollowPeerLocksPhase(t *testing.T) {
	n := newNetwork(t, 1, "pa1", "pa2")
	n.wake = true
	k := n.tables["pa1"].cfg.Keepalive
	n.start(300 * time.Millisecond) // pa2's keepalive is due 299 ms after pa1's status arrives
	n.run(12 * time.Second)
	bothActive(t, n)

	// From 6 s on: after the start-up statuses and the one that drops the
	// start-up deadtime bonus, 5 s after each start.
	steady := t0.Add(6 * time.Second)
	inStep(t, n, "pa1", "pa2", steady, n.now, 7)
	for _, name := range []string{"pa1", "pa2"} {
		for i, g := range gaps(n.statusTimes(name, steady, n.now)) {
			if g > k || g < k/2 {
				t.Errorf("%s: status gap %d is %v, want between %v and %v", name, i, g, k/2, k)
			}
		}
	}

	// The leader dies: one gap of at most keepalive+slack, then keepalive.
	killed := n.now
	n.stopped["pa1"] = true
	n.run(4 * time.Second)
	after := n.statusTimes("pa2", killed.Add(-k), n.now)
	gs := gaps(after)
	if len(gs) < 4 {
		t.Fatalf("pa2 sent only %d statuses after pa1 died", len(after))
	}
	slack := FollowSlack(k)
	if gs[0] > k+slack {
		t.Errorf("first gap after the leader died is %v, want at most %v", gs[0], k+slack)
	}
	for i, g := range gs[1:] {
		if g != k {
			t.Errorf("gap %d after the leader died is %v, want %v", i+1, g, k)
		}
	}
}

// TestFollowPeerBoundsRate: a peer with a much shorter keepalive (or one
// that floods statuses) cannot make us send more than twice per keepalive.
func TestFollowPeerBoundsRate(t *testing.T) {
	n := newNetwork(t, 2, "pa1", "pa2")
	n.wake = true
	fast := n.tables["pa2"]
	fast.cfg.Keepalive = 20 * time.Millisecond
	k := n.tables["pa1"].cfg.Keepalive
	n.start(100 * time.Millisecond)
	n.run(6 * time.Second)
	from := n.now
	n.run(20 * time.Second)
	ts := n.statusTimes("pa1", from, n.now)
	if max := int(2*20*time.Second/k) + 1; len(ts) > max {
		t.Errorf("pa1 sent %d statuses in 20 s at keepalive %v, want at most %d", len(ts), k, max)
	}
	for i, g := range gaps(ts) {
		if g < k/2 || g > k {
			t.Errorf("pa1 status gap %d is %v, want between %v and %v", i, g, k/2, k)
		}
	}
}

// TestFollowPeerNeverMutual: with the phases the other way round, pa1
// follows pa2 and pa2 keeps its own pace; the two never chase each other
// into ever earlier keepalives.
func TestFollowPeerNeverMutual(t *testing.T) {
	n := newNetwork(t, 3, "pa1", "pa2")
	n.wake = true
	k := n.tables["pa1"].cfg.Keepalive
	n.start(800 * time.Millisecond) // pa1's keepalive is due 199 ms after pa2's status arrives
	n.run(6 * time.Second)
	from := n.now
	n.run(10 * time.Second)
	lead := n.statusTimes("pa2", from, from.Add(10*time.Second))
	inStep(t, n, "pa2", "pa1", from, from.Add(10*time.Second), 10)
	for i, g := range gaps(lead) {
		if g != k {
			t.Errorf("leader pa2's gap %d is %v, want %v", i, g, k)
		}
	}
}

// TestFollowPeerThreeNodes: three nodes started out of step settle into
// one step, every node sending exactly every keepalive: none speeds up,
// none leaves a longer gap.
func TestFollowPeerThreeNodes(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		n := newNetwork(t, seed, "pa1", "pa2", "pa3")
		n.wake = true
		k := n.tables["pa1"].cfg.Keepalive
		n.start(time.Duration(170+37*seed) * time.Millisecond)
		n.run(8 * time.Second)
		from := n.now
		n.run(20 * time.Second)
		var first, last time.Time
		for _, name := range n.names {
			at := n.lastStatusSent(name)
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		if spread := last.Sub(first); spread > 2*n.latency {
			t.Errorf("seed %d: the three nodes' last statuses are %v apart, want one step (at most %v)", seed, spread, 2*n.latency)
		}
		for _, name := range n.names {
			ts := n.statusTimes(name, from, n.now)
			if len(ts) != 20 {
				t.Errorf("seed %d: %s sent %d statuses in 20 s at keepalive %v, want 20", seed, name, len(ts), k)
			}
			for i, g := range gaps(ts) {
				if g != k {
					t.Errorf("seed %d: %s status gap %d is %v, want %v", seed, name, i, g, k)
				}
			}
		}
	}
}
