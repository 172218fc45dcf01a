package rm

import (
	"time"

	"heartbeatd/internal/wire"
)

// onCommUp is comm_up_resource_action.
func (m *Manager) onCommUp(e CommUp) {
	if m.commUp {
		return
	}
	m.commUp = true
	if e.Alone {
		m.peerStatus = "dead"
	}
	if m.peerStatus != "dead" {
		// Every node is up: nobody else's groups to acquire.
		m.foreignWorkDone = true
	}
	if m.nice {
		m.send(wire.New("starting"))
		m.rstate = stateStarting
	} else if !m.reqRequestedYet {
		m.reqRequestedYet = true
		m.reqOurResources(false)
	}
	early := m.early
	m.early = nil
	for _, msg := range early {
		m.processResources(msg)
	}
	if m.peerStatus == "dead" {
		// The peer was declared dead at initdead, before we went active:
		// recover as Heartbeat does when it marks a node dead.
		m.recoverDead(m.cfg.Peer)
	}
}

func (m *Manager) onMessage(msg *wire.Message) {
	if msg == nil {
		return
	}
	src := msg.Value("src")
	if src == m.cfg.Local {
		return // our own copy: applied when we sent it
	}
	if src != m.cfg.Peer {
		m.logf(LevelWarn, "%s message from unknown node %q ignored", msg.Type(), src)
		return
	}
	m.peerPackets = true
	switch msg.Type() {
	case "starting", "resource":
		if !m.commUp {
			// The peer can go active (and send starting) a moment before
			// we do; keep it for comm-up as the capture shows Heartbeat
			// answering it (A-main 01).
			if len(m.early) < maxEarly {
				m.early = append(m.early, msg)
			} else {
				m.logf(LevelError, "Received '%s' message in state %d", msg.Type(), m.rstate)
			}
			return
		}
		m.processResources(msg)
	case "ask_resources":
		m.askForResources(msg, false)
	case "hb_takeover":
		m.onPeerTakeover(msg)
	case "ip-request":
		m.onIPRequest(msg)
	case "ip-request-resp":
		m.onIPRequestResp(msg)
	}
}

// applyOwn processes a message we sent, like Heartbeat's loopback copy.
func (m *Manager) applyOwn(msg *wire.Message) {
	switch msg.Type() {
	case "resource":
		m.ownResource(msg)
	case "ask_resources":
		m.askForResources(msg, true)
	}
}

// processResources handles the peer's starting and resource messages
// (process_resources, nice_failback only).
func (m *Manager) processResources(msg *wire.Message) {
	if !m.nice {
		return
	}
	newState := m.rstate
	if msg.Type() == "starting" {
		switch m.rstate {
		case stateRscRcvd, stateStable, stateShutdown:
		case stateStarting:
			newState = stateBothStarting
			m.foreignWorkDone = true
			m.announceTakeover("HB_R_BOTHSTARTING")
		default:
			m.logf(LevelError, "Received 'starting' message in state %d", m.rstate)
			return
		}
		m.otherStable = false
		if m.takeover {
			m.logf(LevelWarn, "T_STARTING received during takeover.")
		}
		m.sendResourcesHeld(m.rstate == stateStable, "")
		m.setState(newState)
		return
	}
	// t=resource from the peer.
	hold, ok := msg.Get("rsc_hold")
	if !ok {
		m.logf(LevelError, "resource message without rsc_hold field.")
		return
	}
	n, ok := parseRsc(hold)
	if !ok {
		m.logf(LevelError, "encode_resources: bad resource type [%s] from %s", hold, m.cfg.Peer)
	}
	full := msg.Value("rtype") == "full"
	switch m.rstate {
	case stateStarting, stateBothStarting:
		newState = stateRscRcvd
		if !m.auto {
			m.foreignWorkDone = true
			m.announceTakeover("T_RESOURCES")
		}
	case stateRscRcvd, stateStable, stateShutdown:
	default:
		m.logf(LevelError, "resource message received in state %d", m.rstate)
		return
	}
	m.otherHolds = updRsc(full, m.otherHolds, n)
	if st, ok := msg.Get("isstable"); ok {
		if st == "1" {
			if !m.otherStable {
				m.logf(LevelInfo, "remote resource transition completed.")
				m.otherStable = true
				m.sendResourcesHeld(m.rstate == stateStable, "")
				m.performAutoFailback()
			}
		} else {
			m.otherStable = false
		}
	}
	if m.rstate != stateStable && m.rstate != stateShutdown && m.otherStable {
		m.logf(LevelInfo, "remote resource transition completed.")
		m.reqOurResources(false)
		newState = stateStable
		m.sendResourcesHeld(true, "")
		m.performAutoFailback()
		m.foreignWorkDone = true
		if !m.auto && m.otherHolds&rscForeign != 0 {
			m.localWorkDone = true
		}
		m.announceTakeover("T_RESOURCES(them)")
	}
	m.setState(newState)
	m.adoptOrphans()
	m.audit()
}

