package rm

import (
	"fmt"
	"time"
)

// Resource monitoring (ha.cf monitor_interval, a heartbeatd extension):
// the node runs a monitor op on each resource of a group running here and
// tells the manager when one fails (MonitorFailed). The manager decides
// what happens, as Pacemaker's migration-threshold does:
//
//   - up to MaxRestarts times within Window, the group is restarted here
//     (stopped right to left, started left to right, through the normal
//     jobs, so a failed start or stop follows the usual failure policy);
//   - past that, with a live peer in nice_failback mode, the group's set is
//     handed to the peer with hb_standby semantics;
//   - with no one to take it (peer dead, legacy mode), it is restarted here
//     again at every failure: a service that comes back for a while is
//     better than one left down on the only node that can run it;
//   - a node that handed a group away for failures refuses to take it back
//     (a standby request or an auto_failback from the peer) for
//     FailureTimeout or until `heartbeatd cleanup KEY`; when the peer then
//     fails too and cannot hand it back, the group is stopped there with a
//     CRIT line instead of bouncing between the nodes.
//
// With monitoring off (the default) no MonitorFailed ever arrives and none
// of this runs.

// MonitorPolicy is what to do about monitor failures.
type MonitorPolicy struct {
	// MaxRestarts local restarts within Window before the group is handed
	// to the peer (monitor_max_restarts); 0 hands it over at once.
	MaxRestarts int
	Window      time.Duration // monitor_window
	// FailureTimeout: how long a node that gave a group away for failures
	// refuses to take it back (monitor_failure_timeout).
	FailureTimeout time.Duration
}

// Defaults of MonitorPolicy's zero fields (the ha.cf defaults).
const (
	DefaultMonitorMaxRestarts    = 3
	DefaultMonitorWindow         = 10 * time.Minute
	DefaultMonitorFailureTimeout = 30 * time.Minute
)

// setDefaults fills a zero policy with the defaults; in a policy that
// sets anything, MaxRestarts 0 means "hand over at the first failure".
func (p *MonitorPolicy) setDefaults() {
	if *p == (MonitorPolicy{}) {
		p.MaxRestarts = DefaultMonitorMaxRestarts
	}
	if p.Window == 0 {
		p.Window = DefaultMonitorWindow
	}
	if p.FailureTimeout == 0 {
		p.FailureTimeout = DefaultMonitorFailureTimeout
	}
}

// SetMonitorPolicy replaces the policy (a reload). The failures on record
// are kept: the new window and timeout apply to them from now on.
func (m *Manager) SetMonitorPolicy(p MonitorPolicy) {
	p.setDefaults()
	m.cfg.Monitor = p
}

// MonitorFailed: the monitor op of Resource (as written in haresources)
// of the group Key found it unhealthy; Output is what it said.
type MonitorFailed struct{ Key, Resource, Output string }

func (MonitorFailed) isEvent() {}

// monitorBook is the manager's memory of monitor failures, by group key.
type monitorBook struct {
	restarts map[string][]time.Time // local restarts, pruned to the window
	gaveAway map[string]time.Time   // handed to the peer for failures at
	handing  map[string]time.Time   // a standby for failures asked at
}

func (b *monitorBook) init() {
	if b.restarts == nil {
		b.restarts = map[string][]time.Time{}
		b.gaveAway = map[string]time.Time{}
		b.handing = map[string]time.Time{}
	}
}

// Monitorable: a monitor of group key may run now. Only a group that runs
// here while nothing is in transition is checked: a start, stop or standby
// under way owns the group, and what it leaves is checked one interval
// after it ends.
func (m *Manager) Monitorable(key string) bool {
	g := m.byKey[key]
	return g != nil && g.state == Running && !m.shuttingDown() && m.shutdown == shutNone &&
		m.cur == nil && len(m.jobs) == 0 && m.standby == standbyNot && m.standbyUntil.IsZero()
}

func (m *Manager) onMonitorFailed(e MonitorFailed) {
	m.mon.init()
	g := m.byKey[e.Key]
	if g == nil || g.state != Running {
		return // stopped or moved meanwhile: nothing to restart
	}
	m.logf(LevelError, "Resource %s failed its monitor check: %s", e.Resource, e.Output)
	if !m.Monitorable(e.Key) {
		m.logf(LevelInfo, "resource group %s: a transition is under way; it is checked again after it.", e.Key)
		return
	}
	pol := m.cfg.Monitor
	recent := m.recentRestarts(e.Key)
	if len(recent) < pol.MaxRestarts {
		m.restartForMonitor(g, fmt.Sprintf("restart %d of %d within %s", len(recent)+1, pol.MaxRestarts, pol.Window))
		return
	}
	set := m.setOf(g)
	if m.nice && m.peerAlive() {
		why := m.standbyBlocker(set, m.cfg.Local)
		if why == "" {
			m.logf(LevelError, "resource group %s failed its monitor check %d times within %s on %s: handing it to %s (standby [%s]).",
				e.Key, len(recent)+1, pol.Window, m.cfg.Local, m.cfg.Peer, set)
			m.mon.handing[e.Key] = m.now
			m.mon.gaveAway[e.Key] = m.now
			m.requestStandby(set.String())
			return
		}
		m.logf(LevelWarn, "resource group %s cannot be handed to %s now (%s): restarting it here.", e.Key, m.cfg.Peer, why)
	}
	if !m.nice || !m.peerAlive() {
		why := fmt.Sprintf("%s is not active", m.cfg.Peer)
		if !m.nice {
			why = "auto_failback legacy has no standby"
		}
		m.logf(LevelWarn, "resource group %s failed its monitor check %d times within %s and nobody else can take it (%s): restarting it here again.",
			e.Key, len(recent)+1, pol.Window, why)
	}
	m.restartForMonitor(g, "")
}

