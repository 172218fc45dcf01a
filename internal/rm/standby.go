package rm

import (
	"fmt"
	"strings"
	"time"

	"heartbeatd/internal/wire"
)

// actSet is go_standby's choice of groups: the requester (ME) releases the
// named set, the other side (OTHER) acquires its complement.
func (m *Manager) actSet(me bool, set rscSet) rscSet {
	if me {
		return set
	}
	return set.complement()
}

// checkStandbyTimeout: Heartbeat checks standby_running on every message.
func (m *Manager) checkStandbyTimeout() {
	if !m.standbyUntil.IsZero() && !m.now.Before(m.standbyUntil) {
		m.standbyUntil = time.Time{}
		m.otherStable = true
		m.standby = standbyNot
		m.logf(LevelWarn, "No reply to standby request.  Standby request cancelled.")
	}
}

// askForResources is ask_for_resources: the three-phase standby protocol
// (§6.5). fromMe marks our own messages.
func (m *Manager) askForResources(msg *wire.Message, fromMe bool) {
	if !m.nice {
		m.logf(LevelInfo, "Standby mode only implemented when nice_failback on")
		return
	}
	if m.rstate == stateShutdown {
		return
	}
	info, ok := msg.Get("info")
	if !ok {
		m.logf(LevelError, "Received standby message without info/from")
		return
	}
	from := m.cfg.Peer
	var by overtakenBy
	if !fromMe {
		by = m.overtaken(msg)
	}
	if fromMe {
		from = m.cfg.Local
	} else if by.starting {
		m.logf(LevelInfo, "standby message [%s] from %s ignored: sent before its last starting message.", info, from)
		return
	}
	rtype := rscAll
	if v, ok := msg.Get("rsc_hold"); ok {
		rtype, _ = parseRsc(v)
		if _, known := parseRsc(v); !known {
			m.logf(LevelError, "encode_resources: bad resource type [%s]", v)
		}
	}
	if info == "cancel" {
		// Not in Heartbeat 3.0.6: a heartbeatd peer aborted its standby
		// because a group failed to stop there, or our answer came after
		// its request had timed out.
		if !fromMe && (m.standby == standbyOther || m.standby == standbyMe) {
			why := "a group failed to stop there"
			if msg.Value("reason") == cancelTimedOut {
				why = "our answer came after the request had timed out there"
			}
			m.logf(LevelWarn, "%s cancelled its standby request [%s]: %s.", from, rtype, why)
			m.standby = standbyNot
			m.standbyUntil = time.Time{}
			m.otherStable = false
		}
		return
	}
	if !m.standbyUntil.IsZero() && m.now.Before(m.standbyUntil) && info == "me" {
		left := (m.standbyUntil.Sub(m.now).Milliseconds() + 999) / 1000
		m.logf(LevelWarn, "Standby in progress- new request from %s ignored [%d seconds left]", from, left)
		return
	}
	orig := m.standby
	ignored := false
	switch m.standby {
	case standbyNot:
		if !fromMe && info == "other" && !by.ask {
			// The peer answers a request of ours that timed out here
			// (StandbyTimeout: loss delayed our "me" or its "other").
			// Heartbeat 3.0.6 ignores it, and the peer, which now waits
			// for our "done", refuses every standby request and reports
			// a transition until StandbyResourceTimeout (60 min). We tell
			// it to leave the exchange, and what we hold, so that it
			// counts us stable again (node simulator seed 15617).
			m.logf(LevelError, "Ignored standby message '%s' from %s in state %d", info, from, orig)
			m.logf(LevelWarn, "%s answered our standby request after it had timed out: asking it to cancel.", from)
			m.standbySet = rtype
			m.sendStandbyMsg("cancel", "reason", cancelTimedOut)
			m.sendResourcesHeld(m.rstate == stateStable, "")
			return
		}
		if !m.otherStable {
			m.logf(LevelWarn, "standby message [%s] from %s ignored.  Other side is in flux.", info, from)
			return
		}
		if m.rstate != stateStable {
			m.logf(LevelWarn, "standby message [%s] from %s ignored.  local resources in flux.", info, from)
			return
		}
		m.standbySet = rtype
		if info != "me" {
			ignored = true
			break
		}
		if !fromMe && m.monitorRefuses(m.actSet(false, rtype), from) {
			return
		}
		m.otherStable = false
		m.logf(LevelInfo, "%s wants to go standby [%s]", from, rtype)
		if fromMe {
			m.standbyUntil = m.now.Add(m.cfg.StandbyTimeout)
			m.standby = standbyMe
		} else {
			m.standby = standbyOther
			m.sendStandbyMsg("other")
			m.standbyUntil = m.now.Add(m.cfg.StandbyResourceTimeout)
		}
	case standbyMe:
		switch {
		case !fromMe && info == "other":
			m.standbySet = rtype
			m.standbyUntil = m.now.Add(m.cfg.StandbyResourceTimeout)
			m.logf(LevelInfo, "standby: %s can take our %s resources", from, rtype)
			m.goStandby(true, rtype)
		case fromMe && info == "done":
			m.logf(LevelInfo, "Local standby process completed [%s].", rtype)
			m.standby = standbyDone
			m.iHold &^= m.standbySet
			m.standbyUntil = m.now.Add(m.cfg.StandbyResourceTimeout)
		default:
			ignored = true
		}
	case standbyOther:
		m.standbySet = rtype
		if info == "done" {
			m.standbyUntil = m.now.Add(m.cfg.StandbyResourceTimeout)
			if !fromMe {
				m.logf(LevelInfo, "standby: acquire [%s] resources from %s", rtype, from)
				m.goStandby(false, m.standbySet)
				m.standby = standbyDone
			} else {
				ignored = true
			}
		} else if !fromMe || info != "other" {
			ignored = true
		}
	case standbyDone:
		m.standbySet = rtype
		if info != "done" {
			ignored = true
			break
		}
		m.standbyUntil = time.Time{}
		m.standby = standbyNot
		if fromMe {
			m.logf(LevelInfo, "Standby resource acquisition done [%s].", rtype)
			if m.auto {
				m.localWorkDone = true
				m.announceTakeover("auto_failback")
			}
			m.iHold |= rtype.complement()
		} else {
			m.logf(LevelInfo, "Other node completed standby takeover of %s resources.", rtype)
			// The peer announces what it now holds right after its "done"
			// (isstable=1); until that arrives, what we know of it predates
			// its acquisition, and an "isstable=1" it sent during the
			// exchange (a 3.0.6 peer answers a late one of ours) would make
			// the groups it just took look like nobody's (seeds 3742, 7219).
			// If that message overtook the "done" (a lost packet and its
			// retransmission), it was applied already and is the peer's
			// state now: flux here would then last until the peer's next
			// change, and every standby request of its meanwhile would be
			// ignored as "in flux" (a CI run of the loss interop test).
			if !by.resource {
				m.otherStable = false
			}
		}
		m.sendResourcesHeld(true, "")
	}
	if ignored {
		m.logf(LevelError, "Ignored standby message '%s' from %s in state %d", info, from, orig)
	}
}