// adoptOrphans: Heartbeat only logs "No one owns our local resources!" when
// both sides are stable and neither claims our home groups (e.g. the peer
// held them and restarted within deadtime). We take them back.
func (m *Manager) adoptOrphans() {
	if !m.nice || m.rstate != stateStable || !m.otherStable || m.standby != standbyNot ||
		m.shutdownRunning || m.shutdownWanted || m.cur != nil || len(m.jobs) > 0 || !m.peerAlive() {
		return
	}
	if m.iHold&rscLocal == 0 && m.otherHolds&rscForeign == 0 {
		m.logf(LevelError, "No one owns our local resources! Acquiring them.")
		m.reqOurResources(true)
	}
}

// ownResource is process_resources for a resource message from us.
func (m *Manager) ownResource(msg *wire.Message) {
	n, _ := parseRsc(msg.Value("rsc_hold"))
	full := msg.Value("rtype") == "full"
	newState := m.rstate
	switch m.rstate {
	case stateStarting, stateBothStarting:
		newState = stateRscRcvd
		if !m.auto {
			m.foreignWorkDone = true
			m.announceTakeover("T_RESOURCES")
		}
	case stateRscRcvd, stateStable, stateShutdown:
	default:
		return
	}
	m.iHold = updRsc(full, m.iHold, n) &^ m.failedBits() // failed bits are added when announcing
	if m.iHold&rscLocal != 0 {
		m.localWorkDone = true
		m.announceTakeover("T_RESOURCES(us)")
	}
	switch msg.Value("info") {
	case "mach_down":
		m.logf(LevelInfo, "mach_down takeover complete.")
		m.takeover = false
		m.iHold |= rscForeign
		m.needFailback = true
		m.otherStable = true
		m.foreignWorkDone = true
		m.announceTakeover("mach_down")
	case "shutdown":
		newState = stateShutdown
	}
	m.setState(newState)
	m.audit()
}

func (m *Manager) setState(s rscState) {
	m.rstate = s
	if s == stateRscRcvd && m.localTakeoverAt.IsZero() {
		m.localTakeoverAt = m.now.Add(m.cfg.FallbackTimeout)
	}
}

// audit is AuditResources: complain when the bookkeeping disagrees.
func (m *Manager) audit() {
	if !m.nice {
		return
	}
	mine := m.iHold | m.failedBits()
	if mine&rscLocal != 0 && m.otherHolds&rscForeign != 0 {
		m.logf(LevelError, "Both machines own our resources!")
	}
	if m.otherHolds&rscLocal != 0 && mine&rscForeign != 0 {
		m.logf(LevelError, "Both machines own foreign resources!")
	}
	if m.isStable() && !m.shutdownRunning && m.rstate != stateShutdown {
		if mine&rscLocal == 0 && m.otherHolds&rscForeign == 0 {
			m.logf(LevelError, "No one owns our local resources!")
		}
		if m.otherHolds&rscLocal == 0 && mine&rscForeign == 0 {
			m.logf(LevelError, "No one owns foreign resources!")
		}
	}
}

