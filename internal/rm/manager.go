package rm

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/level"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// rscState is Heartbeat's resourcestate (hb_rsc_state).
type rscState int

const (
	stateInit rscState = iota
	stateStarting
	stateBothStarting
	stateRscRcvd
	stateStable
	stateShutdown
)

var stateNames = [...]string{"INIT", "STARTING", "BOTHSTARTING", "RSCRCVD", "STABLE", "SHUTDOWN"}

func (s rscState) String() string { return stateNames[s] }

// standbyPhase is Heartbeat's going_standby.
type standbyPhase int

const (
	standbyNot standbyPhase = iota
	standbyMe
	standbyOther
	standbyDone
)

// GroupState is what this node knows about one group here.
type GroupState int

const (
	Stopped GroupState = iota
	Starting
	Running
	Stopping
	// FailedStop: a stop failed and the status still said running. The
	// group may be active here; it is never started here again and never
	// announced as released until an admin runs cleanup.
	FailedStop
)

func (s GroupState) String() string {
	return [...]string{"stopped", "starting", "running", "stopping", "failed-stop"}[s]
}

type group struct {
	haresources.Group
	local bool // home is this node
	state GroupState
	// startFailed: the last start failed and the group was stopped again;
	// retries counts local retries when nobody else can take it.
	startFailed bool
	retries     int
	gaveUp      bool // failed to start too often: left stopped
}

// Manager is the R1 resource manager of one node. Not safe for concurrent use.
type Manager struct {
	cfg    Config
	nice   bool // nice_failback (auto_failback on|off)
	auto   bool // auto_failback on
	groups []*group
	byKey  map[string]*group

	out []Action
	now time.Time
	// self holds messages we sent, applied after the current event as
	// Heartbeat applies its own looped-back copies.
	self []*wire.Message

	commUp      bool // heartbeat_comm_state == COMM_LINKSUP
	rstate      rscState
	iHold       rscSet
	otherHolds  rscSet
	otherStable bool         // other_is_stable
	takeover    bool         // takeover_in_progress (also set while release runs)
	release     releasePhase // our copies of the peer's groups held twice
	reqDeferred bool         // req_our_resources waits for the peer to drop our groups
	healing     bool         // the peer returned after a partition and has not said isstable=1 since
	// peerEpoch counts the peer's deaths, shutdowns and restarts: an
	// ip-request queued under an older epoch is void.
	peerEpoch int
	// peerNewest: the newest messages applied from the peer (overtaken).
	peerNewest   peerPositions
	asked        map[string]bool // legacy: ip-requests we sent, not yet answered
	standby      standbyPhase
	standbyUntil time.Time // standby_running; zero = none
	standbySet   rscSet
	needFailback bool // rsc_needs_failback
	// failbackRetryAt: PerformAutoFailback was delayed (AutoFailbackProc).
	failbackRetryAt time.Time
	// orphanSince: since when nobody has claimed our home groups as far as
	// the peer's messages tell (adoptOrphans); zero = they are claimed.
	orphanSince time.Time

	localTakeoverAt time.Time // local_takeover_time (set once, as Heartbeat)
	localWorkDone   bool      // local_takeover_work_done
	foreignWorkDone bool      // foreign_takeover_work_done
	announced       bool      // init_takeover_announced
	shutdown        shutdownPhase

	peerStatus   nodestatus.Status
	peerPackets  bool // anypacketsyet
	peerHasRsc   bool // legacy has_resources
	peerShutdone bool // the peer's shutdone: Heartbeat marks it dead, membership may not yet

	// failureStandbyAt: when to hand away the set of a group whose start
	// failed (zero = not pending), and which set.
	failureStandbyAt  time.Time
	failureStandbySet rscSet

	fenceRetryAt time.Time  // a fence retry, or the holder policy's delay, is due
	rng          *rand.Rand // the holder policy's random delay
	ping         PingReach  // ping nodes answering, of those configured
	isolatedPeer string     // a dead peer whose recovery waits for a ping node
	fencing      string     // node being fenced
	ipf          ipfailState

	jobs []*job
	cur  *job

	early []*wire.Message // peer's starting/resource before our comm-up

	audited []string // audit's complaints in force, each logged once

	mon monitorBook // monitor failures (monitor.go)
}

const maxEarly = 16

