package rm

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// This file is a small two-node world for the scenario tests and the
// simulator: a link with a fixed one-way delay (in order per direction,
// lost only while partitioned), a stand-in for membership (keepalives,
// deadtime, return), and a fake executor that keeps the *actual* state of
// every group on every node, which is what the invariants look at.

var epoch = time.Date(2026, 11, 22, 1, 40, 45, 0, time.UTC)

// actual is the truth about a group on one machine.
type actual int

const (
	actDown actual = iota
	actStarting
	actUp
	actStopping // stopping a group that was up
)

type execOp struct {
	key   string
	op    string
	done  time.Time
	ok    bool
	fatal bool
}

type simNode struct {
	name     string
	m        *Manager
	running  bool
	inc      int // incarnation, bumped at each restart (heartbeat generation)
	commUp   bool
	commUpAt time.Time // reqnodes/repnodes round trip in progress
	started  time.Time

	// membership stand-in
	peerView    string // "init" (never heard), "active", "dead"
	lastHeard   time.Time
	peerIncSeen int
	nextKeep    time.Time

	ops      []*execOp
	actual   map[string]actual
	rebootAt time.Time

	logs         []string
	replies      []Reply
	shutdownDone bool
	lastTick     time.Time // last Tick stepped (daemonTicks)
	stepped      bool      // an event other than Tick since the last Tick
}

// daemonMaxSleep is the daemon loop's longest sleep (internal/daemon).
const daemonMaxSleep = 250 * time.Millisecond

type delivery struct {
	at    time.Time
	to    int
	msg   *wire.Message // nil = keepalive
	inc   int           // sender incarnation
	st    string        // sender's advertised status: up or active
	shut  bool          // shutdone
	toInc int           // receiver incarnation when sent
}

type world struct {
	t           testing.TB
	now         time.Time
	nodes       [2]*simNode
	cfgs        [2]Config
	inflight    []delivery
	lost        []delivery // cluster messages lost in a partition, for rexmit
	linkUp      bool
	linkUpSince time.Time
	delay       time.Duration
	deadtime    time.Duration
	initdead    time.Duration
	keepalive   time.Duration
	rebootTime  time.Duration

	// executor behaviour
	opTime   func(n int, key, op string) time.Duration
	opResult func(n int, key, op string) (ok, fatal bool)

	wireLog    []string // "pa1: t=... " for every message sent
	violations []string
	onStart    func(n int, key string) // invariant hook
	// onStartAction sees each StartGroup action as emitted.
	onStartAction func(n int, a StartGroup)
	trace         bool
	// daemonTicks ticks a node's manager only as the daemon's loop does:
	// with each keepalive it sends, right after any other event it was
	// stepped with, and, unless the manager is Idle, at most 250 ms after
	// the previous Tick, instead of on a fixed 250 ms grid.
	daemonTicks bool
	// rec, when set, writes down what one node's manager is stepped with
	// (seedrec_test.go).
	rec *recorder
}

func testGroups() []haresources.Group {
	return []haresources.Group{
		{Node: "pa1", Key: "10.201.0.100/24/eth1", Resources: []haresources.Resource{{Script: "IPaddr", Args: []string{"10.201.0.100/24/eth1"}}, {Script: "padummy", Args: []string{"alpha", "beta"}}}},
	}
}

func newWorld(t testing.TB, mode string, groups []haresources.Group) *world {
	w := &world{t: t, now: epoch, linkUp: true, linkUpSince: epoch, delay: 50 * time.Millisecond,
		deadtime: 5 * time.Second, initdead: 10 * time.Second, keepalive: time.Second, rebootTime: 20 * time.Second}
	names := [2]string{"pa1", "pa2"}
	for i := range w.nodes {
		w.cfgs[i] = Config{Local: names[i], Peer: names[1-i], Groups: groups, AutoFailback: mode, OnStopFailure: OnStopFailureBlock}
		w.nodes[i] = &simNode{name: names[i], actual: map[string]actual{}}
	}
	w.opTime = func(int, string, string) time.Duration { return 100 * time.Millisecond }
	w.opResult = func(int, string, string) (bool, bool) { return true, false }
	return w
}

func (w *world) idx(name string) int {
	if name == "pa1" {
		return 0
	}
	return 1
}

// start boots heartbeatd on node i (a fresh Manager, new generation).
func (w *world) start(i int) {
	n := w.nodes[i]
	if w.rec != nil && w.rec.node == i {
		w.rec.restart()
	}
	n.m = New(w.cfgs[i])
	n.running = true
	n.inc++
	n.commUp = false
	n.commUpAt = time.Time{}
	n.started = w.now
	n.peerView = "init"
	n.nextKeep = w.now
	n.shutdownDone = false
	n.ops = nil
	n.logs = append(n.logs, fmt.Sprintf("%s ---- start (generation %d)", w.stamp(), n.inc))
}

