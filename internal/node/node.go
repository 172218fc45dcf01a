package node

import (
	"fmt"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/level"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// Node is one node's protocol state. Not safe for concurrent use.
type Node struct {
	cfg         Config
	local, peer string
	mem         *membership.Table
	rm          *rm.Manager
	runs        *grouprun.Runs

	now      time.Time
	lastTick time.Time // of the last Tick event
	out      []Action
	// queue holds the resource-manager events membership produced while
	// the current event was handled; Step drains it before returning.
	queue []rm.Event

	outdate  outdateState
	digest   digestState
	announce announceState
	admins   []pendingAdmin // admin commands waiting for rm's reply, oldest first
	stopping bool
	// revived names the node membership declared dead and alive again in
	// the action list being handled (see stepMem).
	revived string
	// rmStepped: the resource manager got an event other than Tick in
	// this Step, so it gets a Tick before Step returns.
	rmStepped bool
	// meter and facts serve the status queries only (query.go).
	meter linkMeter
	facts facts
	// fenceDevs are the fence devices' last checks (fencedev.go).
	fenceDevs []FenceDeviceState
	mon       monitorState // resource monitoring (monitor.go)
}

type pendingAdmin struct {
	id  uint64
	cmd AdminCmd
}

// rmTypes are the message types the resource manager consumes.
var rmTypes = map[string]bool{
	"starting": true, "resource": true, "ask_resources": true, "hb_takeover": true,
	"ip-request": true, "ip-request-resp": true,
	// ipfail's (rm/ipfail.go)
	"num_ping_nodes": true, "abort_giveup": true, "you_are_dead": true, "hbapi-clstat": true,
}

// New builds the node and its two cores.
func New(cfg Config) (*Node, error) {
	mem, err := membership.New(cfg.Membership)
	if err != nil {
		return nil, err
	}
	rc := cfg.Runs
	rc.Groups = cfg.RM.Groups
	n := &Node{cfg: cfg, mem: mem, rm: rm.New(cfg.RM), runs: grouprun.New(rc),
		local: strings.ToLower(cfg.RM.Local), peer: strings.ToLower(cfg.RM.Peer)}
	n.outdate.waits = map[string]*outdateWait{}
	n.digest.ours = digestOf(cfg.Haresources)
	return n, nil
}

// Step feeds one event at time now and returns what to do, in order.
func (n *Node) Step(now time.Time, ev Event) []Action {
	n.now = now
	n.out = nil
	n.rmStepped = false
	switch e := ev.(type) {
	case Start:
		n.stepMem(membership.Start{LoadAvg: e.LoadAvg})
	case Tick:
		n.lastTick = now
		n.stepMem(membership.Tick{LoadAvg: e.LoadAvg})
		n.drain() // a death found by this tick reaches rm before its own tick
		n.stepRM(rm.Tick{})
		n.outdateTick()
		n.onRuns(n.runs.Tick(n.now))
	case Received:
		n.meter.observe(now, e.Msg, e.Link, n.mem)
		n.stepMem(membership.Received{Msg: e.Msg, Link: e.Link})
	case Admin:
		n.onAdmin(e)
	case OutdateRequest:
		n.onOutdateRequest(e)
	case CommandDone:
		n.onCommandDone(e)
	case FenceDeviceChecked:
		n.onFenceDeviceChecked(e)
	case ScriptDone:
		n.onRuns(n.runs.Done(n.now, e.Result))
	case Shutdown:
		if !n.stopping {
			n.stopping = true
			n.stepRM(rm.Shutdown{})
		}
	case rmEvent:
		n.stepRM(e.Event)
	}
	n.drain()
	if n.rmStepped {
		// The resource manager runs its state checks (adopting a group
		// nobody runs, the end of a negotiation) on Tick; it gets one
		// right after anything it was told, as it had with a fine fixed
		// tick (rm's TestSimDaemonTicks models this).
		n.stepRM(rm.Tick{})
		n.drain()
	}
	n.announceTick()
	n.monitorTick()
	n.drain()
	n.observe(ev)
	return n.out
}

// drain hands the queued resource-manager events over, in order; what they
// produce for membership is stepped at once (a send), and what membership
// produces for rm is queued again.
func (n *Node) drain() {
	for len(n.queue) > 0 {
		ev := n.queue[0]
		n.queue = n.queue[1:]
		n.stepRM(ev)
	}
}

func (n *Node) emit(a Action) { n.out = append(n.out, a) }

func (n *Node) logf(lv level.Level, format string, args ...any) {
	n.emit(Log{Level: lv, Text: fmt.Sprintf(format, args...)})
}

// send hands a cluster message to membership (which adds the envelope,
// loops it back and transmits it).
func (n *Node) send(m *wire.Message) { n.stepMem(membership.Send{Msg: m}) }

func (n *Node) stepMem(ev membership.Event) {
	// A send made while handling these actions steps membership again;
	// its actions must not disturb this list's revived node.
	outer := n.revived
	defer func() { n.revived = outer }()
	n.revived = ""
	acts := n.mem.Step(n.now, ev)
	for i, a := range acts {
		if st, ok := a.(membership.NodeStatus); ok && st.New == membership.StatusDead && revivedIn(acts[i+1:], st.Node) {
			// A status so late that membership declares its sender
			// dead and alive again in one breath (Heartbeat's late
			// heartbeat path): the sender is alive right now. This is
			// what a node sees first when it resumes after its own
			// daemon was stopped or starved past deadtime. Telling the
			// resource manager "dead" would make it take over the
			// live peer's groups, only to release them again; it is
			// told that the peer returned after a partition instead,
			// which resolves whatever the peer took from us meanwhile.
			n.revived = st.Node
			n.emit(StatusChanged{})
			continue
		}
		n.onMem(a)
	}
}

// revivedIn: acts bring node back from dead.
func revivedIn(acts []membership.Action, node string) bool {
	for _, a := range acts {
		if st, ok := a.(membership.NodeStatus); ok && st.Node == node && st.Old == membership.StatusDead && st.New != membership.StatusDead {
			return true
		}
	}
	return false
}

func (n *Node) onMem(a membership.Action) {
	switch a := a.(type) {
	case membership.Transmit:
		n.meter.sent++
		n.emit(Transmit{Msg: a.Msg})
	case membership.Log:
		n.emit(Log{Level: a.Level, Text: a.Text})
	case membership.NodeStatus:
		if a.Node != n.local && a.Node == n.revived {
			n.revived = ""
			n.queue = append(n.queue, rm.PeerReturned{Node: a.Node})
			n.scheduleAnnounce()
		} else if a.Node != n.local {
			if a.Old == membership.StatusDead && a.New != membership.StatusDead {
				// rm treats a dead peer going active as a return
				// after a partition: announce once it settles.
				n.scheduleAnnounce()
			}
			n.queue = append(n.queue, rm.PeerStatus{Node: a.Node, Status: a.New})
			if a.New == membership.StatusDead {
				n.outdatePeerDead(a.Node)
				n.digestPeerGone()
			}
		}
		n.emit(StatusChanged{})
	case membership.LinkStatus:
		if a.Node == n.peer && a.Status == membership.LinkDead {
			n.queue = append(n.queue, rm.PeerLinkDead{Link: a.Link})
		}
	case membership.Deliver:
		if n.fromDeadPeer(a.Msg) {
			return
		}
		switch t := a.Msg.Type(); {
		case rmTypes[t]:
			n.queue = append(n.queue, rm.Message{Msg: a.Msg})
		case t == "start_outdate" || t == "outdate_rc":
			n.outdateMessage(a.Msg)
		case t == digestType:
			n.onDigest(a.Msg)
		}
	case membership.CommUp:
		n.queue = append(n.queue, commUp(n.peer, n.NodeStatus(n.peer)))
		n.sendDigest(true)
		n.emit(StatusChanged{})
	case membership.PeerShutdown:
		n.queue = append(n.queue, rm.PeerShutdown{Node: a.Node})
	case membership.PartitionHealed:
		n.queue = append(n.queue, rm.PeerReturned{Node: a.Node})
		n.scheduleAnnounce()
	case membership.PeerRestarted:
		n.digestPeerGone()
	case membership.PingNodeStatus:
		// Ping nodes never reach rm as nodes (mach_down ignores them);
		// rm only learns how many answer, for the isolated-side rule.
		n.queue = append(n.queue, n.pingReach())
		n.emit(StatusChanged{})
	case membership.PersistPeer:
		n.emit(PersistPeer{Node: a.Node, Gen: a.Gen, Seq: a.Seq, Periodic: a.Periodic})
	case membership.Overheard:
		n.onOverheard(a.Msg)
	}
}

func (n *Node) stepRM(ev rm.Event) {
	if _, tick := ev.(rm.Tick); !tick {
		n.rmStepped = true
	}
	for _, a := range n.rm.Step(n.now, ev) {
		n.onRM(a)
	}
}

func (n *Node) onRM(a rm.Action) {
	switch a := a.(type) {
	case rm.Send:
		n.send(a.Msg)
	case rm.Log:
		n.emit(Log{Level: a.Level, Text: a.Text})
	case rm.Reply:
		n.reply(a)
	case rm.ShutdownReady:
		n.stepMem(membership.Shutdown{})
		n.emit(Exiting{})
	case rm.StartGroup:
		n.submit(grouprun.Job{Kind: grouprun.Start, Key: a.Key, Peer: a.TakeoverFrom})
	case rm.StopGroup:
		n.submit(grouprun.Job{Kind: grouprun.Stop, Key: a.Key, Peer: a.KeptBy})
	default: // Fence, Reboot: I/O for the shell
		n.emit(rmAction{a})
	}
}

func (n *Node) submit(j grouprun.Job) { n.onRuns(n.runs.Submit(n.now, j)) }

// onRuns carries the group runs' actions out: script ops go to the shell,
// the end of a start or stop goes to the resource manager through the
// queue (it may be handling the event that submitted the job).
func (n *Node) onRuns(acts []grouprun.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case grouprun.Run:
			n.emit(RunScript{a})
		case grouprun.Log:
			n.emit(Log{Entity: EntityResourceManager, Level: a.Level, Text: a.Text})
		case grouprun.Finished:
			switch a.Job.Kind {
			case grouprun.Announce:
				continue // the outcome is in the log
			case grouprun.Monitor:
				n.monitorDone(a)
				continue
			}
			n.queue = append(n.queue, rm.GroupDone{Key: a.Job.Key, Op: rm.GroupOp(a.Job.Kind.String()),
				OK: a.OK, Fatal: a.Fatal, Resource: a.Resource})
		}
	}
}