// New returns a manager in state INIT holding nothing.
func New(cfg Config) *Manager {
	cfg.setDefaults()
	cfg.Local = strings.ToLower(cfg.Local)
	cfg.Peer = strings.ToLower(cfg.Peer)
	cfg.Monitor.setDefaults()
	m := &Manager{
		cfg:        cfg,
		nice:       cfg.AutoFailback != FailbackLegacy,
		auto:       cfg.AutoFailback == FailbackOn,
		byKey:      map[string]*group{},
		peerStatus: nodestatus.Init,
		peerHasRsc: true,
		asked:      map[string]bool{},
		rng:        newRand(cfg.Seed),
	}
	for _, g := range cfg.Groups {
		if _, dup := m.byKey[g.Key]; dup {
			continue // the haresources parser rejects duplicates; be safe
		}
		gg := &group{Group: g, local: strings.EqualFold(g.Node, cfg.Local)}
		m.groups = append(m.groups, gg)
		m.byKey[g.Key] = gg
	}
	return m
}

// Step feeds one event at time now and returns what to do.
func (m *Manager) Step(now time.Time, ev Event) []Action {
	m.now = now
	m.out = nil
	m.checkStandbyTimeout()
	switch e := ev.(type) {
	case CommUp:
		m.onCommUp(e)
	case PeerStatus:
		m.onPeerStatus(e)
	case PeerReturned:
		m.onPeerReturned(e)
	case PeerShutdown:
		m.onPeerShutdown(e)
	case Message:
		m.onMessage(e.Msg)
	case Admin:
		m.onAdmin(e)
	case GroupDone:
		m.onGroupDone(e)
	case FenceDone:
		m.onFenceDone(e)
	case PingReach:
		m.onPingReach(e)
	case PeerLinkDead:
		m.ipfailLinkDead()
	case MonitorFailed:
		m.onMonitorFailed(e)
	case Tick:
		m.onTick()
	case Shutdown:
		m.giveupResources()
	}
	m.drain()
	return m.out
}

// drain applies our own messages and starts queued jobs until nothing moves.
func (m *Manager) drain() {
	for i := 0; i < 1000; i++ {
		if len(m.self) > 0 {
			msg := m.self[0]
			m.self = m.self[1:]
			m.applyOwn(msg)
			continue
		}
		if m.cur == nil && len(m.jobs) > 0 {
			m.startNextJob()
			continue
		}
		if m.shutdown == shutDelayed {
			m.shutdownIfNeeded()
			if m.shutdown != shutDelayed {
				continue
			}
		}
		return
	}
	m.logf(LevelError, "resource manager did not settle after 1000 internal steps")
}

func (m *Manager) logf(lv level.Level, format string, args ...any) {
	m.out = append(m.out, Log{Level: lv, Text: fmt.Sprintf(format, args...)})
}

func (m *Manager) emit(a Action) { m.out = append(m.out, a) }

// send emits a cluster message and queues it for our own processing.
func (m *Manager) send(msg *wire.Message) {
	m.out = append(m.out, Send{Msg: msg})
	m.self = append(m.self, msg.Clone())
}

// peerAlive: the peer counts as an active node (req_resource's upcount).
func (m *Manager) peerAlive() bool {
	return m.peerStatus == nodestatus.Active && !m.peerShutdone
}

// failedBits are the sets containing a failed-stop group: we keep claiming
// them so that no peer takes a group that may still run here.
func (m *Manager) failedBits() rscSet {
	var r rscSet
	for _, g := range m.groups {
		if g.state == FailedStop {
			r |= m.setOf(g)
		}
	}
	return r
}

// activeBits are the sets with a group starting, running, stopping or
// failed-stop here.
func (m *Manager) activeBits() rscSet {
	var r rscSet
	for _, g := range m.groups {
		if g.state != Stopped {
			r |= m.setOf(g)
		}
	}
	return r
}

func (m *Manager) setOf(g *group) rscSet {
	if g.local {
		return rscLocal
	}
	return rscForeign
}

// keysOf lists the group keys of a set from our point of view, file order.
func (m *Manager) keysOf(s rscSet) []string {
	var keys []string
	for _, g := range m.groups {
		if s&m.setOf(g) != 0 {
			keys = append(keys, g.Key)
		}
	}
	return keys
}

// isStable is hb_rsc_isstable.
func (m *Manager) isStable() bool {
	busy := m.cur != nil || len(m.jobs) > 0
	if !m.nice {
		return !busy
	}
	if m.shutdown == shutDelayed && m.rstate == stateInit {
		return true
	}
	return m.otherStable && !m.takeover && m.standby == standbyNot &&
		m.standbyUntil.IsZero() && !busy &&
		(m.rstate == stateStable || m.rstate == stateShutdown || m.rstate == stateInit)
}

