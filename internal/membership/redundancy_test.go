package membership

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// fastConfig is the timing: keepalive 10 ms, deadtime 50 ms, and
// the daemon's 1 ms dead check.
func fastConfig(local string, nodes ...string) Config {
	cfg := labConfig(local, nodes...)
	cfg.Keepalive, cfg.Deadtime, cfg.Warntime, cfg.Initdead = 10*time.Millisecond, 50*time.Millisecond, 30*time.Millisecond, time.Second
	cfg.DeadCheck = time.Millisecond
	return cfg
}

// newFastNetwork is newNetwork with fastConfig.
func newFastNetwork(t *testing.T, seed int64, maxCopies int, names ...string) *Network {
	n := newNetwork(t, seed, names...)
	for i, name := range names {
		cfg := fastConfig(name, names...)
		cfg.Seed = seed + int64(i)
		cfg.Generation = 1000 + uint64(i)
		cfg.MaxCopies = maxCopies
		tb, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.tables[name] = tb
	}
	n.wake = true
	return n
}

// forceCopies makes tb send level copies because of peer, as if its
// links had called for them (and keeps them: nothing steps it down).
func forceCopies(tb *Table, peer string, level int) {
	lm := &tb.byName[peer].loss
	lm.level, lm.want, lm.below = level, level, time.Time{}
}

// wireBytes is m as it goes on the wire, unsigned.
func wireBytes(t *testing.T, m *wire.Message) string {
	t.Helper()
	return fmt.Sprint(m.Fields)
}

// TestCopiesAreTheSameMessage: with three copies called for, every status
// and every takeover message goes out three times, field for field the
// same (same seq, same ts), the copies 2 ms and 4 ms after the first (a
// quarter keepalive, whole milliseconds), each at a NextWake of its own;
// NS_ messages and other types go out once.
func TestCopiesAreTheSameMessage(t *testing.T) {
	n := newFastNetwork(t, 1, 0, "pa1", "pa2")
	n.start(0)
	n.run(200 * time.Millisecond)
	bothActive(t, n)
	tb := n.tables["pa1"]
	forceCopies(tb, "pa2", 3)
	since, mark := n.now, len(n.events["pa1"])
	n.step("pa1", Send{Msg: wireMessage("resource", "rsc_hold", "local", "rtype", "full", "isstable", "1")})
	n.step("pa1", Send{Msg: wireMessage("hbd-digest", "digest", "x")})
	n.step("pa1", Send{Msg: wireMessage("ask_resources", "rsc_hold", "all", "info", "me")})
	n.run(100 * time.Millisecond)
	end := n.now
	n.run(10 * time.Millisecond) // the last copies

	bySeq := map[string][]timedAction{}
	var order []string
	for _, e := range n.events["pa1"][mark:] {
		tx, ok := e.a.(Transmit)
		if !ok {
			continue
		}
		key := tx.Msg.Type() + " " + tx.Msg.Value("seq")
		if strings.HasPrefix(tx.Msg.Type(), "NS_") {
			key += fmt.Sprintf(" %d", len(order)) // no seq: each one is its own
		}
		if bySeq[key] == nil {
			if !e.at.Before(end) {
				continue
			}
			order = append(order, key)
		}
		bySeq[key] = append(bySeq[key], e)
	}
	var statuses int
	for _, key := range order {
		txs := bySeq[key]
		typ := strings.Fields(key)[0]
		want := 1
		if copiedTypes[typ] {
			want = 3
		}
		if typ == "status" {
			statuses++
		}
		if len(txs) != want {
			t.Errorf("%s went out %d times, want %d (first at %v)", key, len(txs), want, txs[0].at.Sub(since))
			continue
		}
		first := wireBytes(t, txs[0].a.(Transmit).Msg)
		for i, c := range txs[1:] {
			if got := wireBytes(t, c.a.(Transmit).Msg); got != first {
				t.Errorf("%s copy %d differs:\n%s\n%s", key, i+1, got, first)
			}
			if d := c.at.Sub(txs[0].at); d != time.Duration(i+1)*2*time.Millisecond {
				t.Errorf("%s copy %d went out %v after the first, want %v", key, i+1, d, time.Duration(i+1)*2*time.Millisecond)
			}
		}
	}
	if statuses < 9 {
		t.Errorf("%d statuses in 100 ms at keepalive 10 ms", statuses)
	}
	if st := tb.Stats(); st.Copies == 0 {
		t.Errorf("Stats.Copies = 0")
	}
}

