package membership

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// dispatch handles an accepted message by type (spec §4.3).
func (t *Table) dispatch(now time.Time, n *node, m *wire.Message, typ string, seq, msgTime uint64, linkName string) {
	switch {
	case typ == "status":
		t.handleStatus(now, n, m, seq, msgTime)
	case typ == "NS_ackmsg":
		t.handleAck(n, m)
	case typ == "NS_rexmit":
		if n != t.self {
			t.serveRexmit(now, n, m)
		}
	case strings.HasPrefix(typ, "NS_"):
		// NS_st (ping nodes) and unknown NS_ types: nothing to do here.
	case typ == "reqnodes":
		t.handleReqnodes(now, n)
	case typ == "repnodes":
		t.handleRepnodes(now, n, m)
	case typ == "shutdone":
		if n != t.self {
			t.logf("info", "Received shutdown notice from '%s'.", n.name)
			t.emit(PeerShutdown{Node: n.name})
			t.persist(n)
		}
	default:
		t.emit(Deliver{Msg: m, Link: linkName})
	}
}

func knownStatus(st nodestatus.Status) bool {
	switch st {
	case StatusInit, StatusUp, StatusActive, StatusDead:
		return true
	}
	return false
}

// handleStatus is HBDoMsg_T_STATUS: liveness, late-heartbeat warnings, the
// peer's own dead time, status changes (spec §4.1, §5.2).
func (t *Table) handleStatus(now time.Time, n *node, m *wire.Message, seq, msgTime uint64) {
	word, ok := m.Get("st")
	st := nodestatus.Status(word)
	if !ok {
		t.stats.Malformed++
		t.logf("ERROR", "HBDoMsg_T_STATUS: status update without st field")
		return
	}
	if !knownStatus(st) {
		// Heartbeat copies any string; we refuse to pass one it never
		// sends to the resource manager.
		t.stats.Malformed++
		t.logf("ERROR", "HBDoMsg_T_STATUS: unknown status [%s] from node %s", st, n.name)
		return
	}
	// An older status that arrived late (the other link, a retransmission).
	if msgTime < n.remoteTS && seq < n.statusSeq {
		return
	}
	if n != t.self && t.flowControl {
		if _, err := strconv.Atoi(m.Value("protocol")); err != nil {
			t.logf("info", "flow control disabled due to different version heartbeat")
			t.flowControl = false
		}
	}
	if !n.lastStatus.IsZero() {
		interval := now.Sub(n.lastStatus).Milliseconds()
		switch {
		case interval > t.cfg.Deadtime.Milliseconds():
			t.logf("CRIT", "Late heartbeat: Node %s: interval %d ms (> deadtime)", n.name, interval)
			// Obviously alive, but so late that the peer may already
			// have declared us dead: treat it as dead now, so the status
			// change below runs the same recovery path as Heartbeat.
			if n != t.self {
				t.markDead(now, n)
				// markDead forgot the sequence state; this status
				// was accepted in order and is the new baseline.
				// Without it the next packet that happens to arrive
				// would be, and a cluster message lost just before
				// it (a heal's resource message) would never be
				// asked for again (node simulator, lossy links).
				n.track.lastSeq = seq
			}
		case interval > t.cfg.Warntime.Milliseconds():
			t.logf("WARN", "Late heartbeat: Node %s: interval %d ms", n.name, interval)
		}
	}
	if n != t.self && n.status != st {
		t.logf("info", "Status update for node %s: status %s", n.name, st)
		old := n.status
		n.status = st
		t.emit(NodeStatus{Node: n.name, Old: old, New: st, Msg: m})
	}
	// The receiver judges a peer by the dead time the peer advertises.
	if dt, ok := parseHex(m.Value("dt")); ok && dt > 0 && dt < uint64(24*time.Hour/time.Millisecond) {
		n.deadtime = time.Duration(dt) * time.Millisecond
	}
	n.remoteTS = msgTime
	n.lastStatus = now
	n.statusSeq = seq
	if n != t.self {
		t.followPeer(now)
	}
}

// markDead is mark_node_dead (spec §5.3). Heartbeat logs and recovers even
// for a node already dead (the late-heartbeat path); the NodeStatus action
// is emitted only on a real change.
func (t *Table) markDead(now time.Time, n *node) {
	t.logf("WARN", "node %s: is dead", n.name)
	old := n.status
	n.status = StatusDead
	if old != StatusDead {
		dead := wire.New("status")
		dead.Set("st", string(StatusDead))
		dead.Set("src", n.name)
		dead.Set("seq", "1")
		dead.Set("ts", strconv.FormatInt(now.Unix(), 16))
		t.emit(NodeStatus{Node: n.name, Old: old, New: StatusDead, Msg: dead})
	}
	n.remoteTS = 0
	n.anyPacketsYet = false
	t.resetTrack(n)
	t.persist(n)
}

