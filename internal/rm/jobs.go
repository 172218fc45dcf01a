package rm

import (
	"slices"
	"strings"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// jobKind names the Heartbeat child process a job stands for. Heartbeat runs
// these as forked children (req_our_resources, mach_down via harc, go_standby,
// hb_giveup_resources, rc.d ip-request/ip-request-resp); we run them one at a
// time, in order, so that no two ever act on the same group at once.
type jobKind int

const (
	jobReqOur         jobKind = iota // req_our_resources
	jobMachDown                      // mach_down <node>
	jobStandbyGive                   // go_standby(ME)
	jobStandbyTake                   // go_standby(OTHER)
	jobGiveupAll                     // hb_giveup_resources (shutdown)
	jobIPRequest                     // rc.d ip-request: release for the peer
	jobIPResp                        // rc.d ip-request-resp: take a group
	jobReleaseForeign                // partition healed: home node keeps its groups
	jobRollback                      // standby aborted: restart what we stopped
	jobRetryStart                    // a failed group nobody else can take
	jobIsolatedStop                  // the ping tie-breaker: the isolated node lets go (isolated.go)
)

type job struct {
	kind     jobKind
	start    bool     // start (true) or stop the keys
	keys     []string // groups to act on, file order
	node     string   // mach_down: dead node
	set      rscSet   // standby: resource set acted on (from our view)
	reqSet   rscSet   // standby: the set named in the exchange
	ipKey    string   // ip-request / ip-request-resp: the group
	pending  map[string]bool
	fatal    []string // groups that failed to stop
	touched  int      // groups actually started or stopped
	weOwn    bool     // ip-request: we held the group
	asked    bool     // req_our_resources ran with a live peer ("(ask)")
	running  []string // groups that were running when the stop job began
	prevHold rscSet   // standby give: i_hold_resources before the exchange
	epoch    int      // ip-request: peer epoch when it asked
}

func (m *Manager) queue(j *job) { m.jobs = append(m.jobs, j) }

func (m *Manager) startNextJob() {
	j := m.jobs[0]
	m.jobs = m.jobs[1:]
	m.cur = j
	j.pending = map[string]bool{}
	switch j.kind {
	case jobReqOur:
		m.runReqOur(j)
	case jobMachDown:
		j.keys = m.keysOf(rscForeign)
		for _, k := range j.keys {
			if m.byKey[k].state != Running {
				m.logf(LevelInfo, "Taking over resource group %s", k)
			}
		}
		m.startKeys(j)
	case jobStandbyGive:
		m.logf(LevelInfo, "give up %s HA resources (standby).", j.set)
		j.keys = m.keysOf(j.set)
		m.stopKeys(j)
	case jobStandbyTake:
		m.logf(LevelInfo, "acquire %s HA resources (standby).", j.set)
		j.keys = m.keysOf(j.set)
		m.startKeys(j)
	case jobGiveupAll:
		m.logf(LevelInfo, "Giving up all HA resources.")
		j.keys = m.keysOf(rscAll)
		m.stopKeys(j)
	case jobIsolatedStop:
		j.keys = m.Held()
		m.stopKeys(j)
	case jobIPRequest:
		g := m.byKey[j.ipKey]
		if j.epoch != m.peerEpoch {
			// The peer that asked has stopped, died or restarted since:
			// nobody waits for the answer, and releasing would orphan it.
			m.logf(LevelInfo, "ip-request for %s from an earlier run of %s dropped.", j.ipKey, m.cfg.Peer)
			break
		}
		g.startFailed = false // the peer takes it now
		j.weOwn = g.state == Running || g.state == Starting
		if g.state == FailedStop {
			m.failedStopWarning(g, "not released to "+m.cfg.Peer+" (ip-request)")
		} else if j.weOwn {
			j.keys = []string{j.ipKey}
			m.stopKeys(j)
		}
	case jobRollback:
		m.rollbackKeys(j)
		m.startKeys(j)
	case jobIPResp, jobReleaseForeign, jobRetryStart:
		if j.start {
			m.startKeys(j)
		} else {
			m.stopKeys(j)
		}
	}
	if len(j.pending) == 0 {
		m.finishJob()
	}
}

// rollbackKeys drops from an aborted standby's restart the groups whose set
// the peer claims now. The peer claims a set of ours while it may run one
// of its groups — typically one that failed to stop there (a heartbeatd
// peer keeps claiming it until cleanup) — and rsc_hold cannot say which
// group, so restarting any of them could run a group on both nodes. They
// stay stopped and held; adoptOrphans starts them once the claim is gone.
func (m *Manager) rollbackKeys(j *job) {
	if !m.nice || !m.peerAlive() {
		return
	}
	var keep, held []string
	for _, k := range j.keys {
		g := m.byKey[k]
		if g.state == Stopped && m.otherHolds&m.setOf(g).complement() != 0 {
			held = append(held, k)
			continue
		}
		keep = append(keep, k)
	}
	if len(held) > 0 {
		m.logf(LevelWarn, "Resource group(s) %s not restarted after the aborted standby: %s claims them (it may still run one); they start once its claim is gone.",
			strings.Join(held, ", "), m.cfg.Peer)
	}
	j.keys = keep
}

// runReqOur is req_our_resources' child: req_resource for each local group.
func (m *Manager) runReqOur(j *job) {
	// Heartbeat's req_resource takes the group without asking when fewer
	// than two nodes are active (HA_DONTASK). A peer that is alive but not
	// yet "active" here (its repnodes came before its first status) may
	// hold our groups since it took them over, and would never hear that
	// we took them too: both would run them. We ask unless the peer is
	// known to be gone.
	alone := m.peerStatus == nodestatus.Dead || m.peerShutdone
	j.asked = !alone
	if m.nice && !alone && (m.otherHolds&rscForeign != 0 || (m.healing && !m.otherStable)) {
		// The peer still claims our groups (e.g. it is releasing the copies
		// it took during a partition), or has not yet said it is stable
		// since the partition healed (it may be stopping groups it no
		// longer claims, as in a shutdown): starting them now could run
		// them twice. Acquire once its claim is gone and it is stable.
		m.logf(LevelInfo, "Acquisition of our resources deferred: %s still holds them.", m.cfg.Peer)
		m.reqDeferred = true
		j.keys = nil
		return
	}
	var start []string
	for _, g := range m.groups {
		if !g.local {
			continue
		}
		j.keys = append(j.keys, g.Key)
		if g.state == Running || g.state == Starting {
			continue // req_resource: the key resource reports running
		}
		if alone || m.nice {
			// req_resource tells itself to take the group; the copy is seen
			// on the wire (A-main 01, B-legacy 01).
			m.send(msgIPResp(m.cfg.Local, g.Key, true))
			start = append(start, g.Key)
		} else {
			msg := wire.New("ip-request")
			msg.Set("ipaddr", g.Key)
			m.send(msg)
			m.asked[g.Key] = true
		}
	}
	full := j.keys
	j.keys = start
	m.startKeys(j)
	j.keys = full
}

// offerReleased (legacy) answers the ip-requests the home node may have
// sent while we were partitioned: a peer that did not notice the partition
// still waits for them (they were lost, and Heartbeat does not resend to a
// node it declared dead), and legacy has no other way to hand a group back.
// A heartbeatd peer takes only what it asked for; a 3.0.6 peer takes any
// group offered, which is its own home group here.
func (m *Manager) offerReleased(j *job) {
	running := map[string]bool{}
	for _, k := range j.running {
		running[k] = true
	}
	for _, k := range j.keys {
		if m.byKey[k].state == Stopped {
			m.send(msgIPResp(m.cfg.Peer, k, running[k]))
		}
	}
}

func msgIPResp(dest, key string, weOwn bool) *wire.Message {
	msg := wire.New("ip-request-resp")
	msg.Set("dest", dest)
	msg.Set("ipaddr", key)
	if weOwn {
		msg.Set("weown", "yes")
	} else {
		msg.Set("weown", "no")
	}
	msg.Set("ok", "OK")
	return msg
}

func (m *Manager) startKeys(j *job) {
	for _, k := range j.keys {
		g := m.byKey[k]
		switch g.state {
		case Running, Starting:
			continue
		case FailedStop:
			m.failedStopWarning(g, "not started here")
			continue
		case Stopping:
			// Cannot happen with one job at a time; never start over a stop.
			m.logf(LevelError, "resource group %s is stopping; not started", k)
			continue
		}
		g.state = Starting
		j.pending[k] = true
		j.touched++
		m.emit(StartGroup{Key: k, TakeoverFrom: m.deadPeer()})
	}
}

// deadPeer names the peer when a start now would take over from it: it was
// heard in this run, is dead, and did not say shutdone (a peer that shut
// down released its groups, and one never heard is a start at boot). Its
// node may still be up with its daemon crashed or hung, still answering for
// the group's addresses; see StartGroup.
func (m *Manager) deadPeer() string {
	if m.peerStatus == nodestatus.Dead && m.peerPackets && !m.peerShutdone {
		return m.cfg.Peer
	}
	return ""
}

// stopKeys releases every listed group, held or not: Heartbeat's givegroup
// runs the stop scripts regardless, which also cleans up a group left
// running by a crashed daemon (every stop must succeed when stopped).
func (m *Manager) stopKeys(j *job) {
	for _, k := range j.keys {
		g := m.byKey[k]
		if g.state == Stopping || g.state == Starting {
			m.logf(LevelError, "resource group %s is busy (%s); not stopped", k, g.state)
			continue
		}
		if g.state == FailedStop && j.kind != jobGiveupAll {
			continue
		}
		g.startFailed = false // released on purpose: not ours to retry
		if g.state == Running {
			j.running = append(j.running, k)
		}
		g.state = Stopping
		j.pending[k] = true
		j.touched++
		stop := StopGroup{Key: k}
		if j.kind == jobReleaseForeign {
			stop.KeptBy = m.cfg.Peer
		}
		m.emit(stop)
	}
}

func (m *Manager) onGroupDone(e GroupDone) {
	g := m.byKey[e.Key]
	j := m.cur
	if g == nil || j == nil || !j.pending[e.Key] {
		m.logf(LevelError, "unexpected result of %s %s (ok=%v); ignored", e.Op, e.Key, e.OK)
		return
	}
	res := e.Resource
	if res == "" {
		res = e.Key
	}
	switch {
	case e.Op == OpStart && g.state == Starting && e.OK:
		g.state = Running
		g.startFailed = false
		g.gaveUp = false
		g.retries = 0
		delete(j.pending, e.Key)
	case e.Op == OpStart && g.state == Starting:
		// ResourceManager: the whole group is stopped again, and 30 s later
		// hb_standby hands the set to the other node. The executor has
		// already released it (and logged "Giving up resources due to
		// failure of ..."); only a failed release needs another stop here.
		g.startFailed = true
		m.scheduleFailureStandby(g)
		outlook := m.failureOutlook(g)
		if e.Fatal {
			outlook = "releasing it failed too: stopping it again; if that succeeds, " + outlook
		}
		m.logf(LevelError, "resource group %s failed to start on %s (%s failed)%s: %s",
			e.Key, m.cfg.Local, res, m.takeoverNote(), outlook)
		if e.Fatal {
			g.state = Stopping
			m.emit(StopGroup{Key: e.Key})
			break
		}
		g.state = Stopped
		delete(j.pending, e.Key)
	case e.Op == OpStop && g.state == Stopping && e.OK:
		g.state = Stopped
		delete(j.pending, e.Key)
	case e.Op == OpStop && g.state == Stopping && !e.Fatal:
		m.logf(LevelWarn, "Resource %s stop failed but its status says stopped: the script is probably not LSB-compliant; it MUST succeed on a stop when already stopped", res)
		g.state = Stopped
		delete(j.pending, e.Key)
	case e.Op == OpStop && g.state == Stopping:
		g.state = FailedStop
		delete(j.pending, e.Key)
		j.fatal = append(j.fatal, e.Key)
		// The executor has already logged Heartbeat's "Resource STOP
		// failure. Reboot required!" for this event; say what it means here.
		m.logf(LevelCrit, "resource %s failed to stop on %s; it may still be active there. "+
			"It will not be started here again and %s keeps announcing it as held so the peer does not take it. "+
			"Fix it, make sure it is stopped, then run `heartbeatd cleanup %s`.", e.Key, m.cfg.Local, m.cfg.Local, e.Key)
		// Tell the peer at once that we may still hold it, so that it
		// fences us (or at least does not take the group as given up).
		m.sendResourcesHeld(false, "")
		if m.cfg.OnStopFailure != OnStopFailureBlock {
			m.emit(Reboot{Reason: "resource " + e.Key + " failed to stop"})
		}
	default:
		m.logf(LevelError, "unexpected result of %s %s in state %s; ignored", e.Op, e.Key, g.state)
		return
	}
	if len(j.pending) == 0 {
		m.finishJob()
	}
}

func (m *Manager) failedStopWarning(g *group, what string) {
	m.logf(LevelWarn, "resource %s failed to stop on %s earlier and may still be active: %s. Fix it, then run `heartbeatd cleanup %s`.",
		g.Key, m.cfg.Local, what, g.Key)
}

func (m *Manager) finishJob() {
	j := m.cur
	m.cur = nil
	switch j.kind {
	case jobReqOur:
		if len(j.keys) == 0 {
			m.logf(LevelInfo, "No local resources [/usr/share/heartbeat/ResourceManager listkeys %s] to acquire.", m.cfg.Local)
		} else {
			m.logf(LevelInfo, "Local Resource acquisition completed.")
		}
		m.sendResourcesHeld(true, "req_our_resources()")
		if !j.asked {
			// Heartbeat names the child "req_our_resources(ask)" when a peer
			// is up, and only the plain name counts as local work done.
			m.localWorkDone = true
			m.announceTakeover("req_our_resources")
		}
	case jobMachDown:
		if failed := m.failedStarts(j.keys); len(failed) > 0 {
			// Heartbeat says "complete" whatever happened; an admin
			// reading that after a failed start would think the
			// service moved.
			m.logf(LevelError, "mach_down takeover for node %s incomplete: resource group(s) %s failed to start.", j.node, strings.Join(failed, ", "))
		} else {
			m.logf(LevelInfo, "mach_down takeover complete for node %s.", j.node)
		}
		if m.nice {
			msg := wire.New("resource")
			msg.Set("rsc_hold", "foreign")
			msg.Set("info", "mach_down")
			m.send(msg)
		} else {
			m.foreignWorkDone = true
			m.announceTakeover("status")
		}
	case jobStandbyGive:
		m.logf(LevelInfo, "%s HA resource release completed (standby).", j.set)
		// A group of the set that failed to stop before this job ran
		// (e.g. a failed start's release during the exchange) is as
		// stuck as one that failed in it: "done" would let the peer
		// start it while it may run here (simulator seed 39069).
		for _, g := range m.groups {
			if g.state == FailedStop && j.set&m.setOf(g) != 0 && !slices.Contains(j.fatal, g.Key) {
				j.fatal = append(j.fatal, g.Key)
			}
		}
		if len(j.fatal) > 0 {
			m.abortStandbyAfterStopFailure(j)
			return
		}
		m.sendStandbyMsg("done")
	case jobStandbyTake:
		m.logf(LevelInfo, "%s HA resource acquisition completed (standby).", j.set)
		if m.nice && m.standby != standbyDone {
			// The exchange was cancelled meanwhile (the peer restarted,
			// died or re-synced): nobody waits for "done", and our own
			// copy would be ignored, leaving what we started unclaimed.
			m.iHold |= j.set
			m.sendResourcesHeld(m.isStable(), "")
			return
		}
		m.sendStandbyMsg("done")
	case jobGiveupAll:
		var stuck []string
		for _, g := range m.groups {
			if g.state == FailedStop {
				stuck = append(stuck, g.Key)
			}
		}
		if len(stuck) > 0 {
			m.shutdown = shutBlocked
			m.logf(LevelCrit, "Shutdown blocked: resource group(s) %s failed to stop and may still be active on %s. "+
				"Leaving now would let %s take them over while they run here. Fix them, run `heartbeatd cleanup KEY`, then stop heartbeatd again.",
				strings.Join(stuck, ", "), m.cfg.Local, m.cfg.Peer)
			// Keep telling the peer what we may still hold.
			if m.nice {
				m.send(msgResource(m.failedBits(), false, "shutdown"))
			}
			return
		}
		m.logf(LevelInfo, "All HA resources relinquished.")
		m.shutdown = shutReady
		m.emit(ShutdownReady{})
	case jobIPRequest:
		g := m.byKey[j.ipKey]
		if g.state == FailedStop || j.epoch != m.peerEpoch {
			return // no answer: the requester leaves the group down
		}
		m.send(msgIPResp(m.cfg.Peer, j.ipKey, j.weOwn))
	case jobIPResp:
		m.localWorkDone = true
		m.announceTakeover("ip-request-resp")
	case jobRollback:
		m.sendResourcesHeld(true, "")
	case jobRetryStart:
	case jobIsolatedStop:
		m.logf(LevelInfo, "Resources released: this node reaches none of its ping nodes.")
		m.sendResourcesHeld(true, "")
	case jobReleaseForeign:
		m.logf(LevelInfo, "Partition resolved: groups of %s released.", m.cfg.Peer)
		if m.release == relRunning && !m.nice && m.peerAlive() {
			m.offerReleased(j)
		}
		if m.release == relRunning {
			// No new takeover (shutdone, death) claimed them meanwhile.
			m.takeover = false
			if m.nice {
				m.iHold &^= rscForeign
			}
			m.release = relNone
		}
		m.sendResourcesHeld(true, "")
	}
}
