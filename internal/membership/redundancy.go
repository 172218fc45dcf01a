package membership

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"

	"heartbeatd/internal/wire"
)

// Redundant copies (issue 14 item 2): when the links lose packets, the
// table sends each status, and each message a takeover depends on, more
// than once on every medium, a few milliseconds apart, and goes back to
// one copy when the loss stops.
//
// Why: a peer is declared dead when deadtime passes without one of its
// statuses. With keepalive 10 ms, deadtime 50 ms and 30 % loss on each of
// two links, a status is lost on both links with p = 0.09, and the four
// or five in a row that make a false death happen about once every half
// hour. Sent three times per link, a status is lost with 0.3^6 = 7e-4,
// and a false death becomes a once-in-centuries event. The copies are the
// very same message (same seq, same MACs): every receiver, Heartbeat 3.0.6
// included, drops a seq it has already seen without a word (spec §3.4:
// the copy is a DUPLICATE like the one from the second link, or an old
// packet dropped silently), so the wire stays Heartbeat's. Only a
// duplicate's link is refreshed; it never counts as loss.
//
// What is measured, per peer and per link: the loss of one packet, as
// the share of the copies of each of the peer's seqs that did not arrive
// on that link (an average over about the last 64 seqs). How many copies
// the peer sends is read off what arrives: the most copies of one status
// or takeover message seen on one link among its last three (1 for
// Heartbeat, and for every other message type). A seq is judged once
// the peer's highest seq is two past it and lossLate has passed since it
// was due, so copies still on their way are not taken for losses; a copy
// or retransmission that comes later than that is not counted at all.
//
// Why copies, not seqs: a heartbeatd peer that sends three copies hides
// most of the loss from a per-seq count (a seq is missed on a link only
// when all three are lost: 0.3^3 = 2.7 %), while our own statuses still
// cross the same lossy links. Judging by that, we would go back to one
// copy while the peer, which sees our single copies lost, keeps three:
// one direction unprotected. Counting copies measures the loss itself,
// whatever the peer sends. The product of the links' losses is the
// chance P that one copy of one of OUR statuses is lost on every link (a
// cut link counts with 1, i.e. not at all).
//
// How many copies: the fewest c (1..MaxCopies) with P^c at most
// falseDeathTarget^(1/k), k = deadtime/keepalive - 1 statuses in a row
// whose loss makes the peer declare us dead. At 10 ms / 50 ms (k = 4)
// that is 1e-3 per status: on two links, about 2 % loss needs no copy
// (3 % is the edge), 5 to 15 % two copies, 20 % and more three. With
// Heartbeat's default 1 s / 30 s no loss short of 60 % on both links
// needs any. Because the average needs a few dozen seqs to follow a
// sudden onset, the share of the peer's last 16 seqs lost on every link
// (what the "lost packet(s)" lines report), once two were, counts too
// when it says more: at 30 % loss it calls for three copies within a few
// statuses.
//
// Backing off: a rise takes effect at once; the level falls one step
// after copyHold in which the loss seen would not have needed it, and
// another step after another copyHold. The level that counts is the
// highest among live peers: copies go to every medium, hence to everyone.
const (
	defaultMaxCopies = 3
	lossWindow       = 16 // seqs of a peer held open for copies to arrive
	lossLag          = 2  // a seq is judged when the peer's highest is this far past it...
	// lossLate: ...and this long after it was due. The copies of one
	// message arrive within (MaxCopies-1) x copySpacing (10 ms at most)
	// of each other; a retransmission comes 50 ms or more after its seq
	// was found missing, and counting it would hide the loss it repaired.
	lossLate       = 25 * time.Millisecond
	lossAvg        = 64 // the loss is an average over about this many seqs
	lossRecent     = 2  // copied messages that tell how many copies the peer sends
	lossEvents     = 3  // seqs with a copy lost, of the last 64, before a link counts as lossy
	lossSilence    = 64 // a jump of more seqs than this is a silence, not random loss
	lossFastWindow = 16 // seqs looked at by the sudden-onset rule (the bits of allMiss)...
	lossFastMisses = 2  // ...and how many of them must have been lost on every link
	// falseDeathTarget is the accepted chance, per keepalive, that the
	// peer misses enough of our statuses in a row to declare us dead:
	// at 100 statuses a second, once in 300 years.
	falseDeathTarget = 1e-12
	copyHold         = 2 * time.Second
	maxCopySpacing   = 5 * time.Millisecond
)

