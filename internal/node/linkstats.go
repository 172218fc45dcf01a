package node

import (
	"bytes"
	"strings"
	"time"

	"heartbeatd/internal/membership"
	"heartbeatd/internal/wire"
)

// linkMeter keeps, per node and medium, what `heartbeatd status` and the
// metrics report about each link: packets that arrived on it, sequence
// numbers it missed, and status messages that came late on it. Membership
// judges a node by whichever link delivers first, so a medium that drops
// half its packets stays "up" there; counting each medium's own sequence
// gaps shows it. Heartbeat sends every message on every medium with one
// seq, so each medium should see every seq of a peer's generation.
type linkMeter struct {
	links map[linkKey]*linkCount
	sent  uint64 // messages handed to the shell for every medium
}

type linkKey struct{ node, link string }

type linkCount struct {
	received uint64 // packets of the node on this medium, any kind
	lost     uint64 // its seqs this medium skipped over
	late     uint64 // statuses more than warntime after the previous one here
	gen, seq uint64 // newest generation and seq seen here
	status   time.Time
	// win[0] counts since its start, win[1] the interval before: loss is
	// reported over the last one to two lossWindows.
	win [2]lossCount
}

type lossCount struct {
	start     time.Time
	got, lost uint64
}

// lossWindow is the span of a link's loss percentage: long enough to hold
// dozens of keepalives, short enough to show a flapping cable.
const lossWindow = time.Minute

// LinkStats is one medium of one node as `heartbeatd status` shows it.
type LinkStats struct {
	// Received counts the node's packets on this medium, Lost the
	// sequence numbers the medium missed (it saw a later one), Late the
	// status messages that arrived here more than warntime after the
	// previous one here; all since the daemon started.
	Received, Lost, Late uint64
	// LossPct is Lost against what the medium should have carried, over
	// the last one to two minutes (0 when nothing arrived in that time).
	LossPct float64
}

// observe counts one authenticated packet m from a medium. Only nodes and
// media membership knows are kept, so the map stays bounded whatever
// arrives; late means later than membership's warntime. It runs for every
// packet, so it reads the fields without copying them.
func (lm *linkMeter) observe(now time.Time, m *wire.Message, link string, mem *membership.Table) {
	srcB, _ := m.Binary("src")
	src := string(srcB) // not kept: the map holds its own copy
	if bytes.IndexFunc(srcB, func(r rune) bool { return 'A' <= r && r <= 'Z' }) >= 0 {
		src = strings.ToLower(src)
	}
	if !mem.HasLink(src, link) {
		return
	}
	if lm.links == nil {
		lm.links = map[linkKey]*linkCount{}
	}
	c := lm.links[linkKey{src, link}]
	if c == nil {
		c = &linkCount{}
		lm.links[linkKey{strings.Clone(src), strings.Clone(link)}] = c
	}
	c.received++
	if now.Sub(c.win[0].start) >= lossWindow {
		c.win[1] = c.win[0]
		if now.Sub(c.win[0].start) >= 2*lossWindow {
			c.win[1] = lossCount{}
		}
		c.win[0] = lossCount{start: now}
	}
	seq, okS := hexField(m, "seq")
	gen, _ := hexField(m, "hg")
	if !okS { // NS_ messages carry no seq
		return
	}
	switch {
	case gen > c.gen || c.seq == 0:
		// A restart (or our first packet from it): nothing to compare.
		c.gen, c.seq, c.status = gen, seq, time.Time{}
		c.win[0].got++
	case gen < c.gen || seq <= c.seq:
		// An older generation's packet, a retransmission or a copy.
		return
	default:
		gap := seq - c.seq - 1
		c.lost += gap
		c.win[0].lost += gap
		c.win[0].got++
		c.seq = seq
	}
	if t, _ := m.Binary("t"); string(t) == "status" {
		if !c.status.IsZero() && now.Sub(c.status) > mem.Timings().Warntime {
			c.late++
		}
		c.status = now
	}
}

// stats reports one medium of one node at now.
func (lm *linkMeter) stats(now time.Time, node, link string) LinkStats {
	c := lm.links[linkKey{node, link}]
	if c == nil {
		return LinkStats{}
	}
	s := LinkStats{Received: c.received, Lost: c.lost, Late: c.late}
	var got, lost uint64
	for _, w := range c.win {
		if !w.start.IsZero() && now.Sub(w.start) < 2*lossWindow {
			got, lost = got+w.got, lost+w.lost
		}
	}
	if got+lost > 0 {
		s.LossPct = 100 * float64(lost) / float64(got+lost)
	}
	return s
}

// hexField parses a hex number field without copying it.
func hexField(m *wire.Message, name string) (uint64, bool) {
	b, ok := m.Binary(name)
	if !ok || len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}
