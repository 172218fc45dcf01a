package node

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// This file is a two-node world for the simulator and the node tests: two
// REAL Nodes (membership, resource manager and all above them) joined by
// two in-memory broadcast links, on a fake clock, with a fake executor that
// keeps the truth about every group on every machine.
//
// A machine and its daemon are apart, as on a real cluster: killing the
// daemon (kill -9) leaves its groups running on the machine, pausing it
// (SIGSTOP) keeps its packets queued until it resumes, and only a reboot
// clears the machine.

var t0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

var simNames = [2]string{"pa1", "pa2"}

type machineState int

const (
	down machineState = iota
	starting
	up
	stopping
)

type op struct {
	run  grouprun.Run
	done time.Time
	ok   bool
}

type simNode struct {
	name    string
	n       *Node
	gen     uint64
	running bool // the daemon runs (not killed)
	paused  bool // SIGSTOP: no steps; packets wait in inbox
	inbox   []delivery
	actual  map[string]machineState
	ops     []op
	last    time.Time // last Tick
	since   time.Time // daemon (re)started at
	logs    []string
	exiting bool

	outdateReplies []OutdateReply
	adminReplies   []AdminReply
}

type delivery struct {
	at   time.Time
	to   int
	link string
	msg  *wire.Message
}

type world struct {
	t         testing.TB
	now       time.Time
	rng       *rand.Rand
	mode      string
	groups    []haresources.Group
	nodes     [2]*simNode
	inflight  []delivery
	cut       map[string]bool // link -> cut (both directions)
	loss      float64
	connSince time.Time // both daemons connected by a link without a break since
	opTime    func() time.Duration
	opFail    func(i int, key, op string) bool
	// drbdadm runs `drbdadm outdate` on node i: its exit status, or
	// false when it never finishes.
	drbdadm func(i int, a RunOutdate) (exit int, ok bool)

	// stonith: both nodes have a fencing device that resets the other
	// machine at once (its daemon and everything it ran stop, as a power
	// switch would do it); fenceFail makes a reset fail. With it, no group
	// may ever be active on both machines (checkExclusive).
	stonith     bool
	fencePolicy string
	fenceFail   func() bool
	fences      []string // "pa1 fences pa2", in order

	// pings: one ping node, "gw", with ipfail and the tie-breaker on;
	// pingLost[i]: node i's echo requests go unanswered (sim_ping_test.go).
	pings    bool
	pingLost [2]bool

	// monitor turns resource monitoring on (sim_monitor_test.go); sick
	// makes node i's monitor of key fail while it returns true.
	monitor       MonitorConfig
	monitorPolicy rm.MonitorPolicy
	sick          func(i int, key string) bool
	monitorOps    int // monitor ops run, on both nodes

	violations []string
	trace      []string
}

const (
	simFenceDelay = 8 * time.Second
	simKeepalive  = time.Second
	simDeadtime   = 5 * time.Second
	simInitdead   = 10 * time.Second
)

func simGroups() []haresources.Group {
	mk := func(node, ip string) haresources.Group {
		return haresources.Group{Node: node, Key: "IPaddr::" + ip, Resources: []haresources.Resource{
			{Script: "IPaddr", Args: []string{ip}, Raw: "IPaddr::" + ip}}}
	}
	return []haresources.Group{mk("pa1", "10.0.0.1"), mk("pa2", "10.0.0.2")}
}

func newWorld(t testing.TB, seed int64, mode string) *world {
	w := &world{t: t, now: t0, rng: rand.New(rand.NewSource(seed)), mode: mode, groups: simGroups(),
		cut: map[string]bool{}}
	w.opTime = func() time.Duration { return time.Duration(10+w.rng.Intn(400)) * time.Millisecond }
	w.opFail = func(int, string, string) bool { return false }
	for i := range w.nodes {
		w.nodes[i] = &simNode{name: simNames[i], gen: 100 + uint64(i), actual: map[string]machineState{}}
	}
	return w
}