// copiedTypes are the messages sent more than once under loss: the status
// (a lost run of them is a false death), and the messages a takeover or a
// fail-back waits for, where a loss costs a retransmission round trip of
// 50..250 ms or, at the end of a stop, the message itself:
//
//	starting, resource       nice_failback negotiation and mach_down's end
//	ask_resources            standby and fail-back hand-over
//	hb_takeover              the admin's takeover request
//	ip-request(-resp)        legacy mode's takeover
//	stonith                  the announcement after a death
//	shutdone                 "take over now" at the end of a graceful stop
//	start_outdate/outdate_rc DRBD's fence-peer, which freezes I/O until answered
//
// Never an NS_ message: without a seq, a receiver cannot tell a copy from
// a new request (a copied NS_rexmit would be served twice). The join
// (reqnodes, repnodes) is retried every second anyway, and API and
// client messages stay as they are.
var copiedTypes = map[string]bool{
	"status": true, "starting": true, "resource": true, "ask_resources": true,
	"hb_takeover": true, "ip-request": true, "ip-request-resp": true,
	"stonith": true, "shutdone": true, "start_outdate": true, "outdate_rc": true,
}

// lossMeter is what one peer's packets tell about the links (see above).
type lossMeter struct {
	started bool
	judged  uint64 // every seq up to this one has been judged on every link
	hi      uint64 // the peer's highest seq heard; hi-judged <= lossWindow
	// For the open seqs (judged, hi], at s%lossWindow: when the peer's
	// highest seq reached s, whether s is a message the peer copies
	// (known once a copy arrived), and, at (s%lossWindow)*links+l, how
	// many copies of s came on link l within lossLate of opened.
	opened [lossWindow]time.Time
	kind   [lossWindow]uint8 // 0 not seen, kindSingle, kindCopied
	counts []uint8
	loss   []float64 // per link: the average share of copies lost
	// lossy has, per link, bit i set when the i-th last judged seq lost
	// a copy on that link.
	lossy []uint64
	// allMiss has bit i set when the i-th last judged seq arrived on no link.
	allMiss uint16
	// recent holds, for the last lossRecent copied messages judged, the
	// most copies of it that came on one link.
	recent     [lossRecent]uint8
	recentNext int

	level int       // copies this peer's links need now (0: nothing seen yet)
	want  int       // what the last judgement asked for
	below time.Time // since when want < level; zero: it is not
}

const (
	kindSingle = 1 + iota // a message type sent once
	kindCopied            // a copied type: as many copies as the peer sends
)

// CopyInfo is the redundancy state for one peer, for tests and debug
// output.
type CopyInfo struct {
	Node  string
	Level int                // copies sent because of this peer's links (1: none extra)
	Loss  map[string]float64 // per link: measured loss of one packet (the average)
	Peer  int                // copies of each message the peer appears to send
}

// Copies is how many times each status and takeover message is sent (1:
// no redundancy), as of the last one sent, with the state of every peer
// heard from.
func (t *Table) Copies() (int, []CopyInfo) {
	var out []CopyInfo
	for _, n := range t.nodes {
		lm := &n.loss
		if n == t.self || lm.loss == nil {
			continue
		}
		ci := CopyInfo{Node: n.name, Level: max(lm.level, 1), Loss: map[string]float64{}, Peer: lm.peerCopies()}
		for i, l := range n.links {
			if i < len(lm.loss) {
				ci.Loss[l.name] = lm.loss[i]
			}
		}
		out = append(out, ci)
	}
	return t.copyLevel, out
}

// maxCopies is the configured cap.
func (t *Table) maxCopies() int {
	if t.cfg.MaxCopies <= 0 {
		return defaultMaxCopies
	}
	return t.cfg.MaxCopies
}

// copySpacing is the time between two copies: a quarter keepalive in whole
// milliseconds, 1..5 ms, so that all copies are out well before the next
// status and a burst of loss a few milliseconds long does not take them all.
func (t *Table) copySpacing() time.Duration {
	s := (t.cfg.Keepalive / 4).Truncate(time.Millisecond)
	return min(max(s, time.Millisecond), maxCopySpacing)
}

// lossTarget is the chance of losing one status on every link that is
// still acceptable (see above).
func (t *Table) lossTarget() float64 {
	k := int(t.cfg.Deadtime/t.cfg.Keepalive) - 1
	return math.Pow(falseDeathTarget, 1/float64(max(k, 1)))
}

