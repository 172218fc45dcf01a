package rm

import (
	"time"

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
	if old == "dead" && e.Status == "active" && m.commUp {
		// The peer went active without us (it came up alone, or we lost
		// its init/up while partitioned): like a partition return, it may
		// hold groups we took over.
		m.onPeerReturned(PeerReturned{Node: e.Node})
		return
	}
	m.peerStatus = e.Status
	switch e.Status {
	case "dead":
		if old != "dead" && m.commUp {
			m.recoverDead(e.Node)
		}
	case "init", "up", "active":
		m.peerPackets = true
		if old == "dead" || (old == "active" && e.Status != "active") {
			// A restarted peer (new generation) holds nothing yet and has
			// forgotten any standby exchange with us.
			m.peerShutdone = false
			m.peerHasRsc = true
			m.peerEpoch++
			if m.standby != standbyNot {
				m.logf(LevelInfo, "Cancelling pending standby operation")
				m.standby = standbyNot
				m.standbyUntil = time.Time{}
				m.otherStable = true
			}
			if !m.nice && old == "active" && m.commUp && !m.shutdownRunning {
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
	if m.shutdownRunning {
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
	if needStonith {
		if m.cfg.Stonith {
			m.fencing = node
			m.emit(Fence{Node: node})
			return // FenceDone continues
		}
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
	if m.shutdownRunning {
		m.logf(LevelInfo, "Resource takeover cancelled - shutdown in progress.")
		return
	}
	m.logf(LevelInfo, "Resources being acquired from %s.", node)
	m.releasing = false
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
		if m.iHold != rscAll && !m.shutdownRunning {
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
	m.peerStatus = "active"
	m.peerShutdone = false
	m.peerHasRsc = true
	m.logf(LevelCrit, "Cluster node %s returning after partition: resolving ownership, each group held twice stays on its home node.", e.Node)
	if m.shutdownRunning {
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
		m.releasing = true
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
	if m.shutdownReadySet {
		m.emit(ShutdownReady{})
		return
	}
	if m.shutdownBlocked {
		// Another SIGTERM: try the stuck groups again.
		m.shutdownBlocked = false
		m.queue(&job{kind: jobGiveupAll})
		return
	}
	if m.shutdownRunning {
		m.logf(LevelInfo, "Heartbeat shutdown already underway.")
		return
	}
	if !m.isStable() {
		if !m.shutdownWanted {
			m.logf(LevelWarn, "Shutdown delayed until current resource activity finishes.")
			m.shutdownWanted = true
		}
		return
	}
	m.shutdownWanted = false
	m.shutdownRunning = true
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
	if m.shutdownWanted {
		m.giveupResources()
	}
}