func (w *world) cfg(i int) Config {
	sn := w.nodes[i]
	hf := &haresources.File{Groups: w.groups}
	c := Config{
		Membership: membership.Config{Local: sn.name, Nodes: simNames[:], Links: []string{"eth1", "eth2"},
			Keepalive: simKeepalive, Deadtime: simDeadtime, Warntime: simDeadtime / 2, Initdead: simInitdead,
			Generation: sn.gen, UUID: [16]byte{byte(i + 1)}, HopFudge: 1, MaxRexmitDelay: 250 * time.Millisecond, Seed: int64(i) + 7, DeadCheck: time.Millisecond},
		RM: rm.Config{Local: sn.name, Peer: simNames[1-i], Groups: w.groups, AutoFailback: w.mode, OnStopFailure: rm.OnStopFailureBlock,
			Stonith: w.stonith, FencePolicy: w.fencePolicy, FenceDelay: simFenceDelay, FenceDelayMax: 2 * time.Second, Seed: int64(i) + 11,
			Monitor: w.monitorPolicy},
		Haresources: hf, HaresourcesPath: "/etc/ha.d/haresources",
		Monitor: w.monitor,
	}
	if w.pings {
		c.Membership.PingNames, c.Membership.Deadping = []string{simPingNode}, simDeadtime
		c.RM.PingTieBreak, c.RM.Ipfail, c.RM.IpfailDelay = true, true, 2*simKeepalive
	}
	return c
}

// start boots node i's daemon (a new generation if it ran before).
func (w *world) start(i int) {
	sn := w.nodes[i]
	sn.gen++
	n, err := New(w.cfg(i))
	if err != nil {
		w.t.Fatal(err)
	}
	sn.n, sn.running, sn.paused, sn.inbox, sn.ops, sn.exiting = n, true, false, nil, nil, false
	sn.since, sn.last = w.now, w.now
	w.tracef("%s ---- start (generation %d)", sn.name, sn.gen)
	w.step(i, Start{})
}

// kill is kill -9 of node i's daemon: its groups keep running.
func (w *world) kill(i int) {
	sn := w.nodes[i]
	sn.running, sn.n, sn.ops = false, nil, nil
	w.tracef("%s ---- kill -9", sn.name)
}

// reboot resets machine i: its groups stop with it.
func (w *world) reboot(i int) {
	w.kill(i)
	for k := range w.nodes[i].actual {
		w.nodes[i].actual[k] = down
	}
	w.tracef("%s ---- reboot", w.nodes[i].name)
}

func (w *world) pause(i int) {
	w.nodes[i].paused = true
	w.tracef("%s ---- SIGSTOP", w.nodes[i].name)
}

func (w *world) resume(i int) {
	sn := w.nodes[i]
	sn.paused = false
	w.tracef("%s ---- SIGCONT (%d packets waiting)", sn.name, len(sn.inbox))
	in := sn.inbox
	sn.inbox = nil
	// The timers are overdue too; the daemon handles what its sockets
	// hold first (they are readable when the loop resumes), then ticks.
	for _, d := range in {
		w.step(i, Received{Msg: d.msg, Link: d.link})
	}
	w.tick(i)
}

func (w *world) setCut(link string, cut bool) {
	w.cut[link] = cut
	w.tracef("---- link %s %s", link, map[bool]string{true: "cut", false: "repaired"}[cut])
}

func (w *world) tracef(format string, args ...any) {
	w.trace = append(w.trace, fmt.Sprintf("%8.3f ", w.now.Sub(t0).Seconds())+fmt.Sprintf(format, args...))
}

func (w *world) alive(i int) bool { return w.nodes[i].running && !w.nodes[i].paused }

func (w *world) step(i int, ev Event) {
	sn := w.nodes[i]
	if !sn.running {
		return
	}
	for _, a := range sn.n.Step(w.now, ev) {
		w.apply(i, a)
	}
}

func (w *world) tick(i int) {
	w.nodes[i].last = w.now
	w.step(i, Tick{})
}

func (w *world) apply(i int, a Action) {
	sn := w.nodes[i]
	switch a := a.(type) {
	case Transmit:
		if t := a.Msg.Type(); t != "status" && !strings.HasPrefix(t, "NS_") {
			w.tracef("%s sends %s", sn.name, msgText(a.Msg))
		}
		w.echoPing(i, a.Msg)
		for _, link := range []string{"eth1", "eth2"} {
			for to := range w.nodes {
				if to != i && (w.cut[link] || w.rng.Float64() < w.loss) {
					continue
				}
				delay := time.Millisecond
				if to == i {
					delay = 0
				}
				w.inflight = append(w.inflight, delivery{at: w.now.Add(delay), to: to, link: link, msg: a.Msg.Clone()})
			}
		}
	case Log:
		sn.logs = append(sn.logs, fmt.Sprintf("%8.3f %s: %s", w.now.Sub(t0).Seconds(), a.Level, a.Text))
	case RunScript:
		w.runScript(i, a.Run)
	case Exiting:
		sn.exiting = true
	case RunOutdate:
		if w.drbdadm != nil {
			if exit, ok := w.drbdadm(i, a); ok {
				w.step(i, CommandDone{Origin: a.Origin, Resource: a.Resource, Exit: exit})
			}
		}
	case OutdateReply:
		sn.outdateReplies = append(sn.outdateReplies, a)
	case AdminReply:
		sn.adminReplies = append(sn.adminReplies, a)
	default:
		r, ok := RM(a)
		if !ok {
			return
		}
		switch r := r.(type) {
		case rm.Fence:
			w.fence(i, r.Node)
		}
	}
}

