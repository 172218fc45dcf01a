// Package statustest runs two REAL nodes, pa1 and pa2, over two in-memory
// links (eth1, eth2) on a fake clock, with machines that run the groups'
// scripts in fixed times: the smallest world that takes the status
// snapshot and the metrics through a failover. internal/node's
// world_test.go is the full simulator.
package statustest

import (
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/node"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// T0 is when the pair starts.
var T0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

// Timings of the pair.
const (
	Keepalive = time.Second
	Deadtime  = 5 * time.Second
	StartTook = 300 * time.Millisecond // a start or stop script
	ProbeTook = 10 * time.Millisecond  // a status script
)

// Group keys: pa1's group has two resources, pa2's one.
const (
	Group1 = "10.0.0.1"
	Group2 = "IPaddr::10.0.0.2/24/eth0"
)

var names = []string{"pa1", "pa2"}

// Groups is the pair's haresources.
func Groups() []haresources.Group {
	return []haresources.Group{
		{Node: "pa1", Key: Group1, Resources: []haresources.Resource{
			{Script: "IPaddr", Args: []string{"10.0.0.1"}, Raw: "10.0.0.1"},
			{Script: "Filesystem", Args: []string{"/dev/drbd0", "/srv", "ext4"}, Raw: "Filesystem::/dev/drbd0::/srv::ext4"}}},
		{Node: "pa2", Key: Group2, Resources: []haresources.Resource{
			{Script: "IPaddr", Args: []string{"10.0.0.2/24/eth0"}, Raw: Group2}}},
	}
}

// Pair is the two nodes and their machines.
type Pair struct {
	t   testing.TB
	Now time.Time
	// Cut drops every packet on a link, both ways.
	Cut      map[string]bool
	nodes    [2]*node.Node
	running  [2]bool
	last     [2]time.Time // last Tick
	actual   [2]map[string]bool
	failback string
	inflight []delivery
	ops      []scriptOp
}

type delivery struct {
	at   time.Time
	to   int
	link string
	msg  *wire.Message
}

type scriptOp struct {
	node int
	run  grouprun.Run
	done time.Time
}

// New starts both daemons at T0 in auto_failback mode failback.
func New(t testing.TB, failback string) *Pair {
	p := &Pair{t: t, Now: T0, Cut: map[string]bool{}, failback: failback}
	for i := range p.nodes {
		p.actual[i] = map[string]bool{}
		p.start(i)
	}
	return p
}

// Node is node i's core (0: pa1, 1: pa2).
func (p *Pair) Node(i int) *node.Node { return p.nodes[i] }

func (p *Pair) start(i int) {
	groups := Groups()
	n, err := node.New(node.Config{
		Membership: membership.Config{Local: names[i], Nodes: names, Links: []string{"eth1", "eth2"},
			Keepalive: Keepalive, Deadtime: Deadtime, Warntime: Deadtime / 2, Initdead: 2 * Deadtime,
			Generation: 100 + uint64(i), UUID: [16]byte{byte(i + 1)}, HopFudge: 1, MaxRexmitDelay: 250 * time.Millisecond,
			Seed: int64(i) + 7, DeadCheck: time.Millisecond},
		RM: rm.Config{Local: names[i], Peer: names[1-i], Groups: groups, AutoFailback: p.failback,
			OnStopFailure: rm.OnStopFailureBlock},
		Haresources: &haresources.File{Groups: groups}, HaresourcesPath: "/etc/ha.d/haresources",
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.nodes[i], p.running[i], p.last[i] = n, true, p.Now
	p.step(i, node.Start{})
}

// Kill is kill -9 of node i's daemon: its groups stay up on its machine.
func (p *Pair) Kill(i int) { p.running[i] = false }

// Shutdown is SIGTERM to node i's daemon: it releases its groups and says
// shutdone; Kill it once that is done (the daemon exits a second later).
func (p *Pair) Shutdown(i int) { p.step(i, node.Shutdown{}) }

func (p *Pair) step(i int, ev node.Event) {
	if !p.running[i] {
		return
	}
	for _, a := range p.nodes[i].Step(p.Now, ev) {
		switch a := a.(type) {
		case node.Transmit:
			for _, link := range []string{"eth1", "eth2"} {
				for to := range p.nodes {
					if to != i && p.Cut[link] {
						continue
					}
					p.inflight = append(p.inflight, delivery{at: p.Now.Add(time.Millisecond), to: to, link: link, msg: a.Msg.Clone()})
				}
			}
		case node.RunScript:
			took := StartTook
			if a.Op == grouprun.OpStatus {
				took = ProbeTook
			}
			p.ops = append(p.ops, scriptOp{node: i, run: a.Run, done: p.Now.Add(took)})
		}
	}
}

// Run advances the world by d.
func (p *Pair) Run(d time.Duration) {
	end := p.Now.Add(d)
	for {
		next := end
		earlier := func(t time.Time) {
			if !t.IsZero() && t.Before(next) {
				next = t
			}
		}
		for _, d := range p.inflight {
			earlier(d.at)
		}
		for _, o := range p.ops {
			earlier(o.done)
		}
		for i := range p.nodes {
			if p.running[i] {
				earlier(p.wake(i))
			}
		}
		if next.After(p.Now) {
			p.Now = next
		}
		p.process()
		if !p.Now.Before(end) {
			return
		}
	}
}

// wake is when node i's loop next ticks, as the daemon's: NextWake, and
// 5 s after the last Tick at the latest.
func (p *Pair) wake(i int) time.Time {
	w := p.last[i].Add(5 * time.Second)
	if nw := p.nodes[i].NextWake(); !nw.IsZero() && nw.Before(w) {
		w = nw
	}
	return w
}

func (p *Pair) process() {
	var keep []delivery
	due := p.inflight
	p.inflight = nil
	for _, d := range due {
		if d.at.After(p.Now) {
			keep = append(keep, d)
			continue
		}
		p.step(d.to, node.Received{Msg: d.msg, Link: d.link})
	}
	p.inflight = append(keep, p.inflight...)
	var rest []scriptOp
	ops := p.ops
	p.ops = nil
	for _, o := range ops {
		if o.done.After(p.Now) {
			rest = append(rest, o)
			continue
		}
		if !p.running[o.node] {
			continue
		}
		res := grouprun.Result{ID: o.run.ID}
		switch o.run.Op {
		case grouprun.OpStatus:
			res.Running = p.actual[o.node][o.run.Key]
		case grouprun.OpStart:
			p.actual[o.node][o.run.Key] = true
		case grouprun.OpStop:
			p.actual[o.node][o.run.Key] = false
		}
		p.step(o.node, node.ScriptDone{Result: res})
	}
	p.ops = append(rest, p.ops...)
	for i := range p.nodes {
		if p.running[i] && !p.wake(i).After(p.Now) {
			p.last[i] = p.Now
			p.step(i, node.Tick{})
		}
	}
}
