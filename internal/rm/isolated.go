package rm

import "heartbeatd/internal/nodestatus"

// The ping-node tie-breaker (heartbeatd extension ping_tiebreak, on when
// ping nodes are configured): when the peer goes dead, a node that reaches
// none of its ping nodes is the isolated one. Its own network failed, the
// peer most likely runs on, and taking the peer's groups (or fencing it)
// would put the service where nobody can reach it, or on both nodes. It
// takes nothing, and looks again as soon as a ping node answers.
//
// It also releases what it holds (unless the peer said shutdone): in a
// total partition without fencing the peer that still reaches the network
// takes the groups over, and a copy left running here would be a second
// primary for the shared data that nobody can reach anyway. Heartbeat
// keeps them; this is deliberate. When a ping node answers again and the
// peer is still dead, everything is taken back (recoverDead).

// PingReach tells the manager how many of the configured ping nodes answer.
type PingReach struct{ Reachable, Total int }

func (PingReach) isEvent() {}

// isolated: ping nodes are configured, none answers, and the tie-breaker
// is on.
func (m *Manager) isolated() bool {
	return m.cfg.PingTieBreak && m.ping.Total > 0 && m.ping.Reachable == 0
}

// holdOffIsolated is called where a dead peer's groups would be taken: it
// reports true (and remembers the peer) when this node is the isolated one.
func (m *Manager) holdOffIsolated(node string) bool {
	if !m.isolated() {
		return false
	}
	if m.isolatedPeer != node {
		m.logf(LevelWarn, "%s is dead, but none of our %d ping node(s) answers: this node is the isolated one. "+
			"Not taking over (or fencing) until a ping node answers.", node, m.ping.Total)
	}
	m.isolatedPeer = node
	m.releaseIsolated()
	return true
}

// releaseIsolated stops every group held here because this node is the
// isolated one while the peer is dead.
func (m *Manager) releaseIsolated() {
	if m.shuttingDown() || m.peerShutdone || len(m.Held()) == 0 {
		return
	}
	m.logf(LevelWarn, "Releasing our resources: %s may run them in the partition that reaches the network.", m.cfg.Peer)
	if m.nice {
		m.iHold = rscNone
	}
	m.queue(&job{kind: jobIsolatedStop})
}

func (m *Manager) onPingReach(e PingReach) {
	prev := m.ping
	m.ping = e
	m.ipfailPingChanged(prev)
	if m.isolatedPeer == "" && m.isolated() && m.peerStatus == nodestatus.Dead && m.commUp {
		// The peer died first; now the ping nodes are gone too.
		m.holdOffIsolated(m.cfg.Peer)
		return
	}
	if m.isolatedPeer == "" || m.isolated() {
		return
	}
	peer := m.isolatedPeer
	m.isolatedPeer = ""
	if m.peerStatus != nodestatus.Dead {
		return // it came back meanwhile: nothing to take
	}
	m.logf(LevelInfo, "A ping node answers again: %s is still dead; recovering its resources now.", peer)
	m.recoverDead(peer)
}