// runScript begins one script op on node i's machine. A status takes a
// few milliseconds; a start or stop up to opTime.
func (w *world) runScript(i int, r grouprun.Run) {
	sn := w.nodes[i]
	o := op{run: r, ok: true, done: w.now.Add(time.Duration(1+w.rng.Intn(20)) * time.Millisecond)}
	switch {
	case r.Kind == grouprun.Announce:
		o.done = w.now.Add(w.opTime())
	case r.Op == grouprun.OpStart:
		w.checkStart(i, r.Key)
		sn.actual[r.Key] = starting
		o.done, o.ok = w.now.Add(w.opTime()), !w.opFail(i, r.Key, "start")
		w.tracef("%s start %s %s", sn.name, r.Key, r.TakeoverFrom)
	case r.Op == grouprun.OpStop:
		if sn.actual[r.Key] != down {
			sn.actual[r.Key] = stopping
		}
		o.done, o.ok = w.now.Add(w.opTime()), !w.opFail(i, r.Key, "stop")
		w.tracef("%s stop %s", sn.name, r.Key)
	}
	sn.ops = append(sn.ops, o)
}

// fence is node i's STONITH device resetting node: the machine reboots at
// once, so its daemon and its groups stop, unless the reset fails.
func (w *world) fence(i int, node string) {
	ok := w.fenceFail == nil || !w.fenceFail()
	w.tracef("%s fences %s: ok=%v", w.nodes[i].name, node, ok)
	w.fences = append(w.fences, w.nodes[i].name+" fences "+node)
	if ok {
		for o, sn := range w.nodes {
			if sn.name == node {
				w.reboot(o)
			}
		}
	}
	w.step(i, FromRM(rm.FenceDone{Node: node, OK: ok}))
}

// checkExclusive is the invariant fencing buys: no group is active (up,
// starting or stopping) on both machines at any moment.
func (w *world) checkExclusive() {
	for _, g := range w.groups {
		if w.nodes[0].actual[g.Key] != down && w.nodes[1].actual[g.Key] != down {
			w.violate("%s active on both machines (%v, %v)", g.Key, w.nodes[0].actual[g.Key], w.nodes[1].actual[g.Key])
			return
		}
	}
}

// checkStart is the safety invariant: a node never starts a group that
// runs on the other machine while the other daemon is alive, has run
// without a restart, and the two have been connected, for long enough to
// know of each other (three deadtimes). A takeover from a crashed, hung or
// partitioned daemon is not a violation: without fencing Heartbeat R1
// cannot tell those apart from a dead node.
func (w *world) checkStart(i int, key string) {
	o := 1 - i
	other := w.nodes[o]
	settled := 3 * simDeadtime
	if other.actual[key] == down || !w.alive(o) || w.now.Sub(other.since) < settled ||
		w.connSince.IsZero() || w.now.Sub(w.connSince) < settled {
		return
	}
	w.violate("%s starts %s while it runs on %s (connected for %v)", w.nodes[i].name, key, other.name, w.now.Sub(w.connSince))
}

func (w *world) violate(format string, args ...any) {
	v := fmt.Sprintf("%.3f ", w.now.Sub(t0).Seconds()) + fmt.Sprintf(format, args...)
	w.violations = append(w.violations, v)
	w.tracef("VIOLATION %s", v)
}

// connected: both daemons alive and at least one link intact and without
// loss. (Heavy loss on every link can hide deadtime's worth of keepalives,
// and then a takeover is what Heartbeat R1 does; issue 14's redundant
// keepalives make that rarer, fencing makes it safe.)
func (w *world) connected() bool {
	return w.alive(0) && w.alive(1) && (!w.cut["eth1"] || !w.cut["eth2"]) && w.loss == 0
}

