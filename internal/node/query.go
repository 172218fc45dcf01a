package node

import (
	"fmt"
	"slices"
	"time"

	"heartbeatd/internal/membership"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/rm"
)

// Group states as `heartbeatd status` spells them. They describe the
// group wherever it runs, as far as this node knows.
const (
	GroupRunning  = "running"  // running here, or claimed by the peer
	GroupStarting = "starting" // its start is under way here
	GroupStopping = "stopping" // its stop is under way here
	// GroupFailed: a stop failed here (the group may still be active and
	// waits for `heartbeatd cleanup`), or its last start failed here and
	// nobody runs it.
	GroupFailed  = "failed"
	GroupStopped = "stopped" // runs nowhere
)

// GroupStatus is one haresources group as `heartbeatd status` shows it.
type GroupStatus struct {
	Key  string
	Home string
	// Resources are the group's resources as written in haresources.
	Resources []string
	// Owner is the node running (or starting, stopping, failed on) the
	// group; empty when it runs nowhere.
	Owner string
	State string
	// Since is when this node first saw the group in State with Owner
	// (the node's start when it has not changed since).
	Since time.Time
	// MonitorRestarts and RefusedUntil: see rm.GroupView.
	MonitorRestarts int
	RefusedUntil    time.Time
}

// Failover is one takeover of a dead peer's groups, from the moment the
// peer was declared dead to the end of the last start it caused.
type Failover struct {
	Peer   string
	Reason string
	// LastHeard is when the peer's last status arrived: Began minus
	// LastHeard is how long the death took to be noticed.
	LastHeard time.Time
	Began     time.Time // the peer was declared dead
	Ended     time.Time // the last group start of the takeover ended
	// Groups were started here during the takeover, haresources order.
	Groups []string
	// OK: every one of them was running when it ended.
	OK bool
}

// Duration is how long the takeover took once the death was declared.
func (f Failover) Duration() time.Duration { return f.Ended.Sub(f.Began) }

// facts is what the node records about its own history for the status
// queries: when each group entered its state, and the takeovers. observe
// keeps it after every event; the protocol never reads it.
type facts struct {
	views     []rm.GroupView // reused between events
	groups    map[string]groupFact
	peer      nodestatus.Status // the peer's membership status at the last event
	pending   *Failover
	last      Failover
	failovers int
	fence     FenceStats
	changes   uint64 // events that changed what the status shows
}

// FenceStats counts the fencing operations the resource manager asked
// for and their outcomes.
type FenceStats struct {
	Attempts, Succeeded, Failed int
	// The last outcome; LastNode is empty when there was none.
	LastNode string
	LastAt   time.Time
	LastOK   bool
}

type groupFact struct {
	state, owner string
	since        time.Time
}