// goStandby is go_standby: me releases set, otherwise acquire its complement.
func (m *Manager) goStandby(me bool, set rscSet) {
	if me {
		prev := m.iHold
		m.otherStable = false
		m.iHold &^= set
		if m.actSet(true, set)&rscLocal != 0 {
			// We give our own groups away: an acquisition of them put off
			// earlier must not fire when the peer's claim goes (seed
			// 87863: it restarted a group right after the release).
			m.reqDeferred = false
		}
		m.sendResourcesHeld(false, "standby")
		m.queue(&job{kind: jobStandbyGive, set: m.actSet(true, set), reqSet: set, prevHold: prev})
		return
	}
	m.queue(&job{kind: jobStandbyTake, start: true, set: m.actSet(false, set), reqSet: set})
}

// cancelStandbyExchange leaves a standby exchange the peer has forgotten.
// A give or take job still running finishes on its own (finishJob then
// claims what it started instead of announcing "done").
func (m *Manager) cancelStandbyExchange() {
	m.logf(LevelInfo, "Cancelling pending standby operation")
	m.standby = standbyNot
	m.standbyUntil = time.Time{}
}

// abortStandbyAfterStopFailure: a group of the set could not be stopped, so
// "done" is never sent — the peer would start a group that may still run
// here. We roll back: keep the set, restart the groups we did stop, and
// send info=cancel. A heartbeatd peer leaves the exchange at once; a 3.0.6
// peer logs "Ignored standby message 'cancel'" and times out (60 min).
func (m *Manager) abortStandbyAfterStopFailure(j *job) {
	m.logf(LevelCrit, "Standby [%s] aborted: %s failed to stop; %s keeps the set and restarts the groups it stopped.",
		j.reqSet, strings.Join(j.fatal, ", "), m.cfg.Local)
	m.standbySet = j.reqSet
	m.sendStandbyMsg("cancel", "reason", cancelStopFailed)
	m.standby = standbyNot
	m.standbyUntil = time.Time{}
	m.iHold = j.prevHold
	m.otherStable = true
	m.queue(&job{kind: jobRollback, start: true, keys: j.running})
}

