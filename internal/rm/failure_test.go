package rm

import (
	"strings"
	"testing"
	"time"
)

func stablePair(t *testing.T, mode string) *world {
	w := startPair(t, mode)
	w.run(20 * time.Second)
	wantOwners(t, w, "pa1")
	return w
}

// A group whose start fails is stopped again (CRIT "Giving up resources due
// to failure of ..."), and 30 s later its set goes to the peer by standby.
func TestStartFailureHandsGroupToPeer(t *testing.T) {
	w := newWorld(t, FailbackOn, testGroups())
	failures := 1
	w.opResult = func(n int, key, op string) (bool, bool) {
		if n == 0 && op == "start" && failures > 0 {
			failures--
			return false, false
		}
		return true, false
	}
	w.start(0)
	w.run(2 * time.Second)
	w.start(1)
	w.run(13 * time.Second)
	wantOwners(t, w) // stopped again after the failed start
	wantLog(t, w.nodes[0], "ERROR: resource group 10.201.0.100/24/eth1 failed to start on pa1 (10.201.0.100/24/eth1 failed): handing it to pa2 (standby) in 30s")
	wantStops(t, w.nodes[0], 0) // the executor released it; rm does not stop it again
	w.run(25 * time.Second)
	wantOwners(t, w)
	w.run(10 * time.Second)
	wantOwners(t, w, "pa2")
	wantLog(t, w.nodes[0], "Going standby [local].", "Local standby process completed [local].")
	wantLog(t, w.nodes[1], "pa1 wants to go standby [local]", "Standby resource acquisition done [local].")
}

// With nobody to hand the group to, it stays down with a clear line.
func TestStartFailureAlone(t *testing.T) {
	w := newWorld(t, FailbackOn, testGroups())
	w.opResult = func(n int, key, op string) (bool, bool) { return op != "start", false }
	w.start(0)
	w.run(200 * time.Second)
	wantOwners(t, w)
	wantLog(t, w.nodes[0], "WARN: No STONITH device configured.",
		"failed to start on pa1 (10.201.0.100/24/eth1 failed): attempt 1 of 4 failed; next attempt in 30s",
		"failed to start and nobody else can take it: retrying (3 of 3).",
		"failed to start on pa1 (10.201.0.100/24/eth1 failed): attempt 4 of 4 failed; it stays stopped",
		"failed to start 4 times and nobody else can take it: it stays stopped.")
	wantStops(t, w.nodes[0], 0)
	if got := countLog(w.nodes[0], "StartGroup "); got != 4 {
		t.Fatalf("pa1 started the group %d times, want 4 (1 + 3 retries):\n%s", got, strings.Join(w.nodes[0].logs, "\n"))
	}
	fs := w.nodes[0].m.FailedStarts()
	if len(fs) != 1 || !fs[0].GaveUp || fs[0].Attempts != 4 || fs[0].Max != 4 || !fs[0].Next.IsZero() {
		t.Fatalf("FailedStarts after giving up = %+v", fs)
	}
}