// TestDuplicatesAreSilent: a peer that sends every status and takeover
// message three times per link is dropped by seq without a line, never
// counted as loss, and does not make us send copies ourselves. The
// receiver here is our own table; Heartbeat 3.0.6 drops them the same
// way (should_drop_message: DUPLICATE for the last seq, a silent DROPIT
// for an older one), which tests/e2e checks against the real daemon.
func TestDuplicatesAreSilent(t *testing.T) {
	n := newFastNetwork(t, 1, 0, "pa1", "pa2")
	n.start(0)
	n.run(200 * time.Millisecond)
	bothActive(t, n)
	forceCopies(n.tables["pa2"], "pa1", 3)
	since := n.now
	before := n.tables["pa1"].Stats()
	for i := 0; i < 20; i++ {
		n.step("pa2", Send{Msg: wireMessage("resource", "rsc_hold", "foreign", "info", "mach_down")})
		n.run(50 * time.Millisecond)
	}
	n.run(5 * time.Second)
	after := n.tables["pa1"].Stats()
	if logs := n.logsOf("pa1", since); len(logs) > 0 {
		t.Errorf("pa1 logged while pa2 sent copies:\n%s", strings.Join(logs, "\n"))
	}
	if after.Lost != before.Lost || after.RexmitAsked != before.RexmitAsked || after.Replays != before.Replays {
		t.Errorf("duplicates counted as loss or replays: %+v -> %+v", before, after)
	}
	if d := after.Duplicates + after.OldDropped - before.Duplicates - before.OldDropped; d < 2*500*2 {
		t.Errorf("only %d duplicates dropped in 5 s of three copies on two links", d)
	}
	if c, info := n.tables["pa1"].Copies(); c != 1 {
		t.Errorf("pa1 sends %d copies because its peer does: %+v", c, info)
	}
	if got := deliveredOf(n, "pa1", "resource", since); got != 20 {
		t.Errorf("pa1 delivered %d resource messages, want 20 (one per seq)", got)
	}
}

func deliveredOf(n *Network, name, typ string, since time.Time) int {
	k := 0
	for _, e := range n.events[name] {
		if d, ok := e.a.(Deliver); ok && !e.at.Before(since) && d.Link != "" && d.Msg.Type() == typ {
			k++
		}
	}
	return k
}

// TestCopiesFollowLoss: in the in-memory network at 30 % loss per link,
// both tables send two copies within 200 ms and three within two seconds
// (the average needs about 60 statuses to reach 18 %, where two copies
// stop being enough), and come back to one within seconds of the loss
// ending; with MaxCopies 1 nothing is ever copied.
func TestCopiesFollowLoss(t *testing.T) {
	for _, maxCopies := range []int{0, 1} {
		for seed := int64(1); seed <= 5; seed++ {
			n := newFastNetwork(t, seed, maxCopies, "pa1", "pa2")
			n.start(0)
			n.run(6 * time.Second) // past the start-up dead time bonus
			n.loss = 0.3
			for _, after := range []time.Duration{500 * time.Millisecond, 2 * time.Second} {
				n.run(after)
				for _, name := range n.names {
					c, info := n.tables[name].Copies()
					lo, hi := 2, 3 // two within 200 ms, three by 2 s
					if after > time.Second {
						lo = 3
					}
					if maxCopies == 1 {
						lo, hi = 1, 1
					}
					if c < lo || c > hi {
						t.Errorf("seed %d max %d: %s sends %d copies after %v of 30%% loss, want %d..%d: %+v", seed, maxCopies, name, c, after, lo, hi, info)
					}
				}
			}
			n.run(5 * time.Second)
			n.loss = 0
			n.run(6 * time.Second)
			for _, name := range n.names {
				if c, info := n.tables[name].Copies(); c != 1 {
					t.Errorf("max %d: %s still sends %d copies 6 s after the loss: %+v", maxCopies, name, c, info)
				}
				if maxCopies == 1 && n.tables[name].Stats().Copies != 0 {
					t.Errorf("MaxCopies 1: %s sent %d copies", name, n.tables[name].Stats().Copies)
				}
			}
		}
	}
}

// TestCopiesAtNextWakeMatchEagerTicks: at keepalive 10 ms under 30 % loss
// (copies going out all the time), a table ticked only at NextWake does
// what one ticked every millisecond does, copies included.
func TestCopiesAtNextWakeMatchEagerTicks(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		run := func(wake bool) (map[string][]string, uint64) {
			n := newFastNetwork(t, seed, 0, "pa1", "pa2")
			n.tickEvery, n.wake = time.Millisecond, wake
			n.start(3 * time.Millisecond)
			n.run(6 * time.Second)
			n.loss = 0.3
			n.run(3 * time.Second)
			n.loss = 0
			n.run(6 * time.Second)
			out := map[string][]string{}
			for name, evs := range n.events {
				for _, e := range evs {
					out[name] = append(out[name], describe(e))
				}
			}
			return out, n.tables["pa1"].Stats().Copies
		}
		eager, copies := run(false)
		lazy, _ := run(true)
		if copies == 0 {
			t.Fatalf("seed %d: no copies sent", seed)
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
					t.Fatalf("seed %d %s: action %d differs:\n  ticked every ms: %s\n  ticked at NextWake: %s", seed, name, i, x, y)
				}
			}
		}
	}
}

// TestCutLinkAloneNeedsNoCopies: one link cut, the other clean: every
// status still arrives, so no copies, whatever the cut link looks like.
func TestCutLinkAloneNeedsNoCopies(t *testing.T) {
	n := newFastNetwork(t, 1, 0, "pa1", "pa2")
	n.start(0)
	n.run(6 * time.Second)
	n.cut["pa2"]["eth2"] = true
	n.run(5 * time.Second)
	for _, name := range n.names {
		if c, info := n.tables[name].Copies(); c != 1 {
			t.Errorf("%s sends %d copies with one link cut and the other clean: %+v", name, c, info)
		}
	}
}
