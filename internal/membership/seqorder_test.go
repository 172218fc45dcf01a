package membership

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// seqsInOrder fails unless the seqs of the Transmit actions in acts, in
// the order the shell would put them on the wire, are consecutive from
// first.
func seqsInOrder(t *testing.T, acts []Action, first uint64) uint64 {
	t.Helper()
	next := first
	var got []string
	for _, m := range transmits(acts, "") {
		s, ok := m.Get("seq")
		if !ok {
			continue
		}
		got = append(got, s)
		v, _ := parseHex(s)
		if v != next {
			t.Fatalf("seqs on the wire %v: %d where %d was next", got, v, next)
		}
		next++
	}
	return next
}

// The lab's "1 lost packet(s) for [pa1] [3:5]" at our restart: the peer's
// first status arrives while our next keepalive is due within half a
// keepalive, so we send it at once (followPeer); its loopback found the
// join step ready and sent reqnodes, which went on the wire before the
// status it was nested in.
func TestNoSeqGapAtStart(t *testing.T) {
	for _, after := range []time.Duration{0, 100 * time.Millisecond, 499 * time.Millisecond, 500 * time.Millisecond, 600 * time.Millisecond, 990 * time.Millisecond, 2600 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			r := newRig(t, labConfig("pa1"))
			p := newPeer(r, "pa2")
			r.start()
			if after > 0 {
				r.advance(after)
			}
			r.recvBoth(p.status("up", 7000))
			r.recvBoth(p.msg("repnodes", "dest", "pa1", "nodelist", "pa1 pa2 ", "delnodelist", " "))
			r.recvBoth(p.status("active", 7000))
			r.advance(3 * time.Second)
			seqsInOrder(t, r.all, 1)
			if r.tb.LocalStatus() != StatusActive {
				t.Fatalf("local status %s", r.tb.LocalStatus())
			}
		})
	}
}

// restart replaces name's table by a fresh one of the next generation, as
// a daemon restart does, with the peer records the shell would hand it:
// every PersistPeer the old table emitted and, after a clean stop (not a
// crash), its Records.
func (n *Network) restart(name string, clean bool) {
	old := n.tables[name]
	cfg := old.cfg
	cfg.Generation++
	cfg.PeerRecords = map[string]PeerRecord{}
	for _, e := range n.events[name] {
		if p, ok := e.a.(PersistPeer); ok {
			cfg.PeerRecords[p.Node] = PeerRecord{Gen: p.Gen, Seq: p.Seq}
		}
	}
	if clean && !n.stopped[name] {
		for node, r := range old.Records() {
			cfg.PeerRecords[node] = r
		}
	}
	tb, err := New(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	// Packets still on their way to the old process die with its sockets.
	kept := n.queue[:0]
	for _, p := range n.queue {
		if p.to != name {
			kept = append(kept, p)
		}
	}
	n.queue = kept
	n.tables[name] = tb
	n.stopped[name] = false
	n.step(name, Start{LoadAvg: "0.00 0.00 0.00 1/100 1"})
}

// On a lossless network no node ever logs a lost packet: not when the
// second node starts at any point of the first one's initdead or after
// it, not when either restarts. Nor is any packet taken for a replay:
// the stored peer records (after a clean stop and after a crash) never
// refuse a live peer.
func TestNoLostPacketsOnLosslessNetwork(t *testing.T) {
	for ms := 0; ms < 13000; ms += 271 {
		gap := time.Duration(ms) * time.Millisecond
		t.Run(fmt.Sprint(gap), func(t *testing.T) {
			n := newNetwork(t, int64(ms), "pa1", "pa2")
			n.wake = true
			n.start(gap)
			n.run(4 * time.Second)
			n.restart("pa1", true)
			n.run(time.Duration(ms%3000+1500) * time.Millisecond)
			n.restart("pa2", ms%2 == 0)
			n.run(4 * time.Second)
			n.stopped["pa2"] = true // kill -9, for longer than its dead time
			n.run(7 * time.Second)
			n.restart("pa2", false)
			n.run(4 * time.Second)
			n.stopped["pa1"] = true // kill -9, back within pa2's dead time
			n.run(time.Duration(ms%4000) * time.Millisecond)
			n.restart("pa1", false)
			n.run(4 * time.Second)
			bothActive(t, n)
			for _, name := range n.names {
				for _, l := range n.logsOf(name, t0) {
					if strings.Contains(l, "lost packet") || strings.Contains(l, "No pkts missing") || strings.Contains(l, "replay") {
						t.Fatalf("%s logged %q on a lossless network; logs:\n%s", name, l, strings.Join(n.logsOf(name, t0), "\n"))
					}
				}
				// (Stale may count the peer's ACKs that arrive after our
				// restart but before its next status: harmless, it ACKs
				// again.)
				if st := n.tables[name].Stats(); st.Replays+st.RexmitLimited+st.LogsSuppressed != 0 {
					t.Fatalf("%s stats %+v", name, st)
				}
			}
		})
	}
}

// A cluster of one joins at start, after its start-up statuses (it used
// to go active inside the loopback of its first status, send that status
// after the active one, and then fall back to up).
func TestAloneInNodeListGoesActiveAtStart(t *testing.T) {
	r := newRig(t, labConfig("pa1", "pa1"))
	acts := r.start()
	seqsInOrder(t, acts, 1)
	if r.tb.LocalStatus() != StatusActive {
		t.Fatalf("local status %s", r.tb.LocalStatus())
	}
	var sts []string
	for _, m := range transmits(acts, "status") {
		sts = append(sts, m.Value("st"))
	}
	if got := strings.Join(sts, " "); got != "init up up active" {
		t.Fatalf("statuses %s", got)
	}
	if _, ok := findAction[CommUp](acts); !ok {
		t.Fatal("no CommUp")
	}
	if _, ok := acts[len(acts)-1].(CommUp); !ok {
		t.Fatalf("CommUp is not the last action (an upper layer sending on it would overtake): %v", acts[len(acts)-1])
	}
}

// The peer appears while we wait for it (within initdead; the lab's
// "[9:11]" when the peer starts: its first status made us send ours early
// and our join step's reqnodes overtook it) or once we are active alone,
// and then restarts: our seqs stay in order on the wire throughout.
func TestNoSeqGapWhenPeerAppears(t *testing.T) {
	for _, at := range []time.Duration{3600 * time.Millisecond, 5700 * time.Millisecond, 9900 * time.Millisecond, 10600 * time.Millisecond, 12300 * time.Millisecond} {
		t.Run(at.String(), func(t *testing.T) {
			r := newRig(t, labConfig("pa1"))
			p := newPeer(r, "pa2")
			r.start()
			r.advance(at)
			r.recvBoth(p.status("init", 7000))
			r.recvBoth(p.status("up", 7000))
			r.recvBoth(p.msg("reqnodes", "dest", "pa1"))
			r.recvBoth(p.msg("repnodes", "dest", "pa1", "nodelist", "pa1 pa2 ", "delnodelist", " "))
			for i := 0; i < 3; i++ {
				r.advance(700 * time.Millisecond)
				r.recvBoth(p.status("active", 7000))
			}
			p.gen++
			p.seq = 0
			r.advance(600 * time.Millisecond)
			r.recvBoth(p.status("init", 7000))
			r.recvBoth(p.status("up", 7000))
			r.recvBoth(p.msg("reqnodes", "dest", "pa1"))
			r.advance(2 * time.Second)
			seqsInOrder(t, r.all, 1)
		})
	}
}