// The crash-takeover defect: the peer's daemon dies while its node stays
// up, holding the group. The survivor's takeover start names the dead
// peer (so IPaddr skips the probe that would hear the old node answer),
// a start at boot does not, and a takeover that fails for another reason
// is one error line per attempt, retried on a visible schedule, with no
// "takeover complete" after a failure and no second stop.
func TestCrashTakeoverNamesDeadPeerAndIsBounded(t *testing.T) {
	w := newWorld(t, FailbackLegacy, testGroups())
	var starts []StartGroup
	w.onStartAction = func(n int, a StartGroup) {
		if n == 1 {
			starts = append(starts, a)
		}
	}
	w.start(0)
	w.run(2 * time.Second)
	w.start(1)
	w.run(20 * time.Second)
	wantOwners(t, w, "pa1")
	if len(starts) != 0 {
		t.Fatalf("pa2 started %+v while pa1 held the group", starts)
	}
	w.opResult = func(n int, key, op string) (bool, bool) { return !(n == 1 && op == "start"), false }
	w.crash(0, false) // the daemon dies; the group keeps running on pa1's node
	w.run(10 * time.Second)
	if len(starts) != 1 || starts[0].TakeoverFrom != "pa1" {
		t.Fatalf("takeover starts on pa2 = %+v, want one naming pa1", starts)
	}
	wantLog(t, w.nodes[1], "ERROR: resource group 10.201.0.100/24/eth1 failed to start on pa2 (10.201.0.100/24/eth1 failed) while taking over from dead node pa1: attempt 1 of 4 failed; next attempt in 30s",
		"ERROR: mach_down takeover for node pa1 incomplete: resource group(s) 10.201.0.100/24/eth1 failed to start.")
	if countLog(w.nodes[1], "takeover complete") != 0 {
		t.Fatalf("pa2 logged a complete takeover after a failed start:\n%s", strings.Join(w.nodes[1].logs, "\n"))
	}
	fs := w.nodes[1].m.FailedStarts()
	if len(fs) != 1 || fs[0].Attempts != 1 || fs[0].Max != 4 || fs[0].GaveUp || fs[0].Next.Sub(w.now) <= 0 || fs[0].Next.Sub(w.now) > 30*time.Second {
		t.Fatalf("FailedStarts after the first failure = %+v (now %s)", fs, w.now)
	}
	w.run(200 * time.Second)
	if len(starts) != 4 {
		t.Fatalf("pa2 made %d takeover attempts, want 4", len(starts))
	}
	for _, s := range starts {
		if s.TakeoverFrom != "pa1" {
			t.Fatalf("a retry of the takeover lost the dead peer's name: %+v", starts)
		}
	}
	if got := countLog(w.nodes[1], "ERROR: resource group 10.201.0.100/24/eth1 failed to start"); got != 4 {
		t.Fatalf("%d failed-start error lines, want one per attempt (4)", got)
	}
	wantStops(t, w.nodes[1], 0)
}

// A start at boot, with a peer never heard, keeps the probe.
func TestBootStartDoesNotClaimTakeover(t *testing.T) {
	w := newWorld(t, FailbackLegacy, testGroups())
	var starts []StartGroup
	w.onStartAction = func(n int, a StartGroup) { starts = append(starts, a) }
	w.start(0)
	w.run(20 * time.Second)
	wantOwners(t, w, "pa1")
	if len(starts) != 1 || starts[0].TakeoverFrom != "" {
		t.Fatalf("boot start = %+v, want one with no TakeoverFrom", starts)
	}
}

func countLog(n *simNode, sub string) int {
	c := 0
	for _, l := range n.logs {
		if strings.Contains(l, sub) {
			c++
		}
	}
	return c
}

func wantStops(t *testing.T, n *simNode, want int) {
	t.Helper()
	if got := countLog(n, "StopGroup "); got != want {
		t.Fatalf("%s: %d StopGroup actions, want %d:\n%s", n.name, got, want, strings.Join(n.logs, "\n"))
	}
}

// A stop that fails with the status still running (Fatal) during hb_standby:
// the group is failed-stop, "done" is never sent, the peer never starts it,
// and we keep announcing it. cleanup clears it.
func TestStopFailureBlocksHandover(t *testing.T) {
	w := stablePair(t, FailbackOn)
	w.opResult = func(n int, key, op string) (bool, bool) {
		if n == 0 && op == "stop" {
			return false, true
		}
		return true, false
	}
	mark := len(w.wireLog)
	if r := w.admin(0, "standby", "all"); !r.OK {
		t.Fatalf("standby: %+v", r)
	}
	w.run(5 * time.Second)
	wantOwners(t, w, "pa1")
	for _, l := range w.wireSince(mark) {
		if strings.Contains(l, "info=done") {
			t.Fatalf("done sent after a failed stop: %q\n%s", l, w.dump())
		}
	}
	wantLog(t, w.nodes[0], "CRIT: resource 10.201.0.100/24/eth1 failed to stop on pa1; it may still be active there",
		"heartbeatd cleanup 10.201.0.100/24/eth1", "Standby [all] aborted")
	// Heartbeat's own line is the executor's (internal/script), logged once
	// per event; rm must not repeat it.
	if w.nodes[0].hasLog("Resource STOP failure") {
		t.Errorf("rm logged the executor's STOP failure line again:\n%s", w.dump())
	}
	if st := w.nodes[0].m.Groups()[key]; st != FailedStop {
		t.Fatalf("group state on pa1 = %s, want failed-stop", st)
	}
	if s := w.nodes[0].m.RscStatus(); s != "local" {
		t.Fatalf("pa1 rscstatus = %s, want local (it may still hold the group)", s)
	}
	// A new standby request is refused while the group is failed-stop.
	if r := w.admin(0, "standby", "all"); r.OK || !strings.Contains(r.Text, "failed to stop") {
		t.Fatalf("standby with failed-stop group: %+v", r)
	}
	// pa1 dies without rebooting: pa2 must STONITH (pa1 claimed "local").
	// Shutdown is blocked while the group is failed-stop.
	w.step(0, Shutdown{})
	w.run(3 * time.Second)
	wantLog(t, w.nodes[0], "Shutdown blocked")
	if w.nodes[0].shutdownDone {
		t.Fatal("pa1 sent shutdone with a failed-stop group")
	}
	wantOwners(t, w, "pa1")
	// The admin fixes it and cleans up: the shutdown completes, pa2 takes over.
	w.nodes[0].actual[key] = actDown
	if r := w.admin(0, "cleanup", key); !r.OK {
		t.Fatalf("cleanup: %+v", r)
	}
	w.run(3 * time.Second)
	wantOwners(t, w, "pa2")
}

