package node

import (
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
)

func (w *world) logged(i int, sub string) bool {
	for _, l := range w.nodes[i].logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (w *world) traced(sub string) bool {
	for _, l := range w.trace {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func wantOwners(t *testing.T, w *world, want map[string]string) {
	t.Helper()
	got := w.owners()
	for k, node := range want {
		if len(got[k]) != 1 || got[k][0] != node {
			t.Fatalf("group %s runs on %v, want only %s\n%s", k, got[k], node, w.dump())
		}
	}
}

func stablePair(t *testing.T, mode string) *world {
	t.Helper()
	w := newWorld(t, 1, mode)
	w.start(0)
	w.start(1)
	w.run(30 * time.Second)
	wantOwners(t, w, map[string]string{"IPaddr::10.0.0.1": "pa1", "IPaddr::10.0.0.2": "pa2"})
	return w
}

// The crash-takeover defect through the real node: pa1's daemon is killed
// while its machine keeps the group; pa2 declares it dead at deadtime and
// takes the group over naming pa1 as the dead peer, in every mode.
func TestCrashTakeoverNamesDeadPeer(t *testing.T) {
	for _, mode := range []string{"on", "off", "legacy"} {
		t.Run(mode, func(t *testing.T) {
			w := stablePair(t, mode)
			w.kill(0)
			w.run(simDeadtime + 3*time.Second)
			if !w.traced("pa2 start IPaddr::10.0.0.1 pa1") {
				t.Fatalf("pa2 did not take over pa1's group naming pa1:\n%s", w.dump())
			}
			if got := w.owners()["IPaddr::10.0.0.1"]; len(got) != 2 {
				t.Fatalf("pa1's group runs on %v; the killed daemon's machine keeps it and pa2 takes it too", got)
			}
		})
	}
}

// SIGSTOP of the active daemon, takeover, SIGCONT: the pair converges to
// one owner per group, and the keeper announces its addresses again (through
// the executor, as an Announce) as soon as the resource manager settles.
func TestStopResumeConvergesAndReannounces(t *testing.T) {
	for _, mode := range []string{"on", "off", "legacy"} {
		t.Run(mode, func(t *testing.T) {
			w := stablePair(t, mode)
			w.pause(0)
			w.run(simDeadtime + 3*time.Second)
			if got := w.owners()["IPaddr::10.0.0.1"]; len(got) != 2 {
				t.Fatalf("after the takeover pa1's group runs on %v, want both machines", got)
			}
			w.resume(0)
			w.run(20 * time.Second)
			got := w.owners()
			for k, on := range got {
				if len(on) != 1 {
					t.Fatalf("%s runs on %v 20 s after SIGCONT, want one machine\n%s", k, on, w.dump())
				}
			}
			keeper := got["IPaddr::10.0.0.1"][0]
			i := 0
			if keeper == "pa2" {
				i = 1
			}
			if !w.logged(i, "partition healed: announcing IPaddr::10.0.0.1 again") {
				t.Fatalf("%s keeps pa1's group but did not announce it again\n%s", keeper, w.dump())
			}
			if len(w.violations) > 0 {
				t.Fatalf("violations: %v", w.violations)
			}
		})
	}
}

// drbd-peer-outdater through the node: the peer outdates its disk (4),
// reports a failure as dopd does (17 -> 6), a dead peer is unreachable (5),
// and an alive peer that never answers is 20 after the timeout, never 5.
func TestOutdateThroughTheNode(t *testing.T) {
	w := stablePair(t, "on")
	exit, answers := 0, true
	var ran []string
	w.drbdadm = func(i int, a RunOutdate) (int, bool) {
		ran = append(ran, w.nodes[i].name+":"+a.Origin+":"+a.Resource)
		return exit, answers
	}
	ask := func(id uint64, timeout time.Duration) OutdateReply {
		t.Helper()
		w.step(0, OutdateRequest{ID: id, Resource: "r0", Timeout: timeout})
		w.run(timeout + time.Second)
		rs := w.nodes[0].outdateReplies
		if len(rs) == 0 || rs[len(rs)-1].ID != id {
			t.Fatalf("no answer to outdate request %d: %+v\n%s", id, rs, w.dump())
		}
		return rs[len(rs)-1]
	}
	if r := ask(1, 5*time.Second); r.Code != OutdateOutdated {
		t.Fatalf("peer outdated: code %d, want 4", r.Code)
	}
	if len(ran) != 1 || ran[0] != "pa2:pa1:r0" {
		t.Fatalf("drbdadm ran %v, want once on pa2 for pa1's r0", ran)
	}
	exit = 17
	if r := ask(2, 5*time.Second); r.Code != OutdatePrimary {
		t.Fatalf("peer primary: code %d, want 6", r.Code)
	}
	answers = false
	if r := ask(3, 3*time.Second); r.Code != OutdateError {
		t.Fatalf("alive peer that does not answer: code %d, want 20", r.Code)
	}
	w.kill(1)
	w.run(simDeadtime + time.Second)
	if r := ask(4, time.Second); r.Code != OutdateUnreachable {
		t.Fatalf("dead peer: code %d, want 5", r.Code)
	}
	w.step(0, OutdateRequest{ID: 5, Resource: "r0; reboot"})
	if r := w.nodes[0].outdateReplies[len(w.nodes[0].outdateReplies)-1]; r.ID != 5 || r.Code != OutdateError {
		t.Fatalf("a resource name with shell text: %+v, want 20", r)
	}
}

// Nodes with different haresources say so loudly, both of them, once.
func TestDigestMismatchLoggedOnBothNodes(t *testing.T) {
	w := newWorld(t, 1, "on")
	w.start(0)
	other := append([]haresources.Group(nil), w.groups...)
	other[1].Resources = append(other[1].Resources, haresources.Resource{Script: "mysql", Raw: "mysql"})
	w.groups = other
	w.start(1)
	w.run(20 * time.Second)
	for i := range w.nodes {
		n := 0
		for _, l := range w.nodes[i].logs {
			if strings.Contains(l, "haresources differs between") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s logged the haresources mismatch %d times, want once\n%s", w.nodes[i].name, n, w.dump())
		}
	}
}

// Admin commands are answered by ID, through the node.
func TestAdminAnsweredByID(t *testing.T) {
	w := stablePair(t, "on")
	w.step(0, Admin{ID: 42, Cmd: "standby", Set: "all"})
	w.run(10 * time.Second)
	rs := w.nodes[0].adminReplies
	if len(rs) != 1 || rs[0].ID != 42 || !rs[0].OK {
		t.Fatalf("standby replies %+v, want one OK for ID 42", rs)
	}
	wantOwners(t, w, map[string]string{"IPaddr::10.0.0.1": "pa2", "IPaddr::10.0.0.2": "pa2"})
}

// A daemon resumed after a stop longer than deadtime first hears the peer's
// queued statuses, which membership finds late beyond deadtime (dead and
// alive again at once). It must not take over the live peer's groups on
// that: it resolves the partition instead.
func TestResumedNodeDoesNotTakeOverLivePeer(t *testing.T) {
	w := stablePair(t, "on")
	w.pause(0)
	w.run(simDeadtime + 3*time.Second)
	w.resume(0)
	w.run(20 * time.Second)
	if w.traced("pa1 start IPaddr::10.0.0.2") {
		t.Fatalf("resumed pa1 started the live peer's group:\n%s", w.dump())
	}
	if !w.logged(0, "returning after partition") {
		t.Fatalf("resumed pa1 did not resolve the partition:\n%s", w.dump())
	}
}

// A recorded start_outdate of the peer, replayed after the peer died, must
// not make us outdate our own disk (issue 12's replay finding): the peer is
// dead here, so the message is dropped with a line saying why.
func TestReplayedOutdateFromDeadPeerIgnored(t *testing.T) {
	w := stablePair(t, "on")
	var ran []string
	w.drbdadm = func(i int, a RunOutdate) (int, bool) {
		ran = append(ran, w.nodes[i].name+":"+a.Resource)
		return 0, true
	}
	// pa2 asks pa1 to outdate r0; record the packet as pa1 receives it.
	var recorded *Received
	w.step(1, OutdateRequest{ID: 1, Resource: "r0", Timeout: time.Second})
	for _, d := range w.inflight {
		if d.to == 0 && d.msg.Type() == "start_outdate" {
			recorded = &Received{Msg: d.msg.Clone(), Link: d.link}
			break
		}
	}
	if recorded == nil {
		t.Fatal("no start_outdate from pa2 in flight")
	}
	w.run(2 * time.Second)
	if len(ran) != 1 {
		t.Fatalf("the live peer's request ran drbdadm %v, want once", ran)
	}
	w.kill(1)
	w.run(simDeadtime + time.Second)
	w.step(0, *recorded)
	w.run(time.Second)
	if len(ran) != 1 {
		t.Fatalf("a replayed start_outdate from dead pa2 ran drbdadm: %v", ran)
	}
	// Membership drops it as a replay (its sequence number is old); were
	// it new, the node would drop it for coming from a dead peer.
	if !w.logged(0, "replayed packet [pa2]") && !w.logged(0, "start_outdate message from pa2 ignored: pa2 is not alive here") {
		t.Fatalf("the dropped replay was not logged:\n%s", w.dump())
	}
}
