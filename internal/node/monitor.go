package node

import (
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/rm"
)

// MonitorConfig says which resources are monitored and how often (ha.cf
// monitor_interval and monitor, heartbeatd extensions). What a failure
// leads to is the resource manager's (rm.MonitorPolicy).
type MonitorConfig struct {
	// Interval between two monitor ops of each resource of a group that
	// runs here; 0 = off (the default: Heartbeat does not monitor).
	Interval time.Duration
	// Override sets the interval of single resources, by their token as
	// written in haresources or their script name (the token wins); 0
	// turns monitoring of that resource off.
	Override map[string]time.Duration
}

// IntervalOf is res's monitor interval, 0 if it is not monitored.
func (c MonitorConfig) IntervalOf(res haresources.Resource) time.Duration {
	if d, ok := c.Override[res.Raw]; ok {
		return d
	}
	if d, ok := c.Override[res.Script]; ok {
		return d
	}
	return c.Interval
}

// monitorState holds when each resource of a group running here is next
// checked, by group key, in the group's resource order (zero: never).
type monitorState struct {
	due map[string][]time.Time
}

// monitorTick schedules the monitor ops. A group is checked while the
// resource manager says it runs here with nothing in transition; its
// schedule begins one interval after that, so that a resource just
// started (or restarted after a failure) gets an interval to settle, and
// it is dropped as soon as the group is in transition again. Due
// resources of one group are checked in one grouprun job, left to right,
// queued like its start and stop, so a check never overlaps them.
func (n *Node) monitorTick() {
	if n.stopping {
		n.mon.due = nil
		return
	}
	for _, g := range n.cfg.RM.Groups {
		due := n.mon.due[g.Key]
		if !n.rm.Monitorable(g.Key) {
			delete(n.mon.due, g.Key)
			continue
		}
		if kind, busy := n.runs.Busy(g.Key); busy {
			if kind != grouprun.Monitor {
				delete(n.mon.due, g.Key)
			}
			continue
		}
		if len(due) != len(g.Resources) {
			n.scheduleMonitor(g)
			continue
		}
		var check []haresources.Resource
		for i, res := range g.Resources {
			if !due[i].IsZero() && !n.now.Before(due[i]) {
				check = append(check, res)
				due[i] = n.now.Add(n.cfg.Monitor.IntervalOf(res))
			}
		}
		if len(check) > 0 {
			n.submit(grouprun.Job{Kind: grouprun.Monitor, Key: g.Key, Resources: check})
		}
	}
}

func (n *Node) scheduleMonitor(g haresources.Group) {
	due := make([]time.Time, len(g.Resources))
	any := false
	for i, res := range g.Resources {
		if d := n.cfg.Monitor.IntervalOf(res); d > 0 {
			due[i] = n.now.Add(d)
			any = true
		}
	}
	if !any {
		return
	}
	if n.mon.due == nil {
		n.mon.due = map[string][]time.Time{}
	}
	n.mon.due[g.Key] = due
}

// monitorWake is the earliest monitor op due, zero if none. A group with
// a job under way is left out: what falls due meanwhile is run when the
// job ends (that Step's monitorTick), and a wake-up in the past would only
// spin the loop until then.
func (n *Node) monitorWake() time.Time {
	var w time.Time
	for key, due := range n.mon.due {
		if _, busy := n.runs.Busy(key); busy {
			continue
		}
		for _, t := range due {
			if !t.IsZero() && (w.IsZero() || t.Before(w)) {
				w = t
			}
		}
	}
	return w
}

// monitorDone hands a failed monitor job to the resource manager, which
// decides between a restart here and a handover.
func (n *Node) monitorDone(f grouprun.Finished) {
	if f.OK {
		return
	}
	n.queue = append(n.queue, rm.MonitorFailed{Key: f.Job.Key, Resource: f.Resource, Output: f.Output})
}