// With the default policy a fatal stop failure asks the shell to reboot.
func TestStopFailureReboot(t *testing.T) {
	w := newWorld(t, FailbackOn, testGroups())
	w.cfgs[0].OnStopFailure = ""
	w.start(0)
	w.run(2 * time.Second)
	w.start(1)
	w.run(20 * time.Second)
	w.opResult = func(n int, key, op string) (bool, bool) { return op != "stop" || n != 0, true }
	w.admin(0, "standby", "all")
	w.run(time.Second)
	wantLog(t, w.nodes[0], "Reboot: resource 10.201.0.100/24/eth1 failed to stop")
	// The reboot clears pa1; pa2 sees it dead and takes over (STONITH needed:
	// pa1 was still claiming the group).
	w.opResult = func(int, string, string) (bool, bool) { return true, false }
	w.run(10 * time.Second)
	wantOwners(t, w, "pa2")
	wantLog(t, w.nodes[1], "WARN: No STONITH device configured.")
}

// The peer dies while we are taking over from it by hb_takeover.
func TestPeerDiesDuringTakeover(t *testing.T) {
	w := stablePair(t, FailbackOff)
	w.admin(0, "standby", "all")
	w.run(5 * time.Second)
	wantOwners(t, w, "pa2")
	w.opTime = func(n int, key, op string) time.Duration {
		if n == 1 && op == "stop" {
			return 3 * time.Second
		}
		return 100 * time.Millisecond
	}
	w.admin(0, "takeover", "all")
	w.run(time.Second) // pa2 is stopping the group now
	if st := w.nodes[1].m.Groups()[key]; st != Stopping {
		t.Fatalf("pa2 group = %s, want stopping\n%s", st, w.dump())
	}
	w.crash(1, true)
	w.run(8 * time.Second)
	wantOwners(t, w, "pa1")
	wantLog(t, w.nodes[0], "Cancelling pending standby operation", "Dead node pa2 gave up resources.")
}

// Standby requests during a transition are refused with Heartbeat's words.
func TestStandbyDuringTransition(t *testing.T) {
	w := startPair(t, FailbackOn)
	w.run(3 * time.Second) // negotiating: RSCRCVD, waiting for the fallback
	r := w.admin(0, "standby", "all")
	if r.OK || !strings.Contains(r.Text, "ignored.  Other side is in flux.") {
		t.Fatalf("standby during negotiation: %+v", r)
	}
	w.run(20 * time.Second)
	w.opTime = func(int, string, string) time.Duration { return 2 * time.Second }
	if r := w.admin(0, "standby", "all"); !r.OK {
		t.Fatalf("standby: %+v", r)
	}
	w.run(500 * time.Millisecond)
	r = w.admin(0, "standby", "all")
	if r.OK || !strings.Contains(r.Text, "Standby in progress- new request from pa1 ignored") {
		t.Fatalf("second standby: %+v", r)
	}
	// The peer asking at the same time gets the in-progress warning too.
	w.run(5 * time.Second)
	wantOwners(t, w, "pa2")
}