// run advances the world by d.
func (w *world) run(d time.Duration) {
	end := w.now.Add(d)
	for {
		next := end
		earlier := func(t time.Time) {
			if t.Before(next) {
				next = t
			}
		}
		for _, p := range w.inflight {
			earlier(p.at)
		}
		for i, sn := range w.nodes {
			if !sn.running || sn.paused {
				continue
			}
			for _, o := range sn.ops {
				earlier(o.done)
			}
			earlier(w.wake(i))
		}
		if next.Before(w.now) {
			next = w.now
		}
		w.now = next
		if w.connected() {
			if w.connSince.IsZero() {
				w.connSince = w.now
			}
		} else {
			w.connSince = time.Time{}
		}
		w.process()
		if w.stonith && len(w.violations) == 0 {
			w.checkExclusive()
		}
		if !w.now.Before(end) {
			return
		}
	}
}

// wake is when node i's daemon loop next ticks, as the daemon's: NextWake,
// and 5 s after the last Tick at the latest.
func (w *world) wake(i int) time.Time {
	sn := w.nodes[i]
	wk := sn.last.Add(5 * time.Second)
	if nw := sn.n.NextWake(); !nw.IsZero() && nw.Before(wk) {
		wk = nw
	}
	return wk
}

func (w *world) process() {
	var keep []delivery
	due := w.inflight
	w.inflight = nil
	for _, d := range due {
		if d.at.After(w.now) {
			keep = append(keep, d)
			continue
		}
		sn := w.nodes[d.to]
		switch {
		case !sn.running:
		case sn.paused:
			if len(sn.inbox) < 256 { // a socket buffer holds only so much
				sn.inbox = append(sn.inbox, d)
			}
		default:
			w.step(d.to, Received{Msg: d.msg, Link: d.link})
		}
	}
	w.inflight = append(keep, w.inflight...)
	for i, sn := range w.nodes {
		if !sn.running || sn.paused {
			continue
		}
		var rest []op
		var done []op
		for _, o := range sn.ops {
			if o.done.After(w.now) {
				rest = append(rest, o)
			} else {
				done = append(done, o)
			}
		}
		sn.ops = rest
		for _, o := range done {
			w.finish(i, o)
		}
		if sn.running && !w.wake(i).After(w.now) {
			w.tick(i)
		}
	}
}

func (w *world) finish(i int, o op) {
	sn := w.nodes[i]
	r := o.run
	res := grouprun.Result{ID: r.ID}
	switch {
	case r.Kind == grouprun.Announce:
	case r.Op == grouprun.OpStatus:
		res.Running = sn.actual[r.Key] == up
	case r.Op == grouprun.OpMonitor:
		w.monitorOps++
		res.Running = sn.actual[r.Key] == up && (w.sick == nil || !w.sick(i, r.Key))
		if !res.Running {
			res.Exit, res.Output = 7, "failed: the simulator says so"
		}
	case r.Op == grouprun.OpStart && o.ok:
		sn.actual[r.Key] = up
	case r.Op == grouprun.OpStart:
		sn.actual[r.Key] = down // it failed before doing anything
		res.Exit = 1
	case o.ok:
		sn.actual[r.Key] = down
	default:
		sn.actual[r.Key] = up // stop failed, status still says running
		res.Exit = 1
	}
	w.step(i, ScriptDone{res})
}

// owners lists, per group, the machines it runs on.
func (w *world) owners() map[string][]string {
	out := map[string][]string{}
	for _, g := range w.groups {
		out[g.Key] = nil
		for _, sn := range w.nodes {
			if sn.actual[g.Key] == up {
				out[g.Key] = append(out[g.Key], sn.name)
			}
		}
	}
	return out
}

func (w *world) dump() string {
	var b strings.Builder
	for _, l := range w.trace {
		b.WriteString(l + "\n")
	}
	for _, sn := range w.nodes {
		st := "not running"
		if sn.n != nil {
			st = sn.n.RM().State()
		}
		fmt.Fprintf(&b, "==== log of %s (rm: %s)\n%s\n", sn.name, st, strings.Join(sn.logs, "\n"))
	}
	return b.String()
}

// msgText is a cluster message for the trace, envelope fields left out.
func msgText(m *wire.Message) string {
	var parts []string
	for _, f := range m.Fields {
		switch f.Name {
		case "src", "srcuuid", "hg", "ts", "ttl", "ld", "seq", "auth", "dest", "destuuid":
			continue
		}
		parts = append(parts, f.Name+"="+string(f.Value))
	}
	return strings.Join(parts, " ")
}