// recentRestarts prunes and returns the group's restarts within the window.
func (m *Manager) recentRestarts(key string) []time.Time {
	var keep []time.Time
	for _, t := range m.mon.restarts[key] {
		if m.now.Sub(t) < m.cfg.Monitor.Window {
			keep = append(keep, t)
		}
	}
	m.mon.restarts[key] = keep
	return keep
}

// restartForMonitor stops and starts the group here through two jobs, so a
// failed stop or start is handled as any other (FailedStop, the start
// failure policy). The group's set stays claimed meanwhile: the peer does
// not take a group that is only being restarted.
func (m *Manager) restartForMonitor(g *group, count string) {
	m.mon.restarts[g.Key] = append(m.mon.restarts[g.Key], m.now)
	if count != "" {
		m.logf(LevelWarn, "Restarting resource group %s on %s (%s).", g.Key, m.cfg.Local, count)
	} else {
		m.logf(LevelWarn, "Restarting resource group %s on %s.", g.Key, m.cfg.Local)
	}
	m.queue(&job{kind: jobRetryStart, keys: []string{g.Key}})
	m.queue(&job{kind: jobRetryStart, start: true, keys: []string{g.Key}})
}

// monitorTick follows a standby asked for after monitor failures. Once the
// exchange is over, the group is stopped here (handed over) or still runs
// here: the peer did not answer, which a heartbeatd peer does when it gave
// the group away for failures itself. Then the group fails on both nodes;
// it is stopped here with a CRIT line rather than bounced back and forth.
func (m *Manager) monitorTick() {
	for _, g := range m.groups { // file order: the same lines every run
		key := g.Key
		_, ok := m.mon.handing[key]
		// The request's own copy is applied before the manager's next
		// Tick, so a standby not under way here means it is over.
		if !ok || m.standby != standbyNot || !m.standbyUntil.IsZero() {
			continue
		}
		delete(m.mon.handing, key)
		switch {
		case g.state == Stopped:
			m.logf(LevelInfo, "resource group %s handed to %s after monitor failures; %s does not take it back for %s (or until `heartbeatd cleanup %s`).",
				key, m.cfg.Peer, m.cfg.Local, m.cfg.Monitor.FailureTimeout, key)
			delete(m.mon.restarts, key)
		case g.state != Running || !m.peerAlive() || m.shuttingDown():
			// The peer died or restarted meanwhile (it runs here again,
			// and is restarted at its next failure), or a stop failed.
			delete(m.mon.gaveAway, key)
		default:
			delete(m.mon.gaveAway, key)
			m.logf(LevelCrit, "resource group %s keeps failing its monitor check on %s and %s did not take it (it failed there too, or was in transition): "+
				"stopping it; it stays stopped. Fix it, then run `heartbeatd cleanup %s`.", key, m.cfg.Local, m.cfg.Peer, key)
			g.gaveUp = true
			m.queue(&job{kind: jobRetryStart, keys: []string{key}})
		}
	}
}

// monitorRefuses: a standby request of the peer would make us acquire
// acquire, which holds a group we gave away for monitor failures less than
// FailureTimeout ago. We leave the request unanswered, as a node in
// transition does; the peer's request times out and the group stays there.
func (m *Manager) monitorRefuses(acquire rscSet, from string) bool {
	for _, g := range m.groups {
		key := g.Key
		at, ok := m.mon.gaveAway[key]
		if !ok || m.setOf(g)&acquire == 0 {
			continue
		}
		if m.now.Sub(at) >= m.cfg.Monitor.FailureTimeout {
			delete(m.mon.gaveAway, key)
			continue
		}
		m.logf(LevelWarn, "standby request [%s] from %s refused: resource group %s failed its monitor check here and was handed away %s ago; "+
			"it is not taken back for %s (or run `heartbeatd cleanup %s`).", acquire, from, key, m.now.Sub(at).Round(time.Second), m.cfg.Monitor.FailureTimeout, key)
		return true
	}
	return false
}

// monitorCleanup is `heartbeatd cleanup KEY` for a group with monitor
// history: its restarts are forgotten, it may be taken back, and a group
// stopped after failing on both nodes may start again (adoptOrphans starts
// it where it is claimed). False if the group has no such history.
func (m *Manager) monitorCleanup(g *group, cmd AdminCmd) bool {
	_, away := m.mon.gaveAway[g.Key]
	_, restarts := m.mon.restarts[g.Key]
	_, handing := m.mon.handing[g.Key]
	stopped := g.gaveUp && g.state == Stopped
	if !away && !restarts && !handing && !stopped || g.state == FailedStop {
		return false
	}
	// A handover under way goes on, but if the peer does not take the
	// group, it keeps running here instead of being stopped.
	delete(m.mon.handing, g.Key)
	delete(m.mon.gaveAway, g.Key)
	delete(m.mon.restarts, g.Key)
	g.gaveUp = false
	m.logf(LevelInfo, "cleanup: monitor failures of resource group %s forgotten on %s by the administrator.", g.Key, m.cfg.Local)
	m.emit(Reply{Cmd: cmd, OK: true, Text: fmt.Sprintf("monitor failures of resource group %s forgotten.", g.Key)})
	return true
}
