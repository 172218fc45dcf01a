package rm

import (
	"time"

	"heartbeatd/internal/nodestatus"
)

// GroupView is one haresources group as `heartbeatd status` shows it: its
// state here, and whether the peer holds it by the manager's bookkeeping.
type GroupView struct {
	Key   string
	Home  string // the node named on its haresources line
	State GroupState
	// PeerHolds: the group is stopped here and the peer runs it. In
	// nice_failback mode (auto_failback on|off) that is the peer's last
	// resource claim (other_holds_resources); in legacy mode, where the
	// peer claims nothing, a live peer is taken to hold its home groups.
	PeerHolds bool
	// StartFailed: the last start here failed and the group was released
	// again (GaveUp: too often; it is not retried here).
	StartFailed, GaveUp bool
	// MonitorRestarts counts the restarts here for monitor failures within
	// monitor_window. RefusedUntil is set while the group, handed to the
	// peer for monitor failures, is not taken back here (until
	// monitor_failure_timeout has passed, or `heartbeatd cleanup`).
	MonitorRestarts int
	RefusedUntil    time.Time
}

// Views lists every group, haresources file order, appended to dst (which
// may be reused between calls: the node asks after every event).
func (m *Manager) Views(dst []GroupView) []GroupView {
	peerUp := m.peerStatus == nodestatus.Active && !m.peerShutdone
	for _, g := range m.groups {
		v := GroupView{Key: g.Key, Home: g.Node, State: g.state, StartFailed: g.startFailed, GaveUp: g.gaveUp}
		for _, t := range m.mon.restarts[g.Key] {
			if m.now.Sub(t) < m.cfg.Monitor.Window {
				v.MonitorRestarts++
			}
		}
		if at, ok := m.mon.gaveAway[g.Key]; ok && m.now.Sub(at) < m.cfg.Monitor.FailureTimeout {
			v.RefusedUntil = at.Add(m.cfg.Monitor.FailureTimeout)
		}
		if g.state == Stopped {
			if m.nice {
				// The peer's claim is in its own terms: its "local" set
				// is our foreign one.
				v.PeerHolds = m.otherHolds&m.setOf(g).complement() != 0
			} else {
				v.PeerHolds = peerUp && !g.local
			}
		}
		dst = append(dst, v)
	}
	return dst
}

// Working reports that a job runs or waits, or that a dead peer is being
// fenced: a takeover under way has not ended yet.
func (m *Manager) Working() bool {
	return m.cur != nil || len(m.jobs) > 0 || m.fencing != ""
}