func (m *Manager) announceTakeover(reason string) {
	if m.announced || !m.localWorkDone || !m.foreignWorkDone {
		return
	}
	m.logf(LevelInfo, "Initial resource acquisition complete (%s)", reason)
	m.announced = true
}

// reqOurResources is req_our_resources.
func (m *Manager) reqOurResources(anyway bool) {
	if m.shutdownRunning {
		return
	}
	if m.nice {
		if (m.otherHolds&rscForeign != 0 || m.iHold&rscLocal != 0) && !anyway && m.standby == standbyNot {
			m.logf(LevelInfo, "Local Resource acquisition completed. (none)")
			return
		}
		m.iHold |= rscLocal
	}
	m.queue(&job{kind: jobReqOur, start: true})
}

// performAutoFailback: with auto_failback on, a node holding the other's
// groups hands them back once the other side is stable (A-main 06/08).
func (m *Manager) performAutoFailback() {
	if m.shutdownRunning || m.iHold&rscForeign == 0 || !m.needFailback || !m.auto {
		m.needFailback = false
		return
	}
	if m.standby != standbyNot || !m.otherStable || m.rstate != stateStable {
		// Heartbeat retries every second ("Auto failback delayed.").
		m.failbackRetryAt = m.now.Add(time.Second)
		return
	}
	if m.failedBits()&rscForeign != 0 {
		m.logf(LevelWarn, "Auto failback to %s held back: a group of it failed to stop here.", m.cfg.Peer)
		m.needFailback = false
		return
	}
	m.standbySet = rscForeign
	m.sendStandbyMsg("me")
	m.needFailback = false
}

func (m *Manager) onTick() {
	if m.nice && m.rstate == stateRscRcvd && m.now.After(m.localTakeoverAt) {
		m.rstate = stateStable
		m.reqOurResources(false)
		m.logf(LevelInfo, "local resource transition completed.")
		m.sendResourcesHeld(true, "")
		m.audit()
	}
	if !m.failbackRetryAt.IsZero() && !m.now.Before(m.failbackRetryAt) {
		m.failbackRetryAt = time.Time{}
		m.performAutoFailback()
	}
	if !m.failureStandbyAt.IsZero() && !m.now.Before(m.failureStandbyAt) {
		m.failureStandbyAt = time.Time{}
		m.runFailureStandby()
	}
	if m.fencing != "" && !m.fenceRetryAt.IsZero() && !m.now.Before(m.fenceRetryAt) {
		m.fenceRetryAt = time.Time{}
		m.emit(Fence{Node: m.fencing})
	}
}

// onPeerStatus follows membership.
func (m *Manager) onPeerStatus(e PeerStatus) {
	if e.Node != m.cfg.Peer {
		return
	}
	old := m.peerStatus
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
			if m.standby != standbyNot {
				m.logf(LevelInfo, "Cancelling pending standby operation")
				m.standby = standbyNot
				m.standbyUntil = time.Time{}
				m.otherStable = true
			}
		}
	}
}

// recoverDead is hb_rsc_recover_dead_resources.
func (m *Manager) recoverDead(node string) {
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
	m.logf(LevelCrit, "Cluster node %s returning after partition: groups stay on their home node; releasing the groups of %s taken over here.", e.Node, e.Node)
	if m.shutdownRunning {
		return
	}
	if m.standby != standbyNot {
		m.standby = standbyNot
		m.standbyUntil = time.Time{}
	}
	// Takeovers decided during the partition and not started yet are void.
	kept := m.jobs[:0]
	for _, j := range m.jobs {
		if j.kind != jobMachDown && j.kind != jobStandbyTake {
			kept = append(kept, j)
		}
	}
	m.jobs = kept
	m.fencing = ""
	m.fenceRetryAt = time.Time{}
	m.needFailback = false
	m.otherStable = false
	m.otherHolds = rscLocal
	if m.nice {
		m.iHold &^= rscForeign
	}
	m.takeover = true
	m.queue(&job{kind: jobReleaseForeign, start: false, keys: m.keysOf(rscForeign)})
	if m.nice && m.rstate != stateStable && m.rstate != stateShutdown {
		m.rstate = stateStable
	}
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
