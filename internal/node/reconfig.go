package node

import (
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rm"
)

// These apply a reload's safe changes. Each returns the actions the change
// caused, like Step.

// SetTimings changes keepalive, deadtime, warntime and initdead.
func (n *Node) SetTimings(now time.Time, tm membership.Timings) ([]Action, error) {
	n.now, n.out = now, nil
	acts, err := n.mem.SetTimings(now, tm)
	if err != nil {
		return nil, err
	}
	for _, a := range acts {
		n.onMem(a)
	}
	n.drain()
	return n.out, nil
}

// SetLinks replaces the set of media names membership tracks.
func (n *Node) SetLinks(names []string) error { return n.mem.SetLinks(names) }

// ReplaceGroups gives the resource manager a new haresources. Groups that
// changed while they run here or the peer holds them block the change
// (their keys are returned, nothing is replaced); otherwise the new
// digest is announced to the peer and compared.
func (n *Node) ReplaceGroups(now time.Time, f *haresources.File) (blocked []string, acts []Action) {
	n.now, n.out = now, nil
	if blocked := n.rm.ReplaceGroups(f.Groups); len(blocked) > 0 {
		return blocked, nil
	}
	n.cfg.Haresources = f
	n.cfg.RM.Groups = f.Groups
	n.runs.Reconfigure(f.Groups)
	n.digest.ours = digestOf(f)
	n.sendDigest(true)
	n.drain()
	return nil, n.out
}

// SetMonitor changes resource monitoring (the monitor directives). The
// schedules start again from now: a resource newly monitored gets one
// interval to settle, as after a start, and one no longer monitored is not
// checked again (a check under way ends normally). What monitoring has
// done so far, restarts within the window and groups handed away, is
// kept and judged by the new policy.
func (n *Node) SetMonitor(now time.Time, c MonitorConfig, p rm.MonitorPolicy) []Action {
	n.now, n.out = now, nil
	n.cfg.Monitor, n.cfg.RM.Monitor = c, p
	n.rm.SetMonitorPolicy(p)
	n.mon.due = nil
	n.monitorTick()
	n.drain()
	return n.out
}