// crash kills node i; reboot clears its resources like a machine reset.
func (w *world) crash(i int, reboot bool) {
	n := w.nodes[i]
	n.running = false
	n.m = nil
	n.ops = nil
	n.commUpAt = time.Time{}
	n.logs = append(n.logs, fmt.Sprintf("%s ---- crash", w.stamp()))
	if reboot {
		for k := range n.actual {
			n.actual[k] = actDown
		}
	}
}

func (w *world) partition() { w.linkUp = false }

// heal reconnects the link. Heartbeat retransmits cluster messages lost in
// a short outage (NS_rexmit, §3.5): the lost messages of a sender the
// receiver has not declared dead (and that did not restart) arrive now,
// in order. Keepalives are not retransmitted.
func (w *world) heal() {
	if w.linkUp {
		return
	}
	w.linkUp = true
	w.linkUpSince = w.now
	lost := w.lost
	w.lost = nil
	for _, d := range lost {
		from := w.nodes[1-d.to]
		to := w.nodes[d.to]
		if !to.running || to.peerView == "dead" || !from.running || from.inc != d.inc || d.toInc != to.inc {
			continue
		}
		d.at = w.now.Add(w.delay)
		w.inflight = append(w.inflight, d)
	}
}

func (w *world) lose(d delivery) {
	if d.msg != nil || d.shut {
		w.lost = append(w.lost, d)
	}
}

func (w *world) stamp() string {
	return fmt.Sprintf("%8.3f", w.now.Sub(epoch).Seconds())
}

func (w *world) step(i int, ev Event) {
	n := w.nodes[i]
	if !n.running {
		return
	}
	if _, tick := ev.(Tick); !tick {
		n.stepped = true
	}
	acts := n.m.Step(w.now, ev)
	if w.rec != nil && w.rec.node == i {
		w.rec.add(w.now, ev, acts)
	}
	for _, a := range acts {
		if !n.running {
			break // rebooted: the rest never happens
		}
		w.apply(i, a)
	}
}

func (w *world) apply(i int, a Action) {
	n := w.nodes[i]
	switch a := a.(type) {
	case Send:
		msg := a.Msg.Clone()
		msg.Set("src", n.name)
		w.wireLog = append(w.wireLog, fmt.Sprintf("%s %s: %s", w.stamp(), n.name, fmtMsg(a.Msg)))
		w.transmit(i, delivery{msg: msg, inc: n.inc})
	case StartGroup:
		if w.onStart != nil {
			w.onStart(i, a.Key)
		}
		if w.onStartAction != nil {
			w.onStartAction(i, a)
		}
		n.actual[a.Key] = actStarting
		ok, fatal := w.opResult(i, a.Key, "start")
		n.ops = append(n.ops, &execOp{key: a.Key, op: "start", done: w.now.Add(w.opTime(i, a.Key, "start")), ok: ok, fatal: fatal})
		n.logs = append(n.logs, fmt.Sprintf("%s StartGroup %s", w.stamp(), a.Key))
	case StopGroup:
		if n.actual[a.Key] == actUp || n.actual[a.Key] == actStarting {
			n.actual[a.Key] = actStopping
		}
		ok, fatal := w.opResult(i, a.Key, "stop")
		n.ops = append(n.ops, &execOp{key: a.Key, op: "stop", done: w.now.Add(w.opTime(i, a.Key, "stop")), ok: ok, fatal: fatal})
		n.logs = append(n.logs, fmt.Sprintf("%s StopGroup %s", w.stamp(), a.Key))
	case Log:
		n.logs = append(n.logs, fmt.Sprintf("%s %s: %s", w.stamp(), a.Level, a.Text))
	case Reply:
		n.replies = append(n.replies, a)
	case ShutdownReady:
		n.logs = append(n.logs, fmt.Sprintf("%s ShutdownReady", w.stamp()))
		if !n.shutdownDone {
			n.shutdownDone = true
			shut := wire.New("shutdone")
			shut.Set("st", "dead")
			w.wireLog = append(w.wireLog, fmt.Sprintf("%s %s: %s", w.stamp(), n.name, fmtMsg(shut)))
			w.transmit(i, delivery{shut: true, inc: n.inc})
			// heartbeat exits about 2 s later; status messages stop now.
			n.running = false
			n.m = nil
		}
	case Reboot:
		n.logs = append(n.logs, fmt.Sprintf("%s Reboot: %s", w.stamp(), a.Reason))
		w.crash(i, true)
		n.rebootAt = w.now.Add(w.rebootTime)
	case Fence:
		n.logs = append(n.logs, fmt.Sprintf("%s Fence %s", w.stamp(), a.Node))
	}
}