// The reason field of a heartbeatd "cancel" (a 3.0.6 peer ignores both).
const (
	cancelStopFailed = "stop-failed"
	cancelTimedOut   = "timed-out"
)

// parseAdminSet maps hb_standby/hb_takeover arguments.
func parseAdminSet(s string) (string, bool) {
	switch s {
	case "", "all":
		return "all", true
	case "local", "foreign", "failback":
		return s, true
	}
	return "", false
}

// standbyBlocker says why a standby of set cannot start now ("" = it can).
// Heartbeat checks the same conditions only when its own request loops
// back, after the peer already got it; checking first avoids leaving the
// peer waiting an hour in the OTHER state for a request we then ignore.
func (m *Manager) standbyBlocker(set rscSet, from string) string {
	if !m.nice {
		return "Standby mode only implemented when nice_failback on"
	}
	if m.shuttingDown() || m.rstate == stateShutdown {
		return "standby request ignored: shutdown in progress"
	}
	if !m.standbyUntil.IsZero() && m.now.Before(m.standbyUntil) {
		left := (m.standbyUntil.Sub(m.now).Milliseconds() + 999) / 1000
		return fmt.Sprintf("Standby in progress- new request from %s ignored [%d seconds left]", from, left)
	}
	if m.standby != standbyNot {
		return fmt.Sprintf("Standby in progress- new request from %s ignored", from)
	}
	if !m.peerAlive() {
		return fmt.Sprintf("standby request ignored: %s is not active, nobody can take the resources", m.cfg.Peer)
	}
	if !m.otherStable {
		return fmt.Sprintf("standby message [me] from %s ignored.  Other side is in flux.", from)
	}
	if m.rstate != stateStable || m.cur != nil || len(m.jobs) > 0 {
		return fmt.Sprintf("standby message [me] from %s ignored.  local resources in flux.", from)
	}
	for _, g := range m.groups {
		if g.state == FailedStop && m.setOf(g)&set != 0 {
			return fmt.Sprintf("standby [%s] refused: resource %s failed to stop on %s; it may still be active there. Fix it, then run `heartbeatd cleanup %s`", set, g.Key, m.cfg.Local, g.Key)
		}
	}
	return ""
}

// requestStandby is hb_standby SET: "failback" means foreign.
func (m *Manager) requestStandby(name string) (bool, string) {
	set := map[string]rscSet{"all": rscAll, "local": rscLocal, "foreign": rscForeign, "failback": rscForeign}[name]
	if why := m.standbyBlocker(set, m.cfg.Local); why != "" {
		m.logf(LevelWarn, "%s", why)
		return false, why
	}
	m.logf(LevelInfo, "Going standby [%s].", name)
	m.standbySet = set
	m.sendStandbyMsg("me")
	return true, fmt.Sprintf("Going standby [%s].", name)
}

func (m *Manager) onAdmin(e Admin) {
	switch e.Cmd {
	case CmdStandby:
		name, ok := parseAdminSet(e.Set)
		if !ok {
			m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("usage: hb_standby [all|foreign|local|failback]: unknown set %q", e.Set)})
			return
		}
		ok, text := m.requestStandby(name)
		m.emit(Reply{Cmd: e.Cmd, OK: ok, Text: text})
	case CmdTakeover:
		name, ok := parseAdminSet(e.Set)
		if !ok {
			m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("usage: hb_takeover [all|foreign|local|failback]: unknown set %q", e.Set)})
			return
		}
		if why := m.takeoverBlocker(); why != "" {
			m.logf(LevelWarn, "%s", why)
			m.emit(Reply{Cmd: e.Cmd, Text: why})
			return
		}
		wireSet := name
		if name == "failback" {
			// A 3.0.6 peer maps "failback" to a standby of everything (its
			// rc.d hb_takeover does not know it). "local" asks it for exactly
			// our home groups, which is what failback means.
			wireSet = "local"
		}
		msg := wire.New("hb_takeover")
		msg.Set("rsc_hold", wireSet)
		m.send(msg)
		m.emit(Reply{Cmd: e.Cmd, OK: true, Text: fmt.Sprintf("Asked %s to go standby for takeover [%s].", m.cfg.Peer, name)})
	case CmdCleanup:
		m.cleanup(e)
	default:
		m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("unknown resource command %q", e.Cmd)})
	}
}