// fromDeadPeer drops a message that asks us to act (outdate our disk,
// compare digests) when its sender is the peer and the peer is dead here.
// A live peer's message always follows a status that made it alive; one
// from a dead peer is a replay of a recorded packet (membership forgets a
// dead node's sequence numbers, issue 12), and running drbdadm outdate on
// our own disk in the middle of a failover on its say-so would be the
// worst thing to do. rm's messages are judged by rm, which knows the
// peer's state.
func (n *Node) fromDeadPeer(m *wire.Message) bool {
	t := m.Type()
	if t != "start_outdate" && t != "outdate_rc" && t != digestType {
		return false
	}
	src := m.Value("src")
	if src == n.local || src != n.peer || n.alive(src) {
		return false
	}
	n.logf(level.Warn, "%s message from %s ignored: %s is not alive here (a replayed packet?)", t, src, src)
	return true
}

// commUp is the resource manager's CommUp for a peer in status st. Alone
// means the peer was declared dead, as Heartbeat counts it
// (countbystatus(DEADSTATUS)), or there is no peer at all. A peer still in
// "init" has sent packets but not yet its first status message (membership
// goes active on repnodes, which may come first): it is alive and may hold
// its groups, and treating it as absent would start them here too.
func commUp(peer string, st nodestatus.Status) rm.CommUp {
	return rm.CommUp{Alone: peer == "" || st == membership.StatusDead}
}

