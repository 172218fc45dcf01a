package rm

import (
	"slices"
	"strings"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// onCommUp is comm_up_resource_action.
func (m *Manager) onCommUp(e CommUp) {
	if m.commUp {
		return
	}
	m.commUp = true
	if e.Alone {
		m.peerStatus = nodestatus.Dead
	}
	if m.peerStatus != nodestatus.Dead {
		// Every node is up: nobody else's groups to acquire.
		m.foreignWorkDone = true
	}
	if m.nice {
		m.send(wire.New("starting"))
		m.rstate = stateStarting
	} else {
		// Heartbeat guards this with resources_requested_yet; commUp
		// already lets this function run only once.
		m.reqOurResources(false)
	}
	early := m.early
	m.early = nil
	for _, msg := range early {
		m.processResources(msg)
	}
	if m.peerStatus == nodestatus.Dead {
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
	m.ipfailMessage(msg)
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
	late := m.overtaken(msg)
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
		if !late.any {
			// Else the peer's newer messages told its state since.
			m.otherStable = false
		}
		if m.takeover {
			m.logf(LevelWarn, "T_STARTING received during takeover.")
		}
		if (m.standby == standbyOther || m.standby == standbyDone) && !late.ask {
			// The peer re-announces itself: it restarted (membership
			// already cancelled the exchange then) or, being heartbeatd,
			// it declared us dead and saw us return, and reset its
			// standby state when it sent this. Links are FIFO, so the
			// peer sent its part of this exchange ("me" or "other")
			// before that reset: it has forgotten the exchange, and a
			// "done" it owes, or the one we sent, may have been lost in
			// the partition. Waiting would hold us in the exchange for
			// StandbyResourceTimeout (60 min). In the ME state our "me"
			// may reach the peer after its reset and still be answered,
			// so we keep waiting there (StandbyTimeout, 10 s, bounds it).
			m.cancelStandbyExchange()
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
	if !late.resource {
		m.otherHolds = updRsc(full, m.otherHolds, n)
	}
	// A late claim still counts: otherHolds says whether the peer claims
	// its own groups now.
	m.resolveConflict(full && msg.Value("isstable") == "1" && msg.Value("info") == "")
	if st, ok := msg.Get("isstable"); ok && !late.any {
		if st == "1" {
			m.healing = false
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
	if m.reqDeferred && m.otherHolds&rscForeign == 0 && (!m.healing || m.otherStable) && !m.shuttingDown() && m.standby == standbyNot {
		m.reqDeferred = false
		m.reqOurResources(true)
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

// resolveConflict: the peer claims its own groups (our foreign set) while
// we hold them too. Heartbeat only logs "Both machines own foreign
// resources!"; this happens when only one side noticed a partition heal.
// Groups stay on their home node, so we release our copies.
func (m *Manager) resolveConflict(full bool) {
	if m.release == relRunning || m.otherHolds&rscLocal == 0 || m.iHold&rscForeign == 0 || !m.peerAlive() {
		if m.release == relPutOff {
			m.release = relNone // no conflict left
		}
		return
	}
	if !full && m.release != relPutOff {
		return
	}
	// Our own standby request still waiting for its answer does not
	// stand in the way: whatever set it asks to give, releasing our copies
	// of the groups the peer runs as their home node only goes the same
	// way (seeds 177922, 288403: the request was lost in the partition and
	// would hold both copies for the whole 10 s standby timeout).
	waiting := m.standby == standbyMe && m.cur == nil
	if (m.standby != standbyNot && !waiting) || m.shuttingDown() {
		// Not now, but not never: the peer announced its claim once and
		// stays silent while stable, so without a retry both nodes would
		// keep running these groups after our standby ends (simulator
		// seeds 28434, 241081: a heal while a standby request was
		// pending). Later messages that do not qualify on their own do
		// not cancel the retry.
		m.release = relPutOff
		return
	}
	m.logf(LevelCrit, "Both machines own foreign resources! %s holds its own groups: releasing them here.", m.cfg.Peer)
	m.needFailback = false
	m.takeover = true
	m.release = relRunning
	m.queue(&job{kind: jobReleaseForeign, keys: m.keysOf(rscForeign)})
}

// orphanConfirm is how long our home groups must stay unclaimed before
// adoptOrphans takes them: long enough for a backlog of messages to be
// read. A daemon that stood still (SIGSTOP, a stall) past deadtime reads,
// on resuming, what the peer sent meanwhile, oldest first: a claim of
// "local" from before the peer took our groups over (without fencing, as
// Heartbeat's rule has it when we held nothing) made us start them while
// the peer ran them, and the next message of the backlog said "all" (node
// simulator seeds 6166, 8780 with fence_policy heartbeat).
const orphanConfirm = 250 * time.Millisecond

// adoptOrphans: Heartbeat only logs "No one owns our local resources!" when
// both sides are stable and neither claims our home groups (e.g. the peer
// held them and restarted within deadtime). We take them back, once that
// has lasted orphanConfirm.
func (m *Manager) adoptOrphans() {
	if !m.nice || m.rstate != stateStable || !m.otherStable || m.standby != standbyNot ||
		m.shuttingDown() || m.shutdown == shutDelayed || m.cur != nil || len(m.jobs) > 0 || !m.peerAlive() {
		m.orphanSince = time.Time{}
		return
	}
	if m.iHold&rscLocal == 0 && m.otherHolds&rscForeign == 0 {
		if m.orphanSince.IsZero() {
			m.orphanSince = m.now
		}
		if m.now.Sub(m.orphanSince) < orphanConfirm {
			return // a Tick comes back: the manager is not Idle
		}
		m.orphanSince = time.Time{}
		m.logf(LevelError, "No one owns our local resources! Acquiring them.")
		m.reqOurResources(true)
		return
	}
	m.orphanSince = time.Time{}
	// What we claim must run: a claimed group found stopped (and not given
	// up after failed starts) is started, unless the peer claims it too.
	var keys []string
	for _, g := range m.groups {
		set := m.setOf(g)
		pendingFailure := g.startFailed && !m.failureStandbyAt.IsZero()
		if g.state != Stopped || pendingFailure || g.gaveUp || m.iHold&set == 0 || m.otherHolds&set.complement() != 0 {
			continue
		}
		keys = append(keys, g.Key)
	}
	if len(keys) > 0 {
		m.logf(LevelWarn, "Resource group(s) %s held by %s but not running: starting them.", strings.Join(keys, ", "), m.cfg.Local)
		m.queue(&job{kind: jobRetryStart, start: true, keys: keys})
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
	m.iHold = updRsc(full, m.iHold, n)
	if m.iHold&rscLocal != 0 {
		m.localWorkDone = true
		m.announceTakeover("T_RESOURCES(us)")
	}
	switch msg.Value("info") {
	case "mach_down":
		// Heartbeat's line, unless a group of the takeover failed to
		// start: finishJob has said "incomplete" just before.
		if len(m.failedStarts(m.keysOf(rscForeign))) == 0 {
			m.logf(LevelInfo, "mach_down takeover complete.")
		}
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
// Heartbeat repeats its complaints on every resource message, a dozen
// times within a millisecond of a heal; here each complaint is logged when
// it starts, and again only after it has gone away, so the log tells what
// happened once.
func (m *Manager) audit() {
	if !m.nice {
		return
	}
	var said []string
	mine := m.iHold | m.failedBits()
	if mine&rscLocal != 0 && m.otherHolds&rscForeign != 0 {
		said = append(said, "Both machines own our resources!")
	}
	if m.otherHolds&rscLocal != 0 && mine&rscForeign != 0 {
		said = append(said, "Both machines own foreign resources!")
	}
	if m.isStable() && !m.shuttingDown() && m.rstate != stateShutdown {
		if mine&rscLocal == 0 && m.otherHolds&rscForeign == 0 {
			said = append(said, "No one owns our local resources!")
		}
		if m.otherHolds&rscLocal == 0 && mine&rscForeign == 0 {
			said = append(said, "No one owns foreign resources!")
		}
	}
	for _, line := range said {
		if !slices.Contains(m.audited, line) {
			m.logf(LevelError, "%s", line)
		}
	}
	m.audited = said
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
	if m.shuttingDown() {
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
	if m.shuttingDown() || m.iHold&rscForeign == 0 || !m.needFailback || !m.auto {
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
	if m.release == relPutOff && m.standby == standbyNot && !m.shuttingDown() {
		m.resolveConflict(false)
	}
	m.adoptOrphans()
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
	m.ipfailTick()
	m.monitorTick()
}
