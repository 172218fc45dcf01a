package membership

import (
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// seqTrack is the per-node receive state of spec §3.4 (Heartbeat's struct
// seqtrack).
type seqTrack struct {
	generation   uint64          // last hg seen in a status, or stored; only grows
	genSeen      bool            // generation was seen in a status since our start
	floor        uint64          // highest seq of generation seen before the last reset
	lastSeq      uint64          // 0: nothing seen since the last reset
	missing      map[uint64]bool // seqs skipped over and not yet received
	firstMissing uint64          // lowest missing seq, 0 when none
	ackTrigger   uint64          // we ACK seqs with seq%10 == ackTrigger
	peerAck      uint64          // highest of OUR seqs this node has ACKed
}

// verdict is should_drop_message's answer.
type verdict int

const (
	drop verdict = iota
	duplicate
	keep
	// refuse is a drop of a packet that is not the peer's now: a replay,
	// or another generation's. Unlike other drops it does not count as
	// hearing from the node (the join step waits for every node to have
	// sent something), so a recording played back at our start cannot
	// stand in for a peer that is down.
	refuse
)

func keepIf(toUs bool) verdict {
	if toUs {
		return keep
	}
	return drop
}

func parseHex(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}

// receive is the receive pipeline of spec §3.2. link is the medium the
// message came in on, "" for our own messages looped back internally.
func (t *Table) receive(now time.Time, m *wire.Message, linkName string) {
	t.stats.Received++
	iface := linkName
	if iface == "" {
		iface = "?"
	}
	if m == nil {
		t.stats.Malformed++
		return
	}
	typ, okT := m.Get("t")
	from, okF := m.Get("src")
	ts, okTS := m.Get("ts")
	if !okT || !okF || !okTS || typ == "" || from == "" {
		t.stats.Malformed++
		if from == "" {
			from = "<?>"
		}
		t.logf("ERROR", "process_clustermsg: missing from/ts/type: iface %s, from %s", iface, from)
		return
	}
	var seq uint64
	if cseq, ok := m.Get("seq"); ok {
		v, good := parseHex(cseq)
		if !good {
			t.stats.Malformed++
			t.logf("ERROR", "process_clustermsg: has bad cseq: iface %s, from %s", iface, from)
			return
		}
		seq = v
	} else if !strings.HasPrefix(typ, "NS_") {
		t.stats.Malformed++
		t.logf("ERROR", "process_clustermsg: missing seqno: iface %s, from %s", iface, from)
		return
	}
	msgTime, good := parseHex(ts)
	if !good || msgTime == 0 {
		// Heartbeat drops these without a word.
		t.stats.Malformed++
		return
	}

	srcUUID, _ := m.Binary("srcuuid")
	n := t.byName[strings.ToLower(from)]
	if n == nil {
		n = t.lookup("", srcUUID)
	}
	if n == nil {
		t.stats.UnknownNode++
		t.logf("ERROR", "process_status_message: bad node [%s] in message", from)
		return
	}
	if len(srcUUID) == 16 && strings.EqualFold(from, n.name) && n != t.self {
		copy(n.uuid[:], srcUUID)
		n.hasUUID = true
	}
	v := t.shouldDrop(now, n, m, typ, seq, msgTime)
	if v == refuse {
		return
	}
	n.anyPacketsYet = true
	switch v {
	case drop:
		t.observeLoss(now, n, linkName, seq, typ)
		return
	case duplicate:
		t.stats.Duplicates++
		t.refreshLink(now, n, linkName)
		t.observeLoss(now, n, linkName, seq, typ)
		return
	}
	t.refreshLink(now, n, linkName)
	t.stats.Accepted++
	t.dispatch(now, n, m, typ, seq, msgTime, linkName)
	// After dispatch: a status so late that it declared its sender dead
	// (and alive again) starts the loss meter's window over with it.
	t.observeLoss(now, n, linkName, seq, typ)
	// Not for our own message looping back inside send: the join step
	// would send reqnodes (or our active status) from within that send,
	// and the nested message went on the wire before the one it was
	// nested in. A real peer logged "1 lost packet(s) for [us] [3:5]"
	// whenever its status made us send ours early (followPeer) and the
	// loopback of ours completed the join step (issue 12 item 9). The
	// peer message being handled runs the check right here, after its
	// own sends; start runs it for a cluster of one.
	if !t.linksUp && linkName != "" {
		t.checkCommIsUp(now)
	}
}

// refreshLink marks the medium as heard from; any KEEP or DUPLICATE packet
// counts, which is how the second copy of every broadcast keeps the second
// link alive.
func (t *Table) refreshLink(now time.Time, n *node, linkName string) {
	l := n.link(linkName)
	if l == nil {
		return
	}
	l.lastUpdate = now
	if l.status != LinkUp {
		t.setLinkStatus(n, l, LinkUp)
	}
}

func (t *Table) setLinkStatus(n *node, l *link, st nodestatus.Status) {
	l.status = st
	t.logf("info", "Link %s:%s %s.", n.name, l.name, st)
	t.emit(LinkStatus{Node: n.name, Link: l.name, Status: st})
}

// shouldDrop is Heartbeat's should_drop_message: generation and sequence
// bookkeeping for every packet, including those addressed to other nodes.
//
// On top of Heartbeat's rules a peer's packets are taken only within its
// current generation and in order across its death and our restarts
// (issue 12):
//   - a packet whose seq is not above the floor (the highest seq of the
//     current generation seen before its death, or stored before our
//     restart) is a replay while no new packet has restarted the tracking;
//   - a message other than a status never carries a generation newer than
//     the current one, once one is known: a restart is announced by the
//     peer's status (Heartbeat's first packets are status init and up),
//     and taking another message first would mix two generations in one
//     seq window;
//   - NS_ messages, which have no seq, must carry the peer's current
//     generation, and NS_ackmsg, NS_rexmit and NS_nak_rexmit count only
//     from a live peer.
func (t *Table) shouldDrop(now time.Time, n *node, m *wire.Message, typ string, seq, msgTime uint64) verdict {
	tr := &n.track
	to, hasTo := m.Get("dest")

	if strings.HasPrefix(typ, "NS_") {
		if n != t.self && !t.currentNS(n, m, typ) {
			t.stats.Stale++
			return refuse
		}
		if typ == "NS_nak_rexmit" {
			nseq, ok := parseHex(m.Value("firstseq"))
			if !ok || nseq == 0 {
				t.stats.Malformed++
				t.peerLogf(n, "ERROR", "should_drop_message: bad nak seq number")
				return drop
			}
			if !hasTo {
				t.peerLogf(n, "WARN", "should_drop_message: tonodename not found heartbeat version not matching?")
			}
			if !hasTo || to == t.cfg.Local {
				t.stats.Irretrievable++
				t.peerLogf(n, "ERROR", "Irretrievably lost packet: node %s seq %d", n.name, nseq)
			}
			t.isLostPacket(n, nseq)
			return drop
		}
		if !hasTo || to == t.cfg.Local {
			return keep
		}
		return drop
	}

	if seq == 0 {
		t.stats.Malformed++
		t.logf("ERROR", "should_drop_message: bad sequence number")
		return drop
	}
	var gen uint64
	if cgen, ok := m.Get("hg"); ok {
		v, good := parseHex(cgen)
		if !good {
			t.stats.Malformed++
			t.logf("ERROR", "should_drop_message: bad generation number")
			return drop
		}
		gen = v
	}
	toUs := !hasTo || to == t.cfg.Local
	if du, ok := m.Binary("destuuid"); ok && len(du) == 16 {
		toUs = string(du) == string(t.cfg.UUID[:])
	}

	if gen < tr.generation {
		t.stats.Replays++
		t.peerLogf(n, "ERROR", "should_drop_message: attempted replay attack [%s]? [gen = %d, curgen = %d]", n.name, gen, tr.generation)
		if !n.genHinted && n != t.self && typ == "status" && !n.live() {
			// A real peer whose generation went back (its hb_generation
			// unreadable: Heartbeat then restarts at 1) is refused
			// for good, across our restarts too: say how to undo it.
			// (Not for a stray packet of the generation before a live
			// peer's restart.)
			n.genHinted = true
			t.logf("info", "If %s really restarted with a lower generation (hb_generation lost or reset), it stays refused: stop heartbeatd, delete %s's line from %s and start heartbeatd again", n.name, n.name, "hb_peers")
		}
		return refuse
	}
	if gen > tr.generation && typ != "status" && tr.generation > 0 {
		t.stats.Stale++
		return refuse
	}
	if gen == tr.generation && tr.lastSeq == 0 && seq <= tr.floor {
		if typ == "status" && n.status == StatusDead && seq <= n.statusSeq {
			t.stats.OldDropped++ // Heartbeat drops this one too, silently
			return drop
		}
		t.stats.Replays++
		t.peerLogf(n, "ERROR", "should_drop_message: replayed packet [%s]? [gen = %d, seq = %d, last seq = %d]", n.name, gen, seq, tr.floor)
		return refuse
	}
	if typ == "status" {
		if gen == tr.generation && gen > 0 {
			if n.status == StatusDead {
				if seq <= n.statusSeq {
					t.stats.OldDropped++
					return drop
				}
				// Alive again without a restart: a partition or a stalled
				// process healed while we believed it dead.
				t.logf("CRIT", "Cluster node %s returning after partition.", n.name)
				t.logf("info", "For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain")
				t.logf("WARN", "Deadtime value may be too small.")
				t.logf("info", "See FAQ for information on tuning deadtime.")
				t.logf("info", "URL: http://linux-ha.org/wiki/FAQ#Heavy_Load")
				t.emit(PartitionHealed{Node: n.name})
				t.sendStatus(now)
			}
		} else if gen > tr.generation {
			// Heartbeat logs a restart only for a generation it saw
			// itself; one we stored before our own restart is not news.
			if tr.genSeen {
				t.logf("info", "Heartbeat restart on node %s", n.name)
				t.emit(PeerRestarted{Node: n.name})
			}
			t.resetTrack(n)
			tr.floor = 0
			n.remoteTS = 0
			n.lastStatus = time.Time{}
			n.statusSeq = 0
			if n != t.self {
				// Stored at once: after a crash of ours, packets of
				// the generations before it stay refused.
				n.persisted, n.durable = PeerRecord{Gen: gen, Seq: seq}, true
				t.emit(PersistPeer{Node: n.name, Gen: gen, Seq: seq})
			}
		}
		tr.generation = gen
		tr.genSeen = tr.genSeen || gen > 0
	}

	if tr.lastSeq == 0 || seq == tr.lastSeq+1 {
		tr.lastSeq = seq
		// A message that may make us act (an outdate request, a resource
		// or standby message) raises the stored floor before it is
		// delivered: after a crash of ours, its replay is then refused.
		t.persistLive(now, n, typ != "status")
		t.ackIfNeeded(now, n, seq)
		if !toUs {
			t.stats.NotForUs++
			t.overheard(n, m)
		}
		return keepIf(toUs)
	}
	if seq == tr.lastSeq {
		return duplicate
	}
	if seq > tr.lastSeq {
		nlost := seq - (tr.lastSeq + 1)
		t.stats.Lost += nlost
		t.logf("WARN", "%d lost packet(s) for [%s] [%d:%d]", nlost, n.name, tr.lastSeq, seq)
		if nlost > flowControlLimit {
			// Something bad happened; start over rather than track (and
			// ask for) hundreds of messages.
			t.resetTrack(n)
			tr.lastSeq = seq
			t.logf("ERROR", "lost a lot of packets!")
			return keepIf(toUs)
		}
		if tr.firstMissing == 0 || tr.firstMissing > tr.lastSeq+1 {
			tr.firstMissing = tr.lastSeq + 1
		}
		if tr.missing == nil {
			tr.missing = map[uint64]bool{}
		}
		for k := tr.lastSeq + 1; k < seq; k++ {
			if len(tr.missing) >= maxMissing-1 {
				// Full: forget the oldest missing number, as Heartbeat does.
				t.forgetMissing(n, minKey(tr.missing))
			}
			tr.missing[k] = true
			t.scheduleRexmit(now, n, k, 0)
		}
		tr.lastSeq = seq
		if !toUs {
			t.stats.NotForUs++
			t.overheard(n, m)
		}
		return keepIf(toUs)
	}
	if t.isLostPacket(n, seq) {
		if !toUs {
			t.stats.NotForUs++
			t.overheard(n, m)
		}
		return keepIf(toUs)
	}
	t.stats.OldDropped++
	return drop
}

func minKey(m map[uint64]bool) uint64 {
	var lo uint64
	first := true
	for k := range m {
		if first || k < lo {
			lo, first = k, false
		}
	}
	return lo
}

func (t *Table) forgetMissing(n *node, seq uint64) {
	delete(n.track.missing, seq)
	t.cancelRexmit(n, seq)
}

// resetTrack is reset_seqtrack: forget sequence state and pending
// retransmission requests. The generation is kept, and so is the highest
// seq seen in it (the floor), so that no packet of it seen before comes
// back in.
func (t *Table) resetTrack(n *node) {
	for seq := range n.track.missing {
		t.cancelRexmit(n, seq)
	}
	n.track.floor = max(n.track.floor, n.track.lastSeq)
	n.track.missing = nil
	n.track.firstMissing = 0
	n.track.lastSeq = 0
	n.track.peerAck = 0
	n.resetLoss()
}

// isLostPacket reports whether seq was missing, and if so stops asking for
// it. When the lowest missing message arrives, the ACK that its absence held
// back is sent (is_lost_packet).
func (t *Table) isLostPacket(n *node, seq uint64) bool {
	tr := &n.track
	if !tr.missing[seq] {
		return false
	}
	t.forgetMissing(n, seq)
	if len(tr.missing) == 0 {
		t.logf("info", "No pkts missing from %s!", n.name)
		// Heartbeat clears first_missing_seq here, which also skips the
		// catch-up ACK below; the next in-order trigger seq ACKs instead.
		tr.firstMissing = 0
	}
	if !t.flowControl || seq != tr.firstMissing {
		return true
	}
	old := tr.firstMissing
	tr.firstMissing = minKey(tr.missing)
	last := tr.lastSeq
	if tr.firstMissing != 0 {
		last = tr.firstMissing - 1
	}
	var ack uint64
	switch {
	case last%ackDiv >= tr.ackTrigger:
		ack = last/ackDiv*ackDiv + tr.ackTrigger
	case last/ackDiv > 0:
		ack = (last/ackDiv-1)*ackDiv + tr.ackTrigger
	default:
		return true // no trigger seq at or below last yet
	}
	if ack >= old {
		t.ackIfNeeded(t.now, n, ack)
	}
	return true
}

// currentNS: an NS_ message from peer n carries its current generation
// (Heartbeat adds hg to NS_ messages too) and, for the types that make us
// act on our own history, n is alive. A missing hg counts as 0, as for
// any other message.
func (t *Table) currentNS(n *node, m *wire.Message, typ string) bool {
	gen, ok := parseHex(m.Value("hg"))
	if !ok || gen == 0 || gen != n.track.generation {
		return false
	}
	switch typ {
	case "NS_ackmsg", "NS_rexmit", "NS_nak_rexmit":
		return n.live()
	}
	return true
}

// ackIfNeeded sends NS_ackmsg for seq if it is this node's trigger seq and
// nothing older is missing (spec §3.6).
func (t *Table) ackIfNeeded(now time.Time, n *node, seq uint64) {
	if !t.flowControl {
		return
	}
	tr := &n.track
	if (tr.firstMissing != 0 && seq > tr.firstMissing) || seq%ackDiv != tr.ackTrigger {
		return
	}
	t.send(now, wireMessage("NS_ackmsg", "dest", n.name, "ackseq", strconv.FormatUint(seq, 16)))
}

// overheard reports an in-order message a peer addressed to another node.
func (t *Table) overheard(n *node, m *wire.Message) {
	if n.name != t.cfg.Local {
		t.emit(Overheard{Msg: m})
	}
}