// A peer's "me" while we are negotiating is ignored with the flux line.
func TestPeerStandbyWhileInFlux(t *testing.T) {
	w := startPair(t, FailbackOn)
	w.run(3 * time.Second)
	msg := msgFrom("pa2", "ask_resources", "rsc_hold", "all", "info", "me")
	w.step(0, Message{Msg: msg})
	wantLog(t, w.nodes[0], "WARN: standby message [me] from pa2 ignored.  Other side is in flux.")
}

// Both nodes start at the same moment: nobody is stable, and both take
// their own groups 10 s after entering RSCRCVD.
func TestBothStartAtOnce(t *testing.T) {
	w := newWorld(t, FailbackOn, testGroups())
	w.start(0)
	w.start(1)
	w.run(10 * time.Second)
	wantOwners(t, w)
	w.run(1 * time.Second)
	wantOwners(t, w, "pa1")
	wantLog(t, w.nodes[0], "local resource transition completed.")
	wantLog(t, w.nodes[1], "local resource transition completed.")
}

// hb_standby with no answer (messages lost) is cancelled after 10 s.
func TestStandbyTimeout(t *testing.T) {
	w := stablePair(t, FailbackOn)
	w.partition()
	if r := w.admin(0, "standby", "all"); !r.OK {
		t.Fatalf("standby: %+v", r)
	}
	w.run(3 * time.Second) // shorter than deadtime: pa2 stays alive
	w.lost = nil           // and the request is beyond retransmission
	w.heal()
	w.run(6900 * time.Millisecond)
	if w.nodes[0].hasLog("No reply to standby request") {
		t.Fatal("standby cancelled early")
	}
	w.run(300 * time.Millisecond)
	wantLog(t, w.nodes[0], "WARN: No reply to standby request.  Standby request cancelled.")
	wantOwners(t, w, "pa1")
}

// hb_takeover mapping: failback is sent as "local" (a 3.0.6 peer would go
// standby [all] on "failback"); received "failback" means foreign.
func TestTakeoverFailbackMapping(t *testing.T) {
	w := stablePair(t, FailbackOff)
	w.admin(0, "standby", "all")
	w.run(5 * time.Second)
	wantOwners(t, w, "pa2")
	mark := len(w.wireLog)
	w.admin(0, "takeover", "failback")
	w.run(5 * time.Second)
	wantOwners(t, w, "pa1")
	got := w.wireSince(mark)
	if got[0] != "pa1: t=hb_takeover rsc_hold=local" || got[1] != "pa2: t=ask_resources rsc_hold=foreign info=me" {
		t.Fatalf("wire: %v", got)
	}
	// A real peer's literal "failback": standby [foreign], not [all].
	w.step(1, Message{Msg: msgFrom("pa1", "hb_takeover", "rsc_hold", "failback")})
	wantLog(t, w.nodes[1], "hb_takeover failback from pa1: going standby [foreign]")
}

