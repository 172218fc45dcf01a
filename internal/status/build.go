package status

import (
	"time"

	"heartbeatd/internal/node"
)

// Build takes the snapshot from the running node at now. It only reads:
// the loop calls it between two events.
func Build(version string, n *node.Node, now time.Time) *Snapshot {
	s := &Snapshot{Schema: Schema, Time: stamp(now), Version: version, Local: n.Local(),
		Resources: n.RM().RscStatus(), Nodes: []Node{}, Groups: []Group{}}
	for _, d := range n.Membership().Details() {
		sn := Node{Name: d.Name, Status: string(d.Status), Type: d.Type, Local: d.Name == n.Local(),
			Generation: d.Generation, LastHeard: optStamp(d.LastHeard), Links: []Link{}}
		for _, l := range d.Links {
			ls := n.LinkStats(d.Name, l.Name)
			sn.Links = append(sn.Links, Link{Name: l.Name, Status: string(l.Status), LastHeard: optStamp(l.LastHeard),
				LossPct: roundPct(ls.LossPct), Late: ls.Late, Received: ls.Received, Lost: ls.Lost})
		}
		s.Nodes = append(s.Nodes, sn)
	}
	for _, g := range n.Groups() {
		res := g.Resources
		if res == nil {
			res = []string{}
		}
		s.Groups = append(s.Groups, Group{Key: g.Key, Home: g.Home, Resources: res, Owner: g.Owner,
			State: g.State, Since: stamp(g.Since), MonitorRestarts: g.MonitorRestarts, RefusedUntil: optStamp(g.RefusedUntil)})
	}
	fs := n.Fencing()
	s.Fencing = Fencing{Attempts: fs.Attempts, Succeeded: fs.Succeeded, Failed: fs.Failed}
	for _, d := range n.FenceDevices() {
		st, at := "failing", d.Checked
		if d.OK {
			st = "ok"
		}
		s.Fencing.Devices = append(s.Fencing.Devices, FenceDevice{Name: d.Name, State: st, Checked: &at})
	}
	if fs.LastNode != "" {
		s.Fencing.Last = &Fence{Node: fs.LastNode, At: stamp(fs.LastAt), OK: fs.LastOK}
	}
	if f, count := n.LastFailover(); count > 0 {
		s.Failovers = count
		groups := append([]string{}, f.Groups...)
		s.LastFailover = &Failover{Peer: f.Peer, Reason: f.Reason, PeerLastHeard: optStamp(f.LastHeard),
			Began: stamp(f.Began), Ended: stamp(f.Ended), DurationMS: f.Duration().Milliseconds(), Groups: groups, OK: f.OK}
	}
	return s
}

// stamp drops the monotonic reading and keeps milliseconds: the JSON
// shows wall-clock times a person or a script compares with the logs.
func stamp(t time.Time) time.Time { return t.Round(time.Millisecond) }

func optStamp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

func roundPct(p float64) float64 { return float64(int64(p*10+0.5)) / 10 }