func (n *simNode) status() string {
	if n.commUp {
		return "active"
	}
	return "up"
}

func (w *world) transmit(from int, d delivery) {
	if d.st == "" {
		d.st = w.nodes[from].status()
	}
	d.to = 1 - from
	d.toInc = w.nodes[d.to].inc
	if !w.linkUp {
		w.lose(d)
		return
	}
	d.at = w.now.Add(w.delay)
	d.to = 1 - from
	w.inflight = append(w.inflight, d)
}

func fmtMsg(m *wire.Message) string {
	var b []string
	for _, f := range m.Fields {
		b = append(b, f.Name+"="+string(f.Value))
	}
	return strings.Join(b, " ")
}

// next returns the time of the next scheduled thing.
func (w *world) next(limit time.Time) time.Time {
	t := limit
	consider := func(x time.Time) {
		if !x.IsZero() && x.Before(t) {
			t = x
		}
	}
	for _, d := range w.inflight {
		consider(d.at)
	}
	for _, n := range w.nodes {
		for _, op := range n.ops {
			consider(op.done)
		}
		if n.running {
			consider(n.commUpAt)
		}
		if n.running {
			consider(n.nextKeep)
		}
		consider(n.rebootAt)
	}
	if w.daemonTicks {
		for _, n := range w.nodes {
			if n.running && !n.m.Idle() {
				consider(n.lastTick.Add(daemonMaxSleep))
			}
		}
		return t
	}
	// Ticks every 250 ms.
	tick := w.now.Truncate(250 * time.Millisecond).Add(250 * time.Millisecond)
	consider(tick)
	return t
}

// runUntil advances the world to time end.
func (w *world) runUntil(end time.Time) {
	for w.now.Before(end) {
		nt := w.next(end)
		if nt.Before(w.now) {
			nt = w.now
		}
		w.now = nt
		w.process()
	}
}

func (w *world) run(d time.Duration) { w.runUntil(w.now.Add(d)) }

func (w *world) process() {
	// deliveries due
	var keep []delivery
	due := []delivery{}
	for _, d := range w.inflight {
		if !d.at.After(w.now) {
			due = append(due, d)
		} else {
			keep = append(keep, d)
		}
	}
	w.inflight = keep
	for _, d := range due {
		if !w.linkUp {
			w.lose(d)
			continue
		}
		w.deliver(d)
	}
	for i, n := range w.nodes {
		// executor completions
		var rest []*execOp
		var fin []*execOp
		for _, op := range n.ops {
			if !op.done.After(w.now) {
				fin = append(fin, op)
			} else {
				rest = append(rest, op)
			}
		}
		n.ops = rest
		for _, op := range fin {
			w.finishOp(i, op)
		}
		if !n.rebootAt.IsZero() && !w.now.Before(n.rebootAt) {
			n.rebootAt = time.Time{}
			w.start(i)
		}
		if !n.running {
			continue
		}
		// keepalives
		sent := false
		if !w.now.Before(n.nextKeep) {
			n.nextKeep = w.now.Add(w.keepalive)
			w.transmit(i, delivery{inc: n.inc})
			sent = true
		}
		// membership: dead detection and comm-up
		w.membership(i)
		capped := !n.m.Idle() && !w.now.Before(n.lastTick.Add(daemonMaxSleep))
		if !w.daemonTicks || sent || n.stepped || capped {
			n.lastTick, n.stepped = w.now, false
			w.step(i, Tick{})
		}
	}
}

func (w *world) finishOp(i int, op *execOp) {
	n := w.nodes[i]
	switch {
	case op.op == "start" && op.ok:
		n.actual[op.key] = actUp
	case op.op == "start" && !op.fatal:
		n.actual[op.key] = actDown // the executor released it again
	case op.op == "start":
		n.actual[op.key] = actUp // the release failed too: may still run
	case op.op == "stop" && op.ok:
		n.actual[op.key] = actDown
	case op.op == "stop" && !op.fatal:
		n.actual[op.key] = actDown
	case op.op == "stop":
		n.actual[op.key] = actUp // status still says running
	}
	w.step(i, GroupDone{Key: op.key, Op: GroupOp(op.op), OK: op.ok, Fatal: op.fatal})
}