// ---- admin commands ----

func (n *Node) onAdmin(e Admin) {
	if n.stopping && e.Cmd != CmdCleanup {
		n.emit(AdminReply{ID: e.ID, Text: "heartbeatd is shutting down"})
		return
	}
	n.admins = append(n.admins, pendingAdmin{id: e.ID, cmd: e.Cmd})
	n.stepRM(rm.Admin{Cmd: e.Cmd, Set: e.Set})
}

// reply answers the oldest admin command of rm's reply's kind: rm answers
// each command once, in order.
func (n *Node) reply(r rm.Reply) {
	for i, p := range n.admins {
		if p.cmd == r.Cmd {
			n.admins = append(n.admins[:i], n.admins[i+1:]...)
			n.emit(AdminReply{ID: p.id, OK: r.OK, Text: r.Text})
			return
		}
	}
}

// ---- queries, for the shell's status output and the loop ----

// BusyTick is how often a busy resource manager gets a Tick: its timers
// are in seconds and it runs its state checks on Tick, so a quarter of a
// second is fine enough and costs nothing while it is idle.
const BusyTick = 250 * time.Millisecond

// NextWake is when the node must next get a Tick at the latest: the
// earliest of membership's deadlines, an outdate wait's, a pending
// re-announcement's, a stop retry's, and BusyTick after the last Tick
// while the resource manager has something under way. Zero: nothing is
// due (the shell may sleep as long as it likes).
func (n *Node) NextWake() time.Time {
	w := n.mem.NextWake()
	earlier := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	earlier(n.announce.at)
	earlier(n.runs.NextWake())
	earlier(n.monitorWake())
	for _, o := range n.outdate.waits {
		earlier(o.deadline)
	}
	if !n.rm.Idle() {
		earlier(n.lastTick.Add(BusyTick))
	}
	return w
}

