package membership

import (
	"strconv"
	"time"

	"heartbeatd/internal/wire"
)

// history keeps the last historySize messages we sent with a seq, so peers
// can ask for them again (spec §3.5). Seqs are consecutive, so slot seq%size
// holds seq or has been overwritten by seq+size.
type history struct {
	slots [historySize]histEntry
	hiSeq uint64
}

type histEntry struct {
	seq        uint64
	msg        *wire.Message
	lastRexmit time.Time
}

func (h *history) add(seq uint64, m *wire.Message) {
	h.slots[seq%historySize] = histEntry{seq: seq, msg: m}
	h.hiSeq = seq
}

// lowSeq is the highest seq no longer held (0 while nothing was dropped).
func (h *history) lowSeq() uint64 {
	if h.hiSeq <= historySize {
		return 0
	}
	return h.hiSeq - historySize
}

func (h *history) find(seq uint64) *histEntry {
	e := &h.slots[seq%historySize]
	if e.msg == nil || e.seq != seq {
		return nil
	}
	return e
}

// serveRexmit answers a peer's NS_rexmit: re-send each stored message (the
// same fields, so the same MACs) unless it went out less than
// max_rexmit_delay-10 ms ago, at most 50 per request; NAK what we no longer
// have. firstseq/lastseq are DECIMAL, unlike every other seq. Only seqs we
// have sent in this generation are answered: a request beyond our highest
// one is only logged, like Heartbeat's. What one peer's requests may cost
// us is bounded by its rate limits (limit.go); the rest of a request that
// runs out of budget is dropped, and a real peer asks again.
func (t *Table) serveRexmit(now time.Time, from *node, m *wire.Message) {
	first, err1 := strconv.ParseUint(m.Value("firstseq"), 10, 64)
	last, err2 := strconv.ParseUint(m.Value("lastseq"), 10, 64)
	if err1 != nil || err2 != nil || first == 0 || last == 0 || first > last {
		t.stats.Malformed++
		t.peerLogf(from, "ERROR", "Invalid rexmit seqnos")
		return
	}
	minGap := t.cfg.MaxRexmitDelay - 10*time.Millisecond
	sent := 0
	for seq := first; seq <= last; seq++ {
		if seq <= from.track.peerAck {
			// Already ACKed by the requester; jump over the whole run so a
			// hostile range cannot keep us looping.
			seq = from.track.peerAck
			continue
		}
		if seq > t.hist.hiSeq {
			t.peerLogf(from, "WARN", "Rexmit of seq %d requested. %d is max.", seq, t.hist.hiSeq)
			return
		}
		sent++
		if sent > maxRexmitBatch {
			return
		}
		if seq <= t.hist.lowSeq() {
			if !t.nak(now, from, seq, "seqno too low") {
				return
			}
			continue
		}
		e := t.hist.find(seq)
		if e == nil {
			if !t.nak(now, from, seq, "seqno not found") {
				return
			}
			continue
		}
		if !e.lastRexmit.IsZero() && now.Sub(e.lastRexmit) < minGap {
			sent--
			continue
		}
		if !from.limits.rexmit.take(now, rexmitBurst, rexmitEvery) {
			t.stats.RexmitLimited++
			return
		}
		e.lastRexmit = now
		t.stats.Retransmitted++
		t.emit(Transmit{Msg: e.msg.Clone()})
	}
}

// nak tells the requester we no longer have seq, within its NAK budget;
// false when the budget is spent.
func (t *Table) nak(now time.Time, to *node, seq uint64, reason string) bool {
	if !to.limits.nak.take(now, nakBurst, nakEvery) {
		t.stats.RexmitLimited++
		return false
	}
	t.stats.Naks++
	t.peerLogf(to, "ERROR", "Cannot rexmit pkt %d for %s: %s", seq, to.name, reason)
	t.send(now, wireMessage("NS_nak_rexmit",
		"firstseq", strconv.FormatUint(seq, 16),
		"dest", to.name,
		"info", reason))
	return true
}

// rexmitTimer is one pending request for a missing message.
type rexmitTimer struct {
	node *node
	seq  uint64
	due  time.Time
}

// scheduleRexmit arms a request for seq. delay 0 means the first request:
// a random 50..max_rexmit_delay ms, so the copy still travelling on the other
// link can arrive before anyone asks (reordering between links is common).
func (t *Table) scheduleRexmit(now time.Time, n *node, seq uint64, delay time.Duration) {
	if delay == 0 {
		maxMS := int(t.cfg.MaxRexmitDelay.Milliseconds())
		lo := 50
		if maxMS < 100 {
			lo = 0
		}
		ms := lo
		if maxMS > lo {
			ms += t.rng.Intn(maxMS - lo + 1)
		}
		delay = time.Duration(ms) * time.Millisecond
	}
	t.rexmits = append(t.rexmits, rexmitTimer{node: n, seq: seq, due: now.Add(delay)})
}

func (t *Table) cancelRexmit(n *node, seq uint64) {
	kept := t.rexmits[:0]
	for _, r := range t.rexmits {
		if r.node != n || r.seq != seq {
			kept = append(kept, r)
		}
	}
	t.rexmits = kept
}

// fireRexmitRequests sends every due request as its own NS_rexmit (Heartbeat
// asks for one seq at a time) and re-arms it max_rexmit_delay later. Asking a
// node that is not up or active is pointless; the request is dropped.
func (t *Table) fireRexmitRequests(now time.Time) {
	var due []rexmitTimer
	kept := t.rexmits[:0]
	for _, r := range t.rexmits {
		if now.Before(r.due) {
			kept = append(kept, r)
		} else {
			due = append(due, r)
		}
	}
	t.rexmits = kept
	for _, r := range due {
		if r.node.status != StatusUp && r.node.status != StatusActive {
			continue
		}
		if !r.node.track.missing[r.seq] {
			continue
		}
		t.stats.RexmitAsked++
		s := strconv.FormatUint(r.seq, 10)
		t.send(now, wireMessage("NS_rexmit", "dest", r.node.name, "firstseq", s, "lastseq", s))
		t.scheduleRexmit(now, r.node, r.seq, t.cfg.MaxRexmitDelay)
	}
}