func (m *Manager) takeoverBlocker() string {
	if !m.nice {
		return "Standby mode only implemented when nice_failback on"
	}
	if m.shuttingDown() {
		return "takeover ignored: shutdown in progress"
	}
	if !m.peerAlive() {
		return fmt.Sprintf("takeover ignored: %s is not active", m.cfg.Peer)
	}
	return ""
}

// onPeerTakeover is the peer's rc.d hb_takeover: run hb_standby with the
// mapped set. Heartbeat runs plain hb_standby (= all) for "failback"; we
// give back only the requester's home groups, which is what it asked for.
func (m *Manager) onPeerTakeover(msg *wire.Message) {
	set := msg.Value("rsc_hold")
	var name string
	switch set {
	case "", "all":
		name = "all"
	case "local":
		name = "foreign"
	case "foreign":
		name = "local"
	case "failback":
		name = "foreign"
		m.logf(LevelInfo, "hb_takeover failback from %s: going standby [foreign] (Heartbeat 3.0.6 would give up all)", m.cfg.Peer)
	default:
		m.logf(LevelError, "hb_takeover from %s with unknown rsc_hold %q ignored", m.cfg.Peer, set)
		return
	}
	m.requestStandby(name)
}

func (m *Manager) cleanup(e Admin) {
	g := m.byKey[e.Set]
	if g == nil {
		m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("cleanup: no resource group %q in haresources", e.Set)})
		return
	}
	if m.monitorCleanup(g, e.Cmd) {
		return
	}
	if g.state != FailedStop {
		m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("cleanup: resource group %s is %s, not failed-stop", g.Key, g.state)})
		return
	}
	g.state = Stopped
	m.logf(LevelInfo, "cleanup: resource group %s marked stopped on %s by the administrator.", g.Key, m.cfg.Local)
	m.emit(Reply{Cmd: e.Cmd, OK: true, Text: fmt.Sprintf("resource group %s marked stopped.", g.Key)})
	if m.shutdown == shutBlocked && m.failedBits() == rscNone {
		m.logf(LevelInfo, "All HA resources relinquished.")
		m.shutdown = shutReady
		m.emit(ShutdownReady{})
		return
	}
	if !m.shuttingDown() {
		m.sendResourcesHeld(m.isStable(), "")
	}
}

// scheduleFailureStandby: ResourceManager runs hb_standby 30 s after a
// failed start, guessing local/foreign from the text; we know the set.
func (m *Manager) scheduleFailureStandby(g *group) {
	if m.shuttingDown() {
		return
	}
	m.failureStandbySet |= m.setOf(g)
	m.failureStandbyAt = m.now.Add(m.cfg.FailureStandbyDelay)
}

func (m *Manager) runFailureStandby() {
	set := m.failureStandbySet
	m.failureStandbySet = rscNone
	var down []*group
	for _, g := range m.groups {
		if g.startFailed && g.state == Stopped {
			down = append(down, g)
		}
	}
	if len(down) == 0 || m.shuttingDown() {
		return
	}
	if m.nice && m.peerAlive() && m.failedStopIn(set) {
		// A group of the set failed to stop here: the set can never be
		// handed over (standbyBlocker refuses it until cleanup), so waiting
		// for the standby would leave the failed group down for good.
		m.logf(LevelWarn, "Standby [%s] after a failed start is impossible: a group of the set failed to stop on %s. Retrying the start here.", set, m.cfg.Local)
	} else if m.nice && m.peerAlive() {
		if why := m.standbyBlocker(set, m.cfg.Local); why != "" {
			// Transient (a transition is running): try again shortly.
			m.logf(LevelWarn, "%s", why)
			m.failureStandbySet = set
			m.failureStandbyAt = m.now.Add(5 * time.Second)
			return
		}
		m.requestStandby(set.String())
		return
	}
	// Nobody can take the groups (legacy has no standby, or the peer is
	// down): Heartbeat leaves them stopped. We retry a few times, since
	// many start failures are transient.
	var retry []string
	for _, g := range down {
		if m.nice && m.iHold&m.setOf(g) == 0 || !m.nice && !g.local && m.peerAlive() {
			g.startFailed = false
			continue // no longer ours: its home node asks for it itself
		}
		if g.retries >= maxStartRetries {
			m.logf(LevelCrit, "resource group %s failed to start %d times and nobody else can take it: it stays stopped. Fix it, then restart heartbeatd or run hb_takeover.", g.Key, g.retries+1)
			g.startFailed = false
			g.gaveUp = true
			continue
		}
		g.retries++
		if !m.nice && m.peerAlive() {
			// Legacy with a live peer: ask, as req_resource does; the peer
			// may hold it (or may have failed to stop it).
			m.logf(LevelWarn, "resource group %s failed to start: asking %s for it again (%d of %d).", g.Key, m.cfg.Peer, g.retries, maxStartRetries)
			msg := wire.New("ip-request")
			msg.Set("ipaddr", g.Key)
			m.send(msg)
			m.asked[g.Key] = true
			continue
		}
		m.logf(LevelWarn, "resource group %s failed to start and nobody else can take it: retrying (%d of %d).", g.Key, g.retries, maxStartRetries)
		retry = append(retry, g.Key)
	}
	if len(retry) > 0 {
		m.queue(&job{kind: jobRetryStart, start: true, keys: retry})
	}
}