// Legacy (B-legacy): no starting/resource; ip-request pulls a group home.
func TestLegacySession(t *testing.T) {
	w := startPair(t, FailbackLegacy)
	w.run(5 * time.Second)
	wantOwners(t, w, "pa1")
	// Both start together, so neither is "active" for the other when it
	// comes up. Heartbeat would take its groups without asking (HA_DONTASK,
	// B-legacy 01); heartbeatd asks unless the peer is known dead, and the
	// peer answers that it does not hold the group.
	wantWire(t, w, 0, []string{
		"pa1: t=ip-request ipaddr=10.201.0.100/24/eth1",
		"pa2: t=ip-request-resp dest=pa1 ipaddr=10.201.0.100/24/eth1 weown=no ok=OK",
	})

	r := w.admin(0, "standby", "all")
	if r.OK || r.Text != "Standby mode only implemented when nice_failback on" {
		t.Fatalf("legacy standby: %+v", r)
	}
	mark := len(w.wireLog)
	w.crash(0, true)
	w.run(8 * time.Second)
	wantOwners(t, w, "pa2")
	wantWire(t, w, mark, []string{"pa2: t=stonith node=pa1 result=n_stnth"})
	wantLog(t, w.nodes[1], "Resources being acquired from pa1.", "mach_down takeover complete for node pa1.")

	mark = len(w.wireLog)
	w.start(0)
	w.run(5 * time.Second)
	wantOwners(t, w, "pa1")
	wantWire(t, w, mark, []string{
		"pa1: t=ip-request ipaddr=10.201.0.100/24/eth1",
		"pa2: t=ip-request-resp dest=pa1 ipaddr=10.201.0.100/24/eth1 weown=yes ok=OK",
	})
	wantLog(t, w.nodes[0], "Initial resource acquisition complete (ip-request-resp)")

	mark = len(w.wireLog)
	w.step(1, Shutdown{})
	w.run(10 * time.Second)
	wantOwners(t, w, "pa1")
	wantWire(t, w, mark, []string{"pa2: t=shutdone st=dead", "pa1: t=stonith node=pa2 result=unneeded"})
	wantLog(t, w.nodes[0], "Received shutdown notice from 'pa2'.", "Dead node pa2 gave up resources.")
}

// Partition: both sides take everything; on heal each group stays on its
// home node and the other side stops its copy.
func TestPartitionHeal(t *testing.T) {
	groups := append(testGroups(), testGroups()[0])
	groups[1].Node, groups[1].Key = "pa2", "10.201.0.200/24/eth1"
	w := newWorld(t, FailbackOn, groups)
	w.start(0)
	w.start(1)
	w.run(20 * time.Second)
	w.partition()
	w.run(10 * time.Second)
	if o := w.owners(); len(o[key]) != 2 || len(o["10.201.0.200/24/eth1"]) != 2 {
		t.Fatalf("during partition both should hold both: %v", o)
	}
	w.heal()
	w.run(3 * time.Second)
	o := w.owners()
	if len(o[key]) != 1 || o[key][0] != "pa1" || len(o["10.201.0.200/24/eth1"]) != 1 || o["10.201.0.200/24/eth1"][0] != "pa2" {
		t.Fatalf("after heal: %v\n%s", o, w.dump())
	}
	wantLog(t, w.nodes[0], "CRIT: Cluster node pa2 returning after partition")
	if a, b := w.nodes[0].m.RscStatus(), w.nodes[1].m.RscStatus(); a != "local" || b != "local" {
		t.Fatalf("rscstatus after heal: %s %s\n%s", a, b, w.dump())
	}
}

// With a STONITH device the dead peer is reset before the takeover.
func TestStonithBeforeTakeover(t *testing.T) {
	m := New(Config{Local: "pa2", Peer: "pa1", Groups: testGroups(), AutoFailback: FailbackOn, Stonith: true})
	now := epoch
	m.Step(now, PeerStatus{Node: "pa1", Status: "active"})
	m.Step(now, CommUp{})
	m.Step(now, Message{Msg: msgFrom("pa1", "resource", "rsc_hold", "local", "rtype", "full", "isstable", "1")})
	acts := m.Step(now, PeerStatus{Node: "pa1", Status: "dead"})
	if !hasAction(acts, Fence{Node: "pa1"}) || hasStart(acts) {
		t.Fatalf("want Fence and no start, got %#v", acts)
	}
	acts = m.Step(now.Add(time.Second), FenceDone{Node: "pa1", OK: false})
	if hasStart(acts) {
		t.Fatal("started after a failed fence")
	}
	acts = m.Step(now.Add(6*time.Second), Tick{})
	if !hasAction(acts, Fence{Node: "pa1"}) {
		t.Fatalf("no fence retry after 5 s: %#v", acts)
	}
	acts = m.Step(now.Add(7*time.Second), FenceDone{Node: "pa1", OK: true})
	if !hasStart(acts) {
		t.Fatalf("no takeover after the fence: %#v", acts)
	}
}

func hasAction(acts []Action, want Action) bool {
	for _, a := range acts {
		if a == want {
			return true
		}
	}
	return false
}

func hasStart(acts []Action) bool {
	for _, a := range acts {
		if _, ok := a.(StartGroup); ok {
			return true
		}
	}
	return false
}