// observeLoss notes that a copy of node n's seq, a message of type typ,
// arrived on the medium called linkName. Duplicates come here too: they
// are arrivals, never losses. Our own messages, NS_ messages (no seq) and
// packets refused as replays or of another generation are not looked at.
func (t *Table) observeLoss(now time.Time, n *node, linkName string, seq uint64, typ string) {
	li := n.linkIndex(linkName)
	if n == t.self || seq == 0 || li < 0 {
		return
	}
	lm := &n.loss
	nl := len(n.links)
	if len(lm.loss) != nl {
		// First packet, or the media changed (reload): start over, but
		// keep the level until the new links say otherwise.
		lm.loss = make([]float64, nl)
		lm.lossy = make([]uint64, nl)
		lm.counts = make([]uint8, lossWindow*nl)
		lm.started = false
	}
	if !lm.started || seq > lm.judged+lossSilence {
		// A new generation, a return from the dead or a long silence:
		// a cut or a stalled process, not random loss.
		lm.restart(seq)
	}
	if seq <= lm.judged {
		return
	}
	judged := false
	for lm.hi < seq {
		// Seqs skipped over are due now too. A seq that no longer fits
		// the window is judged at once, its copies late or lost.
		if lm.hi-lm.judged >= lossWindow {
			t.judgeOne(n)
			judged = true
		}
		lm.hi++
		lm.opened[lm.hi%lossWindow] = now
	}
	for lm.judged < lm.hi && lm.hi >= lm.judged+1+lossLag && now.Sub(lm.opened[(lm.judged+1)%lossWindow]) > lossLate {
		t.judgeOne(n)
		judged = true
	}
	if judged {
		t.rejudge(now, lm)
	}
	if seq <= lm.judged {
		return
	}
	slot := int(seq % lossWindow)
	if now.Sub(lm.opened[slot]) > lossLate {
		return
	}
	if lm.kind[slot] == 0 {
		lm.kind[slot] = kindSingle
		if copiedTypes[typ] {
			lm.kind[slot] = kindCopied
		}
	}
	if c := &lm.counts[slot*nl+li]; *c < math.MaxUint8 {
		*c++
	}
}

func (lm *lossMeter) restart(seq uint64) {
	lm.started = true
	lm.judged, lm.hi = seq-1, seq-1
	clear(lm.counts)
	lm.opened = [lossWindow]time.Time{}
	lm.kind = [lossWindow]uint8{}
	lm.recent = [lossRecent]uint8{}
	lm.allMiss = 0
}

// resetLoss forgets the peer's sequence window (its tracking was reset);
// what was learnt about the links stays.
func (n *node) resetLoss() { n.loss.started = false }

// judgeOne judges the oldest open seq of n on every link: due two seqs
// after it and lossLate after it was due (observeLoss), or when it no
// longer fits the window.
func (t *Table) judgeOne(n *node) {
	lm := &n.loss
	nl := len(n.links)
	s := lm.judged + 1
	slot := int(s % lossWindow)
	// A message the peer copies, or one lost on every link: as many
	// copies as the peer sends were due; anything else once.
	counts := lm.counts[slot*nl : (slot+1)*nl]
	most := slices.Max(counts)
	sent := uint8(1)
	if lm.kind[slot] != kindSingle {
		sent = max(most, uint8(lm.peerCopies()))
	}
	if lm.kind[slot] == kindCopied {
		lm.recent[lm.recentNext] = most
		lm.recentNext = (lm.recentNext + 1) % lossRecent
	}
	for l, c := range counts {
		lost := 1 - float64(min(c, sent))/float64(sent)
		lm.loss[l] += (lost - lm.loss[l]) / lossAvg
		lm.lossy[l] <<= 1
		if c < sent {
			lm.lossy[l] |= 1
		}
	}
	lm.allMiss <<= 1
	if most == 0 {
		lm.allMiss |= 1
	}
	clear(counts)
	lm.opened[slot], lm.kind[slot] = time.Time{}, 0
	lm.judged = s
}

// rejudge sets the peer's level after new judgements: up at once, down
// only after copyHold (levelAt).
func (t *Table) rejudge(now time.Time, lm *lossMeter) {
	lm.want = t.neededCopies(lm)
	switch {
	case lm.want > lm.level:
		lm.level, lm.below = lm.want, time.Time{}
	case lm.want == lm.level:
		lm.below = time.Time{}
	case lm.below.IsZero():
		lm.below = now
	}
}

// linkLoss is the estimated loss of one packet on link l. Fewer than
// lossEvents seqs with a copy lost among the last 64 count as no loss:
// one or two lost packets say little about the rate (the average makes
// one 1/64 at once, however clean the link had been before), and two is
// what the peer's stepping down looks like for the two messages
// peerCopies still remembers the higher count for. Counted as loss,
// that made a node with one link cut step up again whenever its peer
// stepped down, and the two took turns (redundancy scenario).
func (lm *lossMeter) linkLoss(l int) float64 {
	if bits.OnesCount64(lm.lossy[l]) < lossEvents {
		return 0
	}
	return lm.loss[l]
}

