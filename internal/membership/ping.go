package membership

import (
	"fmt"
	"strings"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// Ping nodes (ha.cf `ping HOST`, `ping_group NAME HOST...`) are Heartbeat's
// pseudo-members: a router or two the cluster pings to tell "my network is
// gone" from "my peer is gone" (ipfail asks how many answer). The ping
// medium sends each one an ICMP echo whose payload is the status we want
// back from it, t=NS_st st=ping info=ping src=<node>, signed; the echo
// reply is that status, and it is all a ping node ever says.
//
// They live beside the normal nodes, not among them: they have no
// sequence numbers, no generation and no uuid, they are not asked for
// the node list, and they never reach the resource manager, so mach_down
// and takeover cannot mistake one for the peer (Heartbeat's mach_down
// ignores them too). A ping node has one link, the ping medium of the
// same name, as in Heartbeat.

// StatusPing is a ping node's status while it answers.
const StatusPing = nodestatus.Ping

// Node types, as cl_status nodetype shows them.
const (
	TypeNormal = "normal"
	TypePing   = "ping"
)

// PingNodeStatus reports a ping node's change between init, ping and dead.
// It is kept apart from NodeStatus, which the node core hands to the
// resource manager as the peer's status.
type PingNodeStatus struct {
	Node     string
	Old, New nodestatus.Status
}

func (PingNodeStatus) isAction() {}

type pingNode struct {
	name      string            // as configured
	status    nodestatus.Status // init, ping or dead
	lastHeard time.Time         // zero: never
	link      link
}

// since is when p was last heard from; a node never heard from counts
// from our start, as the normal nodes do: one that never answers is dead
// a dead time after it.
func (t *Table) since(p *pingNode) time.Time {
	if p.lastHeard.Before(t.startedAt) {
		return t.startedAt
	}
	return p.lastHeard
}

// pingTable is every ping node of the table, ha.cf order.
type pingTable struct {
	nodes  []*pingNode
	byName map[string]*pingNode // lower case
}

// newPings checks the ping part of c and builds the ping table.
func newPings(c *Config) (pingTable, error) {
	pt := pingTable{byName: map[string]*pingNode{}}
	if len(c.PingNames) > 0 && c.Deadping <= 2*c.Keepalive {
		return pt, fmt.Errorf("membership: deadping %v must be more than twice keepalive %v", c.Deadping, c.Keepalive)
	}
	for _, name := range c.PingNames {
		key := strings.ToLower(name)
		if name == "" || strings.ContainsAny(name, " \t") {
			return pt, fmt.Errorf("membership: ping node name %q is empty or has blanks", name)
		}
		if pt.byName[key] != nil || containsFold(c.Nodes, name) {
			return pt, fmt.Errorf("membership: ping node %q listed twice or also a node", name)
		}
		p := &pingNode{name: name, status: StatusInit, link: link{name: name, status: LinkDead}}
		pt.nodes = append(pt.nodes, p)
		pt.byName[key] = p
	}
	// ttl counts ping nodes (Heartbeat: 3 in a two-node cluster, 4 with
	// one ping node).
	c.PingNodes = max(c.PingNodes, len(c.PingNames))
	return pt, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// pingDeadtime is how long a ping node may stay silent: deadping once
// the cluster is up, initdead before (Heartbeat's check_for_timeouts).
func (t *Table) pingDeadtime() time.Duration {
	if !t.linksUp {
		return max(t.cfg.Initdead, t.cfg.Deadping)
	}
	return t.cfg.Deadping
}

// pingReceived takes m if its src is a ping node, and reports whether it
// did. Only the echoed ping status on the node's own medium counts:
// anything else claiming to come from a ping node is dropped (a peer has
// no business speaking for a router). An echo whose ts is older than the
// ping dead time is an old reply (or a replayed one) and says nothing
// about the node now.
func (t *Table) pingReceived(now time.Time, m *wire.Message, linkName string) bool {
	if m == nil || len(t.pings.nodes) == 0 {
		return false
	}
	p := t.pings.byName[strings.ToLower(m.Value("src"))]
	if p == nil {
		return false
	}
	t.stats.Received++
	ts, ok := parseHex(m.Value("ts"))
	if m.Type() != "NS_st" || nodestatus.Status(m.Value("st")) != StatusPing || m.Value("info") != "ping" || linkName != p.link.name || !ok {
		t.stats.Malformed++
		return true
	}
	if oldest := now.Add(-t.pingDeadtime()).Unix() - 1; int64(ts) < oldest {
		t.stats.Stale++
		return true
	}
	t.stats.Accepted++
	p.lastHeard = now
	if p.link.status != LinkUp {
		p.link.status = LinkUp
		t.logf("info", "Link %s:%s up.", p.name, p.link.name)
		t.emit(LinkStatus{Node: p.name, Link: p.link.name, Status: LinkUp})
	}
	p.link.lastUpdate = now
	if p.status != StatusPing {
		t.logf("info", "Status update for node %s: status %s", p.name, StatusPing)
		t.emit(PingNodeStatus{Node: p.name, Old: p.status, New: StatusPing})
		p.status = StatusPing
	}
	return true
}

// checkPings declares silent ping nodes dead, judged as of the last
// dead-check grid point like the normal nodes (checkTimeouts). It runs
// before tick moves the grid on.
func (t *Table) checkPings(now time.Time) {
	if len(t.pings.nodes) == 0 || !t.started || now.Before(t.nextDeadCheck) {
		return
	}
	g := t.lastGridPoint(now)
	dt := t.pingDeadtime()
	for _, p := range t.pings.nodes {
		if p.status == StatusDead || g.Sub(t.since(p)) <= dt {
			continue
		}
		t.logf("WARN", "node %s: is dead", p.name)
		t.emit(PingNodeStatus{Node: p.name, Old: p.status, New: StatusDead})
		p.status = StatusDead
		if p.link.status != LinkDead {
			p.link.status = LinkDead
			t.logf("info", "Link %s:%s dead.", p.name, p.link.name)
			t.emit(LinkStatus{Node: p.name, Link: p.link.name, Status: LinkDead})
		}
	}
}

// pingWake is the dead-check grid point at which the first live ping node
// would be found dead; zero when none can die.
func (t *Table) pingWake() time.Time {
	var w time.Time
	dt := t.pingDeadtime()
	for _, p := range t.pings.nodes {
		if p.status == StatusDead {
			continue
		}
		if x := t.deadCheckAfter(t.since(p).Add(dt)); w.IsZero() || x.Before(w) {
			w = x
		}
	}
	return w
}

// pingInfos are the ping nodes as cl_status listnodes shows them.
func (t *Table) pingInfos() []NodeInfo {
	out := make([]NodeInfo, 0, len(t.pings.nodes))
	for _, p := range t.pings.nodes {
		out = append(out, NodeInfo{Name: p.name, Status: p.status, Type: TypePing})
	}
	return out
}

// pingLinks is a ping node's one link, or nil when name is no ping node.
func (t *Table) pingLinks(name string) []LinkInfo {
	p := t.pings.byName[strings.ToLower(name)]
	if p == nil {
		return nil
	}
	return []LinkInfo{{Name: p.link.name, Status: p.link.status}}
}

// PingNodes lists the ping nodes with their status (ha.cf order).
func (t *Table) PingNodes() []NodeInfo { return t.pingInfos() }