// Idle reports that a Tick cannot change anything until the next event:
// every phase is at rest (start-up negotiation done, no standby exchange,
// release or shutdown), no deadline is pending (standby, auto-failback
// retry, failure standby, fencing retry), no job runs or waits, and no
// takeover, deferred acquisition or heal is under way. Every other check
// of onTick depends only on state that events change, and the daemon ticks
// the manager right after every event, so an idle manager needs no timer.
// It is deliberately conservative: anything in progress counts as busy,
// and a busy manager is ticked as before.
func (m *Manager) Idle() bool {
	atRest := m.rstate == stateStable && m.standby == standbyNot &&
		m.release == relNone && m.shutdown == shutNone
	noDeadline := m.standbyUntil.IsZero() && m.failbackRetryAt.IsZero() &&
		m.failureStandbyAt.IsZero() && m.fencing == "" && m.fenceRetryAt.IsZero() && m.orphanSince.IsZero()
	noWork := m.cur == nil && len(m.jobs) == 0 && len(m.self) == 0 && len(m.asked) == 0
	return atRest && noDeadline && noWork &&
		m.otherStable && !m.takeover && !m.reqDeferred && !m.healing && m.ipfailIdle()
}

// RscStatus is `cl_status rscstatus`: none, local, foreign, all or transition.
func (m *Manager) RscStatus() string {
	if !m.isStable() {
		return "transition"
	}
	if !m.nice {
		// Legacy Heartbeat never updates i_hold_resources; report what runs.
		return m.runningSet().String()
	}
	return (m.iHold | m.failedBits()).String()
}

func (m *Manager) runningSet() rscSet {
	var r rscSet
	for _, g := range m.groups {
		if g.state == Running || g.state == FailedStop {
			r |= m.setOf(g)
		}
	}
	return r
}

// Held lists the keys of groups that are (or may be) active here:
// starting, running, stopping or failed-stop.
func (m *Manager) Held() []string {
	var keys []string
	for _, g := range m.groups {
		if g.state != Stopped {
			keys = append(keys, g.Key)
		}
	}
	return keys
}

// ShutdownBlocked reports a graceful stop that waits for an admin: a group
// failed to stop and may still run here.
func (m *Manager) ShutdownBlocked() bool { return m.shutdown == shutBlocked }

// Groups returns each group's state here, by key.
func (m *Manager) Groups() map[string]GroupState {
	r := make(map[string]GroupState, len(m.groups))
	for _, g := range m.groups {
		r[g.Key] = g.state
	}
	return r
}

// State describes the Heartbeat bookkeeping, for debugging and tests.
func (m *Manager) State() string {
	var held []string
	for _, g := range m.groups {
		held = append(held, g.Key+"="+g.state.String())
	}
	sort.Strings(held)
	return fmt.Sprintf("rstate=%s ihold=%s other=%s otherstable=%v standby=%d jobs=%d cur=%v groups=[%s]",
		m.rstate, m.iHold, m.otherHolds, m.otherStable, m.standby, len(m.jobs), m.cur != nil, strings.Join(held, " "))
}

// ---- messages we send (field order as Heartbeat 3.0.6 writes them) ----

func msgResource(hold rscSet, stable bool, info string) *wire.Message {
	msg := wire.New("resource")
	msg.Set("rsc_hold", hold.String())
	msg.Set("rtype", "full")
	if stable {
		msg.Set("isstable", "1")
	} else {
		msg.Set("isstable", "0")
	}
	if info != "" {
		msg.Set("info", info)
	}
	return msg
}

// sendResourcesHeld is hb_send_resources_held (nice_failback only).
func (m *Manager) sendResourcesHeld(stable bool, info string) {
	if !m.nice {
		return
	}
	hold := m.iHold | m.failedBits()
	if stable {
		// Never call ourselves stable without claiming every group that
		// may be active here, whatever the bookkeeping says: the peer
		// adopts what nobody claims.
		hold |= m.activeBits()
	}
	m.send(msgResource(hold, stable, info))
}

// sendStandbyMsg sends ask_resources; extra is field, value pairs after
// Heartbeat's own fields.
func (m *Manager) sendStandbyMsg(info string, extra ...string) {
	msg := wire.New("ask_resources")
	msg.Set("rsc_hold", m.standbySet.String())
	msg.Set("info", info)
	for i := 0; i+1 < len(extra); i += 2 {
		msg.Set(extra[i], extra[i+1])
	}
	m.send(msg)
}

func (m *Manager) sendStonith(node, result string) {
	msg := wire.New("stonith")
	msg.Set("node", node)
	msg.Set("result", result)
	m.send(msg)
}