// failureOutlook says, when a start has just failed, what happens next and
// when, so that the one error line per attempt also tells the admin how
// long the group stays down (runFailureStandby decides it for real).
func (m *Manager) failureOutlook(g *group) string {
	delay := m.cfg.FailureStandbyDelay.Round(time.Second)
	if m.shuttingDown() {
		return "shutdown in progress: it stays stopped"
	}
	if m.peerAlive() && m.nice && !m.failedStopIn(m.setOf(g)) {
		return fmt.Sprintf("handing it to %s (standby) in %s", m.cfg.Peer, delay)
	}
	if m.peerAlive() && !m.nice && g.local {
		return fmt.Sprintf("asking %s for it again in %s (attempt %d of %d failed)", m.cfg.Peer, delay, g.retries+1, maxStartRetries+1)
	}
	if m.peerAlive() && !m.nice {
		return fmt.Sprintf("its home node %s is alive and asks for it itself", m.cfg.Peer)
	}
	if g.retries >= maxStartRetries {
		return fmt.Sprintf("attempt %d of %d failed; it stays stopped", g.retries+1, maxStartRetries+1)
	}
	return fmt.Sprintf("attempt %d of %d failed; next attempt in %s", g.retries+1, maxStartRetries+1, delay)
}

// takeoverNote is the part of a failed start's line that says it was a
// takeover from a dead peer.
func (m *Manager) takeoverNote() string {
	if p := m.deadPeer(); p != "" {
		return " while taking over from dead node " + p
	}
	return ""
}

// failedStarts lists the keys whose last start failed.
func (m *Manager) failedStarts(keys []string) []string {
	var out []string
	for _, k := range keys {
		if g := m.byKey[k]; g != nil && g.startFailed {
			out = append(out, k)
		}
	}
	return out
}

// FailedStart is a group whose start failed here and what happens next,
// for `cl_status rscstatus` and `heartbeatd status`.
type FailedStart struct {
	Key string
	// Attempts made so far and the most that will be made here.
	Attempts, Max int
	// Next is when the next step (retry, standby, ask) is due; zero when
	// none is scheduled (it stays stopped, or waits for an event).
	Next time.Time
	// GaveUp: it failed Max times and stays stopped until hb_takeover or
	// a restart.
	GaveUp bool
}

// FailedStarts lists the groups whose last start failed, file order.
func (m *Manager) FailedStarts() []FailedStart {
	var out []FailedStart
	for _, g := range m.groups {
		if !g.startFailed && !g.gaveUp {
			continue
		}
		f := FailedStart{Key: g.Key, Attempts: g.retries + 1, Max: maxStartRetries + 1, GaveUp: g.gaveUp}
		// A group that then failed to stop waits for cleanup, not a timer.
		if g.startFailed && g.state == Stopped && m.failureStandbySet&m.setOf(g) != 0 {
			f.Next = m.failureStandbyAt
		}
		out = append(out, f)
	}
	return out
}

// failedStopIn: some group of set is failed-stop here.
func (m *Manager) failedStopIn(set rscSet) bool {
	return m.failedBits()&set != 0
}

// maxStartRetries bounds local retries of a group that failed to start.
const maxStartRetries = 3
