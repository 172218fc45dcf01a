package membership

import (
	"strings"
	"time"

	"heartbeatd/internal/nodestatus"
)

// NodeDetail is one node as `heartbeatd status` and the metrics show it:
// what cl_status's listnodes and nodestatus say, plus when it was last
// heard from.
type NodeDetail struct {
	Name   string
	Status nodestatus.Status
	Type   string // "normal"
	// Generation is the node's hg: ours, or the last one a peer announced
	// (or that was stored for it before our restart); 0 when unknown.
	Generation uint64
	// LastHeard is the local receive time of its last status message
	// (for the local node: of our own, looped back); zero when none yet.
	LastHeard time.Time
	Links     []LinkDetail
}

// LinkDetail is one medium of a node.
type LinkDetail struct {
	Name   string
	Status nodestatus.Status
	// LastHeard is when a packet of the node last arrived on this medium
	// (a duplicate copy counts, as it keeps the link up); zero when never.
	LastHeard time.Time
}

// Details lists every configured node with its links, ha.cf order.
func (t *Table) Details() []NodeDetail {
	out := make([]NodeDetail, 0, len(t.nodes))
	for _, n := range t.nodes {
		d := NodeDetail{Name: n.name, Status: n.status, Type: "normal", Generation: n.track.generation, LastHeard: n.lastStatus}
		if n == t.self {
			d.Status, d.Generation = t.localStatus, t.cfg.Generation
		}
		for _, l := range n.links {
			d.Links = append(d.Links, LinkDetail{Name: l.name, Status: l.status, LastHeard: l.lastUpdate})
		}
		out = append(out, d)
	}
	for _, p := range t.pings.nodes {
		out = append(out, NodeDetail{Name: p.name, Status: p.status, Type: TypePing, LastHeard: p.lastHeard,
			Links: []LinkDetail{{Name: p.link.name, Status: p.link.status, LastHeard: p.link.lastUpdate}}})
	}
	return out
}

// Status is a node's status ("" for a node not configured), without the
// allocation of Nodes: the node core asks after every event.
func (t *Table) Status(name string) nodestatus.Status {
	n := t.byName[strings.ToLower(name)]
	switch {
	case n == nil:
		return ""
	case n == t.self:
		return t.localStatus
	}
	return n.status
}

// HasLink reports whether node is configured and link is one of its media.
func (t *Table) HasLink(node, link string) bool {
	n := t.byName[node]
	return n != nil && n.link(link) != nil
}

// Timings are the timings in force (ha.cf's, or a reload's).
func (t *Table) Timings() Timings {
	return Timings{Keepalive: t.cfg.Keepalive, Deadtime: t.cfg.Deadtime, Warntime: t.cfg.Warntime, Initdead: t.cfg.Initdead}
}

// LastHeard is the local receive time of a node's last status message;
// zero when none arrived (or the node is not configured).
func (t *Table) LastHeard(name string) time.Time {
	if n := t.byName[strings.ToLower(name)]; n != nil {
		return n.lastStatus
	}
	return time.Time{}
}