// observe brings facts up to date at the end of event ev.
func (n *Node) observe(ev Event) {
	f := &n.facts
	if f.groups == nil {
		f.groups = map[string]groupFact{}
	}
	changed := false
	if e, ok := ev.(rmEvent); ok {
		if d, ok := e.Event.(rm.FenceDone); ok {
			f.fence.LastNode, f.fence.LastAt, f.fence.LastOK = d.Node, n.now, d.OK
			changed = true
			if d.OK {
				f.fence.Succeeded++
			} else {
				f.fence.Failed++
			}
		}
	}
	for _, a := range n.out {
		switch a := a.(type) {
		case rmAction:
			if _, ok := a.Action.(rm.Fence); ok {
				f.fence.Attempts++
				changed = true
			}
		case StatusChanged:
			changed = true
		}
	}
	// The death first: rm starts the takeover in the same event.
	prev := f.peer
	f.peer = n.mem.Status(n.peer)
	if n.peer != "" && f.peer == membership.StatusDead && (prev == membership.StatusUp || prev == membership.StatusActive) {
		heard := n.mem.LastHeard(n.peer)
		f.pending = &Failover{Peer: n.peer, Began: n.now, LastHeard: heard,
			Reason: fmt.Sprintf("node %s dead: no status for %v", n.peer, n.now.Sub(heard).Round(time.Millisecond))}
	}
	f.views = n.rm.Views(f.views[:0])
	for _, v := range f.views {
		st, owner := n.groupState(v)
		if g, ok := f.groups[v.Key]; ok && g.state == st && g.owner == owner {
			continue
		}
		f.groups[v.Key] = groupFact{state: st, owner: owner, since: n.now}
		changed = true
		if f.pending != nil && st == GroupStarting && !slices.Contains(f.pending.Groups, v.Key) {
			f.pending.Groups = append(f.pending.Groups, v.Key)
		}
	}
	if len(f.groups) > len(f.views) { // a reload dropped groups
		for k := range f.groups {
			if !slices.ContainsFunc(f.views, func(v rm.GroupView) bool { return v.Key == k }) {
				delete(f.groups, k)
			}
		}
	}
	p := f.pending
	switch {
	case p == nil:
	case len(p.Groups) == 0:
		// Nothing started yet: fencing or a delay under way (rm is not
		// idle), or nothing to take (the peer had given its groups up).
		// A peer back before anything started caused no failover.
		if f.peer != membership.StatusDead || (n.rm.Idle() && n.runs.Idle()) {
			f.pending = nil
		}
	case !n.rm.Working() && n.runs.Idle():
		p.Ended, p.OK = n.now, true
		for _, k := range p.Groups {
			p.OK = p.OK && f.groups[k].state == GroupRunning && f.groups[k].owner == n.local
		}
		f.last, f.pending = *p, nil
		f.failovers++
		changed = true
	}
	if changed || f.peer != prev {
		f.changes++
	}
}

// groupState is a group's state and owner from the resource manager's view.
func (n *Node) groupState(v rm.GroupView) (state, owner string) {
	switch v.State {
	case rm.Running:
		return GroupRunning, n.local
	case rm.Starting:
		return GroupStarting, n.local
	case rm.Stopping:
		return GroupStopping, n.local
	case rm.FailedStop:
		return GroupFailed, n.local
	}
	switch {
	case v.PeerHolds:
		return GroupRunning, n.peer
	case v.StartFailed || v.GaveUp:
		return GroupFailed, ""
	}
	return GroupStopped, ""
}

// Groups lists every haresources group, file order.
func (n *Node) Groups() []GroupStatus {
	res := map[string][]string{}
	for _, g := range n.cfg.RM.Groups {
		for _, r := range g.Resources {
			res[g.Key] = append(res[g.Key], r.Raw)
		}
	}
	var out []GroupStatus
	for _, v := range n.rm.Views(nil) {
		st, owner := n.groupState(v)
		since := n.now // not observed yet: a reload added it just now
		if g, ok := n.facts.groups[v.Key]; ok && g.state == st && g.owner == owner {
			since = g.since
		}
		out = append(out, GroupStatus{Key: v.Key, Home: v.Home, Resources: res[v.Key], Owner: owner, State: st, Since: since,
			MonitorRestarts: v.MonitorRestarts, RefusedUntil: v.RefusedUntil})
	}
	return out
}

// LinkStats reports one medium of one node (zero for one never heard on).
func (n *Node) LinkStats(node, link string) LinkStats { return n.meter.stats(n.now, node, link) }

// Sent counts the messages the node handed to the shell to send on every
// medium.
func (n *Node) Sent() uint64 { return n.meter.sent }

// LastFailover is the last completed takeover from a dead peer, and how
// many there were since the node started (0: none, and f is zero).
func (n *Node) LastFailover() (f Failover, count int) {
	return n.facts.last, n.facts.failovers
}

// Changes counts the events that changed a group's state or owner, a
// node's status, the fencing counts or the failover record: the metrics
// publish a new snapshot at once when it moves.
func (n *Node) Changes() uint64 { return n.facts.changes }

// Fencing counts the fencing operations since the node started.
func (n *Node) Fencing() FenceStats { return n.facts.fence }

// Local and Peer name the two nodes.
func (n *Node) Local() string { return n.local }
func (n *Node) Peer() string  { return n.peer }

// Now is the time of the last event the node was given.
func (n *Node) Now() time.Time { return n.now }