func (w *world) membership(i int) {
	n := w.nodes[i]
	dt := w.deadtime
	if !n.commUp && !n.commUpAt.IsZero() && !w.now.Before(n.commUpAt) {
		n.commUp = true
		n.commUpAt = time.Time{}
		w.transmit(i, delivery{inc: n.inc}) // status st=active at once
		w.step(i, CommUp{Alone: n.peerView == "dead"})
		return
	}
	if n.peerView == "init" {
		dt = w.initdead
		if !n.commUp && w.now.Sub(n.started) >= dt {
			n.peerView = "dead"
			n.commUp = true
			n.commUpAt = time.Time{}
			w.transmit(i, delivery{inc: n.inc})
			w.step(i, PeerStatus{Node: w.nodes[1-i].name, Status: "dead"})
			w.step(i, CommUp{Alone: true})
		}
		return
	}
	if (n.peerView == "active" || n.peerView == "up") && w.now.Sub(n.lastHeard) > dt {
		n.peerView = "dead"
		n.logs = append(n.logs, fmt.Sprintf("%s WARN: node %s: is dead", w.stamp(), w.nodes[1-i].name))
		w.step(i, PeerStatus{Node: w.nodes[1-i].name, Status: "dead"})
	}
}

func (w *world) deliver(d delivery) {
	n := w.nodes[d.to]
	if !n.running {
		return
	}
	peer := w.nodes[1-d.to].name
	// Membership: any packet refreshes the peer.
	prev := n.peerView
	n.lastHeard = w.now
	switch {
	case prev == "init" || prev == "up" && d.st == "active":
		n.peerView = d.st
		n.peerIncSeen = d.inc
		w.step(d.to, PeerStatus{Node: peer, Status: nodestatus.Status(d.st)})
		if !n.commUp && n.commUpAt.IsZero() {
			// reqnodes/repnodes: active one round trip later
			n.commUpAt = w.now.Add(2 * w.delay)
		}
	case prev == "dead" && d.inc != n.peerIncSeen:
		n.peerView = d.st
		n.peerIncSeen = d.inc
		n.logs = append(n.logs, fmt.Sprintf("%s info: Heartbeat restart on node %s", w.stamp(), peer))
		w.step(d.to, PeerStatus{Node: peer, Status: nodestatus.Status(d.st)})
	case prev == "dead":
		n.peerView = "active"
		w.step(d.to, PeerReturned{Node: peer})
	case d.inc != n.peerIncSeen:
		// restarted within deadtime: membership sees a new generation
		n.peerIncSeen = d.inc
		n.peerView = d.st
		n.logs = append(n.logs, fmt.Sprintf("%s info: Heartbeat restart on node %s", w.stamp(), peer))
		w.step(d.to, PeerStatus{Node: peer, Status: nodestatus.Status(d.st)})
	}
	if !n.running {
		return
	}
	if d.shut {
		w.step(d.to, PeerShutdown{Node: peer})
		return
	}
	if d.msg != nil {
		w.step(d.to, Message{Msg: d.msg})
	}
}

// admin runs an admin command on node i and returns the reply.
func (w *world) admin(i int, cmd, set string) Reply {
	n := w.nodes[i]
	before := len(n.replies)
	w.step(i, Admin{Cmd: AdminCmd(cmd), Set: set})
	if len(n.replies) == before {
		w.t.Fatalf("no reply to %s %s", cmd, set)
	}
	return n.replies[len(n.replies)-1]
}

// owners lists, per group, the nodes where it is actually active.
func (w *world) owners() map[string][]string {
	r := map[string][]string{}
	for _, n := range w.nodes {
		keys := make([]string, 0, len(n.actual))
		for k := range n.actual {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if n.actual[k] != actDown {
				r[k] = append(r[k], n.name)
			}
		}
	}
	return r
}

func (w *world) dump() string {
	var b strings.Builder
	for _, n := range w.nodes {
		fmt.Fprintf(&b, "==== %s log\n", n.name)
		for _, l := range n.logs {
			b.WriteString(l + "\n")
		}
		if n.m != nil {
			b.WriteString(n.m.State() + "\n")
		}
	}
	b.WriteString("==== wire\n")
	for _, l := range w.wireLog {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// wireSince returns the wire messages logged after mark, without time stamps.
func (w *world) wireSince(mark int) []string {
	var r []string
	for _, l := range w.wireLog[mark:] {
		r = append(r, strings.TrimSpace(l[9:]))
	}
	return r
}

func (n *simNode) hasLog(sub string) bool {
	for _, l := range n.logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func msgFrom(src, typ string, kv ...string) *wire.Message {
	m := wire.New(typ)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	m.Set("src", src)
	return m
}