// Idle: the resource manager needs no Tick until the next event.
func (n *Node) Idle() bool { return n.rm.Idle() }

// Membership and RM give the shell read access (cl_status, reload).
func (n *Node) Membership() *membership.Table { return n.mem }
func (n *Node) RM() *rm.Manager               { return n.rm }

// pingReach counts the ping nodes that answer.
func (n *Node) pingReach() rm.PingReach {
	var r rm.PingReach
	for _, p := range n.mem.PingNodes() {
		r.Total++
		if p.Status == membership.StatusPing {
			r.Reachable++
		}
	}
	return r
}

// StatusLine is the node's state in one line, for systemd's STATUS=: each
// node's status, then the resource status.
func (n *Node) StatusLine() string {
	var parts []string
	for _, ni := range n.mem.Nodes() {
		parts = append(parts, ni.Name+" "+string(ni.Status))
	}
	return strings.Join(parts, ", ") + "; resources: " + n.rm.RscStatus()
}

// NodeStatus is membership's status of a node ("" if unknown).
func (n *Node) NodeStatus(name string) nodestatus.Status {
	for _, ni := range n.mem.Nodes() {
		if ni.Name == name {
			return ni.Status
		}
	}
	return ""
}

func (n *Node) alive(name string) bool {
	s := n.NodeStatus(name)
	return s == membership.StatusUp || s == membership.StatusActive
}

// addressResources are the resources of g whose start re-announces an
// address.
func addressResources(g haresources.Group) []haresources.Resource {
	var out []haresources.Resource
	for _, r := range g.Resources {
		if r.Script == "IPaddr" || r.Script == "IPaddr2" {
			out = append(out, r)
		}
	}
	return out
}
