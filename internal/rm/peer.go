package rm

import (
	"strconv"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// This file handles the peer's life cycle as membership reports it: death
// (§6.6), graceful shutdown (§5.6), restart and return after a partition
// (§5.5), and our own graceful shutdown.

// onPeerStatus follows membership.
func (m *Manager) onPeerStatus(e PeerStatus) {
	if e.Node != m.cfg.Peer {
		return
	}
	old := m.peerStatus
	if e.Status != nodestatus.Dead {
		m.isolatedPeer = "" // it lives: nothing waits to be recovered
	}
	if old == nodestatus.Dead && e.Status == nodestatus.Active && m.commUp {
		// The peer went active without us (it came up alone, or we lost
		// its init/up while partitioned): like a partition return, it may
		// hold groups we took over.
		m.onPeerReturned(PeerReturned{Node: e.Node})
		return
	}
	m.peerStatus = e.Status
	switch e.Status {
	case nodestatus.Dead:
		if old != nodestatus.Dead && m.commUp {
			m.recoverDead(e.Node)
		}
	case nodestatus.Init, nodestatus.Up, nodestatus.Active:
		m.peerPackets = true
		if old == nodestatus.Dead || (old == nodestatus.Active && e.Status != nodestatus.Active) {
			// A restarted peer (new generation) holds nothing yet and has
			// forgotten any standby exchange with us.
			m.peerShutdone = false
			m.peerHasRsc = true
			m.peerEpoch++
			// A new run numbers its messages afresh (normally under a
			// higher generation, but not if its hb_generation was lost).
			m.peerNewest = peerPositions{}
			if m.standby != standbyNot {
				m.logf(LevelInfo, "Cancelling pending standby operation")
				m.standby = standbyNot
				m.standbyUntil = time.Time{}
				m.otherStable = true
			}
			if !m.nice && old == nodestatus.Active && m.commUp && !m.shuttingDown() {
				// Our ip-requests died with the old process: ask again
				// for the home groups that are not running here.
				for _, g := range m.groups {
					if g.local && g.state == Stopped {
						m.reqOurResources(false)
						break
					}
				}
			}
		}
	}
}

// recoverDead is hb_rsc_recover_dead_resources.
func (m *Manager) recoverDead(node string) {
	m.peerEpoch++
	if m.standby != standbyNot {
		m.logf(LevelInfo, "Cancelling pending standby operation")
		m.standby = standbyNot
		m.standbyUntil = time.Time{}
		if !m.otherStable && m.iHold == rscAll {
			m.otherStable = true
		}
	}
	if m.shuttingDown() || m.holdOffIsolated(node) {
		return
	}
	m.needFailback = true
	needStonith := true
	if m.peerPackets {
		if m.nice {
			needStonith = m.otherHolds != rscNone
		} else {
			needStonith = m.peerHasRsc
		}
	}
	if m.cfg.Stonith && m.fenceFirst(node, needStonith) {
		return // FenceDone continues
	}
	if needStonith {
		m.sendStonith(node, "n_stnth")
		m.logf(LevelWarn, "No STONITH device configured.")
		m.logf(LevelWarn, "Shared disks are not protected.")
		m.takeoverFrom(node)
		return
	}
	m.logf(LevelInfo, "Dead node %s gave up resources.", node)
	m.sendStonith(node, "unneeded")
	if !m.nice {
		m.takeoverFrom(node)
		return
	}
	if m.iHold == rscAll {
		m.otherStable = true
		return
	}
	if m.iHold&rscLocal == 0 {
		m.reqOurResources(true)
	}
	if m.iHold&rscForeign == 0 {
		m.takeoverFrom(node)
	}
}

func (m *Manager) onFenceDone(e FenceDone) {
	if e.Node != m.fencing {
		return
	}
	if !e.OK {
		m.logf(LevelError, "STONITH of %s failed.  Retrying...", e.Node)
		m.sendStonith(e.Node, "bad")
		m.fenceRetryAt = m.now.Add(m.cfg.StonithRetry)
		return
	}
	m.fencing = ""
	m.logf(LevelInfo, "node %s now reset.", e.Node)
	m.sendStonith(e.Node, "OK")
	m.takeoverFrom(e.Node)
}

// takeoverFrom is takeover_from_node: mach_down for the node's groups and
// our own acquisition, which may still be pending.
func (m *Manager) takeoverFrom(node string) {
	if m.shuttingDown() {
		m.logf(LevelInfo, "Resource takeover cancelled - shutdown in progress.")
		return
	}
	m.logf(LevelInfo, "Resources being acquired from %s.", node)
	if m.release == relRunning {
		m.release = relNone // the takeover claims the groups the release would drop
	}
	if m.nice {
		// Claim the foreign set now, or a returning peer could take its
		// groups on an interim resource message from us.
		m.iHold |= rscForeign
		m.otherHolds = rscNone
		m.otherStable = true
		m.takeover = true
	}
	m.reqOurResources(true)
	m.queue(&job{kind: jobMachDown, start: true, node: node})
}

// onPeerShutdown is HBDoMsg_T_SHUTDONE for the peer.
func (m *Manager) onPeerShutdown(e PeerShutdown) {
	if e.Node != m.cfg.Peer || !m.commUp {
		return
	}
	m.peerPackets = true
	if m.nice {
		m.otherStable = true
		m.otherHolds = rscNone
		if m.iHold != rscAll && !m.shuttingDown() {
			rtype := rscAll
			switch m.iHold {
			case rscForeign:
				rtype = rscLocal
			case rscLocal:
				rtype = rscForeign
			}
			// Take over at once (Heartbeat's go_standby(OTHER) shortcut).
			m.standby = standbyDone
			m.standbySet = rtype
			m.queue(&job{kind: jobStandbyTake, start: true, set: m.actSet(false, rtype), reqSet: rtype})
		}
	}
	m.peerHasRsc = false
	m.peerShutdone = true
	m.peerEpoch++
	m.otherStable = false
	m.otherHolds = rscNone
	m.logf(LevelInfo, "Received shutdown notice from '%s'.", e.Node)
	m.takeoverFrom(e.Node)
}

// onPeerReturned resolves dual ownership after a partition heals. Heartbeat
// 3.0.6 gives up everything and restarts itself (§5.5); we keep each group
// on its home node instead: the non-home side stops its taken-over groups.
// Both sides apply the same rule, so they converge without a full outage.
func (m *Manager) onPeerReturned(e PeerReturned) {
	if e.Node != m.cfg.Peer {
		return
	}
	m.peerStatus = nodestatus.Active
	m.peerShutdone = false
	m.peerHasRsc = true
	m.logf(LevelCrit, "Cluster node %s returning after partition: resolving ownership, each group held twice stays on its home node.", e.Node)
	if m.shuttingDown() {
		return
	}
	if m.standby != standbyNot {
		m.standby = standbyNot
		m.standbyUntil = time.Time{}
	}
	// Takeovers decided during the partition and not started yet are void.
	kept := m.jobs[:0]
	dropped := false
	for _, j := range m.jobs {
		if j.kind != jobMachDown && j.kind != jobStandbyTake {
			kept = append(kept, j)
		} else {
			dropped = true
		}
	}
	m.jobs = kept
	if dropped && (m.cur == nil || m.cur.kind != jobMachDown) {
		m.takeover = false
		if m.nice && !m.anyActive(rscForeign) {
			m.iHold &^= rscForeign
		}
	}
	m.fencing = ""
	m.fenceRetryAt = time.Time{}
	m.needFailback = false
	m.otherStable = false
	m.healing = true
	if m.nice {
		// Ask the peer to re-announce what it holds (any node answers a
		// starting message with its resource message). resolveConflict
		// then releases exactly the groups the peer holds as their home
		// node; the peer does the same with our announcement.
		m.otherHolds = rscAll
		m.send(wire.New("starting"))
		m.sendResourcesHeld(true, "")
	} else {
		// Legacy has no resource messages: release the peer's groups, and
		// ask for our running home groups (ip-request) so that a peer which
		// did not notice the partition releases its copies.
		m.takeover = true
		m.release = relRunning
		m.queue(&job{kind: jobReleaseForeign, keys: m.keysOf(rscForeign)})
		for _, g := range m.groups {
			if g.local && (g.state == Running || g.state == Starting) {
				msg := wire.New("ip-request")
				msg.Set("ipaddr", g.Key)
				m.send(msg)
				m.asked[g.Key] = true
			}
		}
	}
	if m.nice && m.rstate != stateStable && m.rstate != stateShutdown {
		m.rstate = stateStable
	}
}

// anyActive: some group of the set is starting or running here.
func (m *Manager) anyActive(set rscSet) bool {
	for _, g := range m.groups {
		if m.setOf(g)&set != 0 && (g.state == Running || g.state == Starting) {
			return true
		}
	}
	return false
}

// giveupResources is hb_giveup_resources (SIGTERM).
func (m *Manager) giveupResources() {
	if m.shutdown == shutReady {
		m.emit(ShutdownReady{})
		return
	}
	if m.shutdown == shutBlocked {
		// Another SIGTERM: try the stuck groups again.
		m.shutdown = shutGivingUp
		m.queue(&job{kind: jobGiveupAll})
		return
	}
	if m.shuttingDown() {
		m.logf(LevelInfo, "Heartbeat shutdown already underway.")
		return
	}
	if !m.isStable() {
		if m.shutdown != shutDelayed {
			m.logf(LevelWarn, "Shutdown delayed until current resource activity finishes.")
			m.shutdown = shutDelayed
		}
		return
	}
	m.shutdown = shutGivingUp
	m.iHold = rscNone
	m.rstate = stateShutdown
	m.failureStandbyAt = time.Time{}
	m.sendResourcesHeld(false, "shutdown")
	if m.cfg.PID != 0 {
		m.logf(LevelInfo, "Heartbeat shutdown in progress. (%d)", m.cfg.PID)
	} else {
		m.logf(LevelInfo, "Heartbeat shutdown in progress.")
	}
	m.queue(&job{kind: jobGiveupAll})
}

func (m *Manager) shutdownIfNeeded() {
	if m.shutdown == shutDelayed {
		m.giveupResources()
	}
}

// msgOrder is the position of a message in the peer's stream: its
// generation and sequence number (hg and seq, hex, added by membership).
type msgOrder struct{ gen, seq uint64 }

func orderOf(msg *wire.Message) (msgOrder, bool) {
	seq, err := strconv.ParseUint(msg.Value("seq"), 16, 64)
	if err != nil || seq == 0 {
		return msgOrder{}, false
	}
	gen, _ := strconv.ParseUint(msg.Value("hg"), 16, 64)
	return msgOrder{gen: gen, seq: seq}, true
}

func (a msgOrder) before(b msgOrder) bool {
	return a.gen < b.gen || a.gen == b.gen && a.seq < b.seq
}

// overtaken says which kinds of newer peer messages were applied before
// msg, a starting, resource or ask_resources message from the peer, and
// records its position. Membership delivers a retransmitted message when
// it arrives, after the newer ones that overtook it: what it says about
// the peer's state is then the past. A late "isstable=0" would leave the
// peer in flux for good (it repeats nothing while stable), and a late
// "isstable=1" from before a standby exchange makes the peer look stable
// in the middle of it, so that its "done" reads as "nobody holds our
// groups" (simulator seeds 3742, 7219, 19879: both nodes ran a group, or
// neither). What a late message asks for is still done: a starting is
// answered, a claim of the peer's own groups still releases our copies.
// Only a standby message sent before the peer's newest starting is void:
// the peer left that exchange when it sent the starting (seed 5890: a
// late "other" made us give everything to a peer that had cancelled).
func (m *Manager) overtaken(msg *wire.Message) overtakenBy {
	o, ok := orderOf(msg)
	if !ok {
		return overtakenBy{} // no position (a test, or a peer without seq)
	}
	by := overtakenBy{
		any:      o.before(m.peerNewest.any),
		resource: o.before(m.peerNewest.resource),
		ask:      o.before(m.peerNewest.ask),
		starting: o.before(m.peerNewest.starting),
	}
	newest := func(p *msgOrder) {
		if p.before(o) {
			*p = o
		}
	}
	newest(&m.peerNewest.any)
	switch msg.Type() {
	case "resource":
		newest(&m.peerNewest.resource)
	case "ask_resources":
		newest(&m.peerNewest.ask)
	case "starting":
		newest(&m.peerNewest.starting)
	}
	return by
}

// peerPositions holds the positions of the newest starting, resource and
// ask_resources messages applied from the peer: any of them, and by type.
type peerPositions struct{ any, resource, ask, starting msgOrder }

// overtakenBy: a newer message of that kind was applied already.
type overtakenBy struct{ any, resource, ask, starting bool }
