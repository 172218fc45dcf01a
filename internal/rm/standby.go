package rm

import (
	"fmt"
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
	if fromMe {
		from = m.cfg.Local
	}
	rtype := rscAll
	if v, ok := msg.Get("rsc_hold"); ok {
		rtype, _ = parseRsc(v)
		if _, known := parseRsc(v); !known {
			m.logf(LevelError, "encode_resources: bad resource type [%s]", v)
		}
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
		m.otherStable = false
		m.iHold &^= set
		m.sendResourcesHeld(false, "standby")
		m.queue(&job{kind: jobStandbyGive, set: m.actSet(true, set), reqSet: set})
		return
	}
	m.queue(&job{kind: jobStandbyTake, start: true, set: m.actSet(false, set), reqSet: set})
}

// abortStandbyAfterStopFailure: a group of the set could not be stopped, so
// "done" is never sent — the peer would start a group that may still run
// here. We re-announce what we hold; the peer's standby times out.
func (m *Manager) abortStandbyAfterStopFailure(j *job) {
	m.logf(LevelCrit, "Standby [%s] aborted: %d group(s) failed to stop; %s keeps them.", j.reqSet, len(j.fatal), m.cfg.Local)
	m.standby = standbyNot
	m.standbyUntil = time.Time{}
	m.iHold |= m.actSet(true, j.reqSet) & m.failedBits()
	m.otherStable = true
	m.sendResourcesHeld(true, "")
}

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
	if m.shutdownRunning || m.rstate == stateShutdown {
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
	case "standby":
		name, ok := parseAdminSet(e.Set)
		if !ok {
			m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("usage: hb_standby [all|foreign|local|failback]: unknown set %q", e.Set)})
			return
		}
		ok, text := m.requestStandby(name)
		m.emit(Reply{Cmd: e.Cmd, OK: ok, Text: text})
	case "takeover":
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
	case "cleanup":
		m.cleanup(e)
	default:
		m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("unknown resource command %q", e.Cmd)})
	}
}

func (m *Manager) takeoverBlocker() string {
	if !m.nice {
		return "Standby mode only implemented when nice_failback on"
	}
	if m.shutdownRunning {
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
	if g.state != FailedStop {
		m.emit(Reply{Cmd: e.Cmd, Text: fmt.Sprintf("cleanup: resource group %s is %s, not failed-stop", g.Key, g.state)})
		return
	}
	g.state = Stopped
	m.logf(LevelInfo, "cleanup: resource group %s marked stopped on %s by the administrator.", g.Key, m.cfg.Local)
	m.emit(Reply{Cmd: e.Cmd, OK: true, Text: fmt.Sprintf("resource group %s marked stopped.", g.Key)})
	if m.shutdownBlocked && m.failedBits() == rscNone {
		m.shutdownBlocked = false
		m.logf(LevelInfo, "All HA resources relinquished.")
		m.shutdownReadySet = true
		m.emit(ShutdownReady{})
		return
	}
	if !m.shutdownRunning {
		m.sendResourcesHeld(m.isStable(), "")
	}
}

// scheduleFailureStandby: ResourceManager runs hb_standby 30 s after a
// failed start, guessing local/foreign from the text; we know the set.
func (m *Manager) scheduleFailureStandby(g *group) {
	if m.shutdownRunning {
		return
	}
	m.failureStandbySet |= m.setOf(g)
	m.failureStandbyAt = m.now.Add(m.cfg.FailureStandbyDelay)
}

func (m *Manager) runFailureStandby() {
	set := m.failureStandbySet
	m.failureStandbySet = rscNone
	stillDown := false
	for _, g := range m.groups {
		if m.setOf(g)&set != 0 && g.state == Stopped {
			stillDown = true
		}
	}
	if !stillDown || m.shutdownRunning {
		return
	}
	name := set.String()
	if !m.nice {
		m.logf(LevelWarn, "Standby mode only implemented when nice_failback on")
		return
	}
	if !m.peerAlive() {
		m.logf(LevelWarn, "resource group(s) of set [%s] failed to start and %s is not active: they stay stopped.", name, m.cfg.Peer)
		return
	}
	if why := m.standbyBlocker(set, m.cfg.Local); why != "" {
		// Transient (a transition is running): try again shortly.
		m.logf(LevelWarn, "%s", why)
		m.failureStandbySet = set
		m.failureStandbyAt = m.now.Add(5 * time.Second)
		return
	}
	m.requestStandby(name)
}