// checkTimeouts is check_for_timeouts, run every 250 ms.
//
// Until every node has been heard from (or declared dead) everybody gets
// initdead; afterwards each node its advertised dt. Links use our own
// deadtime (initdead at first): Heartbeat uses the threshold of the last node
// it looked at, which in the captures is the local deadtime (G-partition:
// the links of a peer advertising 35 s while restarting died after 5 s).
// Our own links are never timed out, as in Heartbeat; they only come up.
func (t *Table) checkTimeouts(now time.Time) {
	for _, n := range t.nodes {
		if n == t.self || n.status == StatusDead {
			continue
		}
		dt := n.deadtime
		if !t.linksUp {
			dt = t.cfg.Initdead
		}
		if now.Sub(n.lastStatus) > dt {
			t.markDead(now, n)
		}
	}
	ldt := t.cfg.Deadtime
	if !t.linksUp {
		ldt = t.cfg.Initdead
	}
	for _, n := range t.nodes {
		if n == t.self {
			continue
		}
		for _, l := range n.links {
			if l.status == LinkDead || now.Sub(l.lastUpdate) <= ldt {
				continue
			}
			t.setLinkStatus(n, l, LinkDead)
		}
	}
}

// checkCommIsUp starts the join step once every node has sent something or
// been declared dead (spec §4.2).
func (t *Table) checkCommIsUp(now time.Time) {
	if t.linksUp {
		return
	}
	if !t.commCheckReady() {
		return
	}
	t.linksUp = true
	if t.flowControl {
		t.sendReqnodes(now)
	} else {
		t.commNowUp(now)
	}
}

// sendReqnodes asks the first live peer for the node list, every second
// until it answers; alone, we go active at once.
func (t *Table) sendReqnodes(now time.Time) {
	t.reqnodesAt = time.Time{}
	if t.gotRepnodes {
		return
	}
	if t.reqnodesFrom >= len(t.nodes) {
		t.reqnodesFrom = 0
	}
	var dest *node
	for i := t.reqnodesFrom; i < len(t.nodes); i++ {
		n := t.nodes[i]
		if n != t.self && n.status != StatusDead {
			dest = n
			t.reqnodesFrom = i
			break
		}
	}
	if dest == nil {
		t.gotRepnodes = true
		t.commNowUp(now)
		return
	}
	m := wireMessage("reqnodes", "dest", dest.name)
	t.send(now, m)
	t.reqnodesAt = now.Add(reqnodesEvery)
}

func (t *Table) commNowUp(now time.Time) {
	if t.commUp {
		return
	}
	t.commUp = true
	t.logf("info", "Comm_now_up(): updating status to active")
	t.setLocalStatus(now, StatusActive)
	t.emit(CommUp{})
}

// nodeList is the repnodes nodelist: every normal node followed by a blank.
func (t *Table) nodeList() string {
	var b strings.Builder
	for _, n := range t.nodes {
		b.WriteString(n.name)
		b.WriteByte(' ')
	}
	return b.String()
}

// handleReqnodes answers with ALL normal nodes: a real Heartbeat removes
// configured nodes missing from the list.
func (t *Table) handleReqnodes(now time.Time, n *node) {
	if n == t.self {
		t.logf("ERROR", "HBDoMsg_T_REQNODES: get reqnodes msg from myself!")
		return
	}
	// Heartbeat builds this one with dest before t.
	m := &wire.Message{}
	m.Set("dest", n.name)
	m.Set("t", "repnodes")
	m.Set("nodelist", t.nodeList())
	m.Set("delnodelist", " ")
	t.send(now, m)
}

// handleRepnodes completes the join step. Heartbeat would also add and
// remove nodes to match the list; heartbeatd keeps ha.cf authoritative and
// only warns, because a silently changed node list is how data gets lost.
func (t *Table) handleRepnodes(now time.Time, n *node, m *wire.Message) {
	if n == t.self {
		return
	}
	if list, ok := m.Get("nodelist"); ok {
		got := strings.Fields(strings.ToLower(list))
		want := strings.Fields(t.nodeList())
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.logf("WARN", "repnodes from %s lists nodes [%s], ha.cf has [%s]; keeping ha.cf", n.name, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
	t.gotRepnodes = true
	t.reqnodesAt = time.Time{}
	t.commNowUp(now)
}

// handleAck records which of our messages n has received (spec §3.6); the
// serving side uses it to skip retransmissions already ACKed.
func (t *Table) handleAck(n *node, m *wire.Message) {
	if dest := t.byName[strings.ToLower(m.Value("dest"))]; dest != t.self {
		return
	}
	ack, ok := parseHex(m.Value("ackseq"))
	if !ok || ack <= n.track.peerAck {
		return
	}
	if ack > t.lastSeq {
		// Beyond what we ever sent: forged, or replayed from before our
		// own restart. Taking it would stop us retransmitting to n.
		t.peerLogf(n, "ERROR", "HBDoMsg_T_ACK: corrupted ackseq current hiseq = %d ackseq =%d in this message", t.lastSeq, ack)
		return
	}
	n.track.peerAck = ack
}