// peerCopies is how many copies of a status the peer sends, as seen: the
// most that came on one link for one of its last two copied messages
// (judgeOne adds the message being judged). Why not the message alone:
// under loss, a message often loses a copy on every link (at 30 %, three
// copies, two links: 43 % of them), and taking what arrived for what was
// sent would hide a fifth of the loss (24 % seen instead of 30; with two
// messages remembered, 28 %). Why not more: when the peer backs off, the
// copies it no longer sends look lost until the memory has moved on; with
// four messages remembered, that alone looked like enough loss to raise
// our level again (node simulator, the end of TestLossNoFalseDeathWithCopies).
func (lm *lossMeter) peerCopies() int { return int(max(1, slices.Max(lm.recent[:]))) }

// neededCopies is the level the links of lm's peer call for.
func (t *Table) neededCopies(lm *lossMeter) int {
	limit := t.maxCopies()
	if limit <= 1 {
		return 1
	}
	p := 1.0
	for l := range lm.loss {
		p *= lm.linkLoss(l)
	}
	// The sudden-onset rule: the share of the last 16 seqs lost on every
	// link, once two were, stands for p if it is higher (a seq lost on
	// every link lost all of the peer's copies: the share is p to the
	// power of the copies it sends).
	if k := bits.OnesCount16(lm.allMiss); k >= lossFastMisses {
		p = max(p, math.Pow(float64(k)/lossFastWindow, 1/float64(lm.peerCopies())))
	}
	target := t.lossTarget()
	c, pc := 1, p
	for c < limit && pc > target {
		c++
		pc *= p
	}
	return c
}

// levelAt is lm's level at now, after the steps down that are due.
func (lm *lossMeter) levelAt(now time.Time) int {
	for lm.level > 1 && !lm.below.IsZero() && now.Sub(lm.below) >= copyHold {
		lm.level--
		if lm.want >= lm.level {
			lm.below = time.Time{}
		} else {
			lm.below = lm.below.Add(copyHold)
		}
	}
	return max(lm.level, 1)
}

// pendingCopy is a copy of a sent message, due at a later Tick.
type pendingCopy struct {
	due time.Time
	msg *wire.Message
}

// currentCopies is the number of copies for a message sent at now: the
// highest level among live peers. A change is logged.
func (t *Table) currentCopies(now time.Time) int {
	c, worst := 1, (*node)(nil)
	for _, n := range t.nodes {
		if n == t.self || !n.live() {
			continue
		}
		if l := n.loss.levelAt(now); l > c {
			c, worst = l, n
		}
	}
	if c == t.copyLevel {
		return c
	}
	switch {
	case c == 1 && t.copyPeer != nil && !t.copyPeer.live():
		t.logf("info", "%s is no longer alive: sending each status and takeover message once", t.copyPeer.name)
	case c == 1:
		t.logf("info", "Loss on the links is over: sending each status and takeover message once")
	case t.copyLevel <= 1:
		t.logf("WARN", "Packet loss on the links to %s (%s): sending each status and takeover message %d times, %d ms apart",
			worst.name, worst.lossText(), c, t.copySpacing().Milliseconds())
	default:
		t.logf("info", "Sending each status and takeover message %d times (links to %s: %s)", c, worst.name, worst.lossText())
	}
	t.copyLevel, t.copyPeer = c, worst
	return c
}

// lossText is the measured loss per link, for log lines: "eth1 30%, eth2 28%".
func (n *node) lossText() string {
	var parts []string
	for i, l := range n.links {
		if i < len(n.loss.loss) {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", l.name, 100*n.loss.loss[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// scheduleCopies queues the extra copies of m, just sent, when the links
// call for them.
func (t *Table) scheduleCopies(now time.Time, m *wire.Message) {
	if !copiedTypes[m.Type()] {
		return
	}
	c := t.currentCopies(now)
	sp := t.copySpacing()
	for i := 1; i < c; i++ {
		t.copies = append(t.copies, pendingCopy{due: now.Add(time.Duration(i) * sp), msg: m})
	}
}

// sendDueCopies transmits the copies that are due, oldest first.
func (t *Table) sendDueCopies(now time.Time) {
	var due []pendingCopy
	kept := t.copies[:0]
	for _, c := range t.copies {
		if now.Before(c.due) {
			kept = append(kept, c)
		} else {
			due = append(due, c)
		}
	}
	t.copies = kept
	sort.SliceStable(due, func(i, j int) bool { return due[i].due.Before(due[j].due) })
	for _, c := range due {
		t.stats.Copies++
		t.emit(Transmit{Msg: c.msg.Clone()})
	}
}

// nextCopy is when the next copy is due; zero: none.
func (t *Table) nextCopy() time.Time {
	var w time.Time
	for _, c := range t.copies {
		if w.IsZero() || c.due.Before(w) {
			w = c.due
		}
	}
	return w
}

// linkIndex is the position of the medium called name, or -1.
func (n *node) linkIndex(name string) int {
	for i, l := range n.links {
		if l.name == name {
			return i
		}
	}
	return -1
}
