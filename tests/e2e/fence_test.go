//go:build netns

package e2e

// Fencing end to end (issue 13 item 8): heartbeatd resets a dead peer with
// real cluster-glue (the stonith program and an external plugin) and real
// fence-agents (fence_dummy), and against a real Heartbeat 3.0.6 peer, and
// only then takes its resources. The one stand-in is the power switch
// behind the plugin (testdata/hbdt-switch): it powers a namespace "machine"
// off by killing every process in it and removing its service address.
//
// The race test measures what fence_policy holder is for: when the two
// nodes only lose sight of each other, the node running the service must be
// the one left standing, every time.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fenceTiming: deadtime 1 s, so a death is declared about a second after
// the last keepalive, and each race round stays short.
var fenceTiming = timing{"100ms", "1", "500ms", "2"}

// fenceLab is two nodes with the group "n1 IPaddr::VIP/24/eth1 marker", a
// client on link 1 and the power switch wired to both nodes.
type fenceLab struct {
	*cluster
	vip    string
	sw     *powerSwitch
	n1, n2 *hbNode
}

type fenceOpts struct {
	name     string
	real1    bool   // n1 runs real Heartbeat 3.0.6
	failback string // auto_failback
	tm       timing
	// devices are the fence lines of every node ("" = the switch's
	// stonith_host line); extra are further ha.cf lines, for heartbeatd
	// nodes only (real Heartbeat rejects heartbeatd's extensions).
	devices, extra string
}

func newFenceLab(t *testing.T, o fenceOpts) *fenceLab {
	t.Helper()
	c := newCluster(t, o.name, true)
	l := &fenceLab{cluster: c, vip: c.br[0].Addr(100).Addr().String()}
	l.n1, l.n2 = c.addDaemonNode("n1", 1, o.real1), c.addDaemonNode("n2", 2, false)
	l.sw = installSwitch(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("==== switch log ====\n%s", l.sw.log())
		}
		dumpLogs(t, c)
	})
	c.shared = t.TempDir()
	os.Chmod(c.shared, 0o777) // real Heartbeat's scripts write markers too
	devices := o.devices
	if devices == "" {
		devices = l.sw.stonithHost()
	}
	for _, n := range []*hbNode{l.n1, l.n2} {
		l.sw.wire(n, []string{l.vip + "/24 eth1"}, []string{filepath.Join(c.shared, "marker."+n.name+".*")})
		extra := "auto_failback " + o.failback + "\n" + devices
		if !n.real {
			extra += o.extra
		}
		n.writeConf(c.haCF(n, o.tm, "bcast eth1 eth2", extra), fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker\n", l.vip))
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, c.shared)), 0o755)
	}
	return l
}

// exitedDaemon: the node's heartbeatd process is gone (the switch killed it).
func (n *hbNode) exitedDaemon() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// checkResetBeforeTakeover asserts what a takeover after fencing must look
// like on the survivor: one reset of the dead node by the survivor, done
// before the survivor's first gratuitous ARP for the VIP, and in its log
// "Resetting node", "now reset." and only then "Taking over resource group".
// It returns when the switch finished and when the survivor announced.
func (l *fenceLab) checkResetBeforeTakeover(t *testing.T, dead, survivor *hbNode, tail *logTail, arp *arpCapture, since time.Time, resetting string) (off, announced time.Time) {
	t.Helper()
	var resets []switchCall
	for _, r := range l.sw.resets() {
		if !r.start.Before(since) {
			resets = append(resets, r)
		}
	}
	if len(resets) == 0 {
		t.Fatalf("the switch was never asked to reset %s", dead.name)
	}
	last := resets[len(resets)-1]
	if last.target != dead.name || last.by != survivor.name || last.result != "ok" {
		t.Errorf("switch's last reset: %s, want %s reset by %s, ok", last, dead.name, survivor.name)
	}
	off = last.end
	var ok bool
	mac := survivor.mac()
	for end := time.Now().Add(2 * time.Second); !ok && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		announced, ok = firstAfter(arp.announcements(l.vip, mac), since)
	}
	if !ok {
		b, _ := os.ReadFile(arp.path)
		e, _ := os.ReadFile(arp.path + ".stderr")
		b = append(b, e...)
		t.Fatalf("the client saw no gratuitous ARP for %s from %s (%s); its capture:\n%s", l.vip, survivor.name, survivor.mac(), b)
	}
	if !announced.After(off) {
		t.Errorf("%s announced %s at %s, before the switch had powered %s off (%s): the takeover did not wait for the reset",
			survivor.name, l.vip, announced.Format("15:04:05.000"), dead.name, off.Format("15:04:05.000"))
	}
	if n := len(tail.all("node "+dead.name+" now reset.", since)); n != 1 {
		t.Errorf("%s logged \"node %s now reset.\" %d times for one reset, want once", survivor.name, dead.name, n)
	}
	// Real Heartbeat's takeover lines come from its resource scripts'
	// own log format; its daemon logs the acquisition.
	taking := "Taking over resource group"
	if survivor.real {
		taking = "Resources being acquired from " + dead.name
	}
	iReset := tail.index(resetting, since)
	iDone := tail.index("node "+dead.name+" now reset.", since)
	iTake := tail.index(taking, since)
	if iReset < 0 || iDone < 0 || iTake < 0 || !(iReset < iDone && iDone < iTake) {
		t.Errorf("%s's log: %q at line %d, \"now reset.\" at %d, %q at %d; want them in this order",
			survivor.name, resetting, iReset, iDone, taking, iTake)
	}
	return off, announced
}

// 1. A killed active node is fenced before the standby takes over.
func TestFenceKilledPeerResetBeforeTakeover(t *testing.T) {
	l := newFenceLab(t, fenceOpts{name: "fkill", failback: "off", tm: fenceTiming, extra: "fence_delay 2\n"})
	n1, n2 := l.n1, l.n2
	startActiveN1(l.cluster, l.vip)
	tail := tailLog(t, n2.logfile)
	arp := l.captureARP()

	crash := time.Now()
	n1.crash()
	if !n1.holdsVIP(l.vip) {
		t.Fatal("n1 lost the VIP when its daemon was killed: not a crash")
	}
	waitFor(t, 15*time.Second, "n2 resets n1 and the client's entry for the VIP moves to n2", func() bool {
		return len(l.sw.resets()) > 0 && n2.holdsVIP(l.vip) && l.neighOwner(l.vip) == "n2"
	})
	off, announced := l.checkResetBeforeTakeover(t, n1, n2, tail, arp, crash, "Resetting node n1 with [stonith_host * "+l.sw.typ+"]")
	if rs := l.sw.resets(); len(rs) != 1 {
		t.Errorf("switch calls: %v, want one reset", rs)
	}
	// The holder rule: n2 held nothing, so it waited fence_delay first.
	if _, ok := tail.first("n1 is dead; it holds 1 resource group(s) to our 0: fencing it in 2s (fence_delay)", crash); !ok {
		t.Errorf("n2 did not log its fence_delay wait:\n%s", grepLines(n2.log(), "fenc"))
	}
	dead, okDead := tail.first("node n1: is dead", crash)
	reported, okRep := tail.first("node n1 now reset.", crash)
	if !okDead || !okRep {
		t.Fatalf("n2's log lacks the death or the reset of n1:\n%s", n2.log())
	}
	// What the powered-off machine and the admin see.
	if !n1.poweredOff() || n1.holdsVIP(l.vip) {
		t.Errorf("after the reset n1 still has processes (%v) or the VIP (%v)", !n1.poweredOff(), n1.holdsVIP(l.vip))
	}
	if s := n2.nodeStatus("n1"); s != "dead" {
		t.Errorf("cl_status nodestatus n1 on n2: %q, want dead", s)
	}
	waitFor(t, 5*time.Second, "cl_status rscstatus on n2 is all", func() bool { s, _ := n2.clStatus("rscstatus"); return s == "all" })
	if on := l.runsOn(); len(on) != 1 || on[0] != "n2" {
		t.Errorf("service runs on %v, want [n2]", on)
	}
	if out, err := l.client.Exec("ping", "-c", "1", "-W", "1", l.vip); err != nil {
		t.Errorf("client cannot ping the VIP after the takeover: %v: %s", err, out)
	}
	t.Logf("kill -9 of n1: declared dead +%v; switch powered n1 off +%v (fence_delay 2s); n2 logged \"now reset.\" +%v; n2's first gratuitous ARP +%v (after crash)",
		dead.at.Sub(crash).Round(time.Millisecond), off.Sub(crash).Round(time.Millisecond),
		reported.at.Sub(crash).Round(time.Millisecond), announced.Sub(crash).Round(time.Millisecond))
}

// 2. A switch that refuses: no takeover, a retry every 5 s, and the
// takeover once the switch works again.
func TestFenceSwitchRefusesThenRecovers(t *testing.T) {
	l := newFenceLab(t, fenceOpts{name: "frefuse", failback: "off", tm: fenceTiming, extra: "fence_delay 1\n"})
	n1, n2 := l.n1, l.n2
	startActiveN1(l.cluster, l.vip)
	tail := tailLog(t, n2.logfile)
	arp := l.captureARP()
	wire := l.capture("udp port 694", "-A")
	l.sw.setMode("fail")

	crash := time.Now()
	n1.crash()
	const failed = "STONITH of n1 failed.  Retrying..."
	waitFor(t, 25*time.Second, "two failed resets of n1 on n2", func() bool { return len(tail.all(failed, crash)) >= 2 })
	// Refused twice: nothing moved.
	if n2.holdsVIP(l.vip) || strings.Contains(n2.log(), "Taking over") {
		t.Errorf("n2 took over while n1 was not reset: VIP on n2 %v;\n%s", n2.holdsVIP(l.vip), grepLines(n2.log(), "Taking over"))
	}
	if on := l.runsOn(); len(on) != 1 || on[0] != "n1" {
		t.Errorf("service runs on %v while the switch refuses, want [n1] (untouched)", on)
	}
	if o := l.neighOwner(l.vip); o != "n1" {
		t.Errorf("client's entry for the VIP is on %q while the switch refuses, want n1", o)
	}
	if s := n2.nodeStatus("n1"); s != "dead" {
		t.Errorf("cl_status nodestatus n1 on n2: %q, want dead", s)
	}
	rsc, _ := n2.clStatus("rscstatus")
	var refused []switchCall
	for _, r := range l.sw.resets() {
		if r.result == "refused" && r.target == "n1" && r.by == "n2" {
			refused = append(refused, r)
		}
	}
	if len(refused) < 2 {
		t.Fatalf("switch log has %d refused resets of n1 by n2, want 2:\n%s", len(refused), l.sw.log())
	}
	// Retried 5 s after each failure; each attempt also takes the stonith
	// program's own second.
	var gaps []string
	for i := 1; i < len(refused); i++ {
		gap := refused[i].start.Sub(refused[i-1].end)
		gaps = append(gaps, gap.Round(time.Millisecond).String())
		if gap < 4500*time.Millisecond || gap > 7*time.Second {
			t.Errorf("retry %d came %v after the previous attempt ended, want about 5 s", i, gap)
		}
	}
	if b, _ := os.ReadFile(wire); strings.Count(string(b), "result=bad") < 2 {
		t.Errorf("the wire has %d t=stonith result=bad messages from n2, want at least 2", strings.Count(string(b), "result=bad"))
	}

	fixed := time.Now()
	l.sw.setMode("ok")
	waitFor(t, 15*time.Second, "n2 resets n1 and takes over once the switch works", func() bool {
		return n2.holdsVIP(l.vip) && l.neighOwner(l.vip) == "n2"
	})
	off, announced := l.checkResetBeforeTakeover(t, n1, n2, tail, arp, crash, "Resetting node n1 with [stonith_host * "+l.sw.typ+"]")
	if b, _ := os.ReadFile(wire); !strings.Contains(string(b), "result=OK") {
		t.Errorf("the wire has no t=stonith result=OK from n2")
	}
	if wait := off.Sub(fixed); wait > 8*time.Second {
		t.Errorf("the reset succeeded %v after the switch was fixed, want within one retry interval", wait)
	}
	t.Logf("switch refusing: %d failed attempts (%q lines: %d), retry gaps %v, n2 rscstatus %q meanwhile; fixed: powered off +%v, VIP announced by n2 +%v after the fix",
		len(refused), failed, len(tail.all(failed, crash)), gaps, rsc,
		off.Sub(fixed).Round(time.Millisecond), announced.Sub(fixed).Round(time.Millisecond))
}

// raceRound is what one silent partition of the active node gave.
type raceRound struct {
	resets  []switchCall // finished switch calls
	presses []switchCall // every press of the button, finished or not
	// winner reset loser first; the durations are the winner's view, after
	// the cut: death declared, switch done, "now reset." logged, and the
	// VIP announced by the winner when it took it over.
	winner, loser          string
	dead, off, said, moved time.Duration
	// n2Pressed: n2 started a reset of n1 (its log or the switch says so).
	n2Pressed bool
	// n2Scheduled: n2 logged its fence_delay wait before it was reset.
	n2Scheduled bool
	// waited: some node logged a fence_delay wait.
	waited bool
	// mutual: both nodes were reset.
	mutual bool
}

// fenceRace cuts both of n1's links silently (nftables, carriers up) rounds
// times; n1 runs the group, n2 nothing. After each round it restores the
// pair: links back, the reset node's daemon restarted, the group on n1.
// It checks what the policy promises and appends each round's numbers to
// out (kept when a round fails).
func fenceRace(t *testing.T, policy string, rounds int, out *[]raceRound) {
	l := newFenceLab(t, fenceOpts{name: "frace", failback: "on", tm: fenceTiming,
		extra: "fence_policy " + policy + "\nfence_delay 4\n"})
	n1, n2 := l.n1, l.n2
	startActiveN1(l.cluster, l.vip)
	tails := map[string]*logTail{"n1": tailLog(t, n1.logfile), "n2": tailLog(t, n2.logfile)}
	arp := l.captureARP()
	n2mac := n2.mac()

	for i := 1; i <= rounds; i++ {
		before, pressedBefore := len(l.sw.resets()), len(l.sw.presses())
		n1.ns.Cut("eth1")
		n1.ns.Cut("eth2")
		cut := time.Now()
		var r raceRound
		waitFor(t, 15*time.Second, fmt.Sprintf("round %d: a node is reset", i), func() bool {
			for _, c := range l.sw.resets()[before:] {
				if n, ok := l.nodes[c.target]; ok && c.result == "ok" && n.poweredOff() {
					r.winner, r.loser = c.by, c.target
					return true
				}
			}
			return false
		})
		// Both pressed at once and both switch calls got as far as the
		// power: each node reset the other.
		time.Sleep(200 * time.Millisecond)
		r.mutual = l.nodes[r.winner].poweredOff()
		wt := tails[r.winner]
		if !r.mutual {
			waitFor(t, 5*time.Second, fmt.Sprintf("round %d: %s logs the reset of %s", i, r.winner, r.loser), func() bool {
				_, ok := wt.first("node "+r.loser+" now reset.", cut)
				return ok
			})
		}
		if !r.mutual {
			if s := l.nodes[r.winner].nodeStatus(r.loser); s != "dead" {
				t.Errorf("round %d: cl_status nodestatus %s on %s: %q, want dead", i, r.loser, r.winner, s)
			}
		}
		if r.loser == "n1" && !r.mutual {
			waitFor(t, 10*time.Second, fmt.Sprintf("round %d: n2 announces the VIP", i), func() bool {
				_, ok := firstAfter(arp.announcements(l.vip, n2mac), cut)
				return ok && n2.holdsVIP(l.vip)
			})
			a, _ := firstAfter(arp.announcements(l.vip, n2mac), cut)
			r.moved = a.Sub(cut)
		}
		if d, ok := wt.first("node "+r.loser+": is dead", cut); ok {
			r.dead = d.at.Sub(cut)
		}
		if s, ok := wt.first("node "+r.loser+" now reset.", cut); ok {
			r.said = s.at.Sub(cut)
		}
		movedInRound := 0 // the client's view so far
		for _, a := range arp.announcements(l.vip, n2mac) {
			if !a.Before(cut) {
				movedInRound++
			}
		}
		tookInRound := len(tails["n2"].all("Taking over resource group", cut))

		// Restore: links back, the reset node's daemon restarted, both
		// active with the group on n1 (auto_failback on brings it home),
		// past the restarted node's start-up deadtime.
		n1.ns.Heal("eth1")
		n1.ns.Heal("eth2")
		var restarted time.Time
		for _, n := range []*hbNode{n1, n2} {
			if n.exitedDaemon() {
				n.start()
				restarted = time.Now()
			}
		}
		waitFor(t, 40*time.Second, fmt.Sprintf("round %d: both active, the group on n1 only", i), func() bool {
			s1, _ := n1.clStatus("rscstatus")
			s2, _ := n2.clStatus("rscstatus")
			on := l.runsOn()
			return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active" &&
				len(on) == 1 && on[0] == "n1" && n1.holdsVIP(l.vip) && !n2.holdsVIP(l.vip) &&
				(s1 == "local" || s1 == "all") && (s2 == "none" || s2 == "local")
		})
		if d := 5500*time.Millisecond - time.Since(restarted); d > 0 {
			time.Sleep(d)
		}
		if r.loser == "n1" {
			waitFor(t, 10*time.Second, "n1's ARP burst over", func() bool { return !n1.announcing() })
			l.client.Exec("ping", "-c", "1", "-W", "1", l.vip)
			waitFor(t, 5*time.Second, "client's entry for the VIP back on n1", func() bool { return l.neighOwner(l.vip) == "n1" })
		}

		// The round, as the switch, the logs and the client saw it.
		r.resets = l.sw.resets()[before:]
		r.presses = l.sw.presses()[pressedBefore:]
		if len(r.resets) > 0 {
			r.off = r.resets[0].end.Sub(cut)
		}
		_, logged := tails["n2"].first("Resetting node n1", cut)
		r.n2Pressed = logged
		for _, p := range r.presses {
			r.n2Pressed = r.n2Pressed || p.by == "n2"
		}
		_, r.n2Scheduled = tails["n2"].first("n1 is dead; it holds 1 resource group(s) to our 0: fencing it in", cut)
		_, w1 := tails["n1"].first("(fence_delay)", cut)
		_, w2 := tails["n2"].first("(fence_delay)", cut)
		r.waited = w1 || w2
		ok := 0
		for _, c := range r.resets {
			if c.result == "ok" {
				ok++
			}
		}
		switch policy {
		case "holder":
			// Exactly one reset, of the node that held nothing, and the
			// service never left n1: n2 neither pressed the button nor
			// took over, and the client never saw n2's MAC for the VIP.
			if len(r.resets) != 1 || r.winner != "n1" || r.loser != "n2" || ok != 1 {
				t.Errorf("round %d: switch calls %v, want exactly one: n2 reset by n1", i, r.resets)
			}
			if r.n2Pressed || tookInRound > 0 || movedInRound > 0 {
				t.Errorf("round %d: n2 pressed the switch: %v; n2 took over %d times; the client saw n2's MAC for the VIP %d times",
					i, r.n2Pressed, tookInRound, movedInRound)
			}
		case "heartbeat":
			// Heartbeat's rule: nobody waits, both fence at once (the idle
			// node's rsc_hold is local: it may hold resources); whoever
			// resets first stays. When n2 wins, the service moves.
			if r.waited {
				t.Errorf("round %d: a node waited fence_delay under fence_policy heartbeat", i)
			}
			if ok < 1 {
				t.Errorf("round %d: no reset finished: %v", i, r.resets)
			}
			if r.loser == "n1" && !r.mutual && (tookInRound == 0 || movedInRound == 0) {
				t.Errorf("round %d: n2 reset n1 but did not take the group over (took %d, announced %d)", i, tookInRound, movedInRound)
			}
			if r.loser == "n2" && (tookInRound > 0 || movedInRound > 0) {
				t.Errorf("round %d: n1 reset n2, yet n2 took the group (took %d, announced %d)", i, tookInRound, movedInRound)
			}
		}
		if r.mutual {
			t.Logf("round %2d: both nodes were reset", i)
		}
		moved := "never"
		if r.moved > 0 {
			moved = "+" + r.moved.Round(time.Millisecond).String()
		}
		t.Logf("round %2d: %s reset %s (switch calls %v, presses %d); dead +%v, switch off +%v, %q logged +%v, VIP announced by n2: %s; n2 pressed: %v, n2 had scheduled its fence: %v",
			i, r.winner, r.loser, r.resets, len(r.presses), r.dead.Round(time.Millisecond), r.off.Round(time.Millisecond), "now reset.",
			r.said.Round(time.Millisecond), moved, r.n2Pressed, r.n2Scheduled)
		*out = append(*out, r)
	}
}

// 3. The fence race: a silent total partition of the active node, 20
// times with the holder policy (the standby is reset, the service never
// moves) and 3 times with Heartbeat's rule, where nobody waits: the idle
// standby fences the healthy active node at once, as the active node
// fences it, and when the standby is faster the service moves for nothing.
func TestFenceRace(t *testing.T) {
	requireTools(t, stonithProgram)
	summary := func(policy string, rounds []raceRound) (n2Pressed int) {
		if len(rounds) == 0 {
			return 0
		}
		wins := map[string]int{}
		mutual := 0
		exactlyOneN2 := 0
		var dead, off, said, moved []time.Duration
		scheduled := 0
		for _, r := range rounds {
			wins[r.winner]++
			if r.mutual {
				mutual++
			}
			if len(r.resets) == 1 && r.resets[0].target == "n2" && r.resets[0].by == "n1" && r.resets[0].result == "ok" {
				exactlyOneN2++
			}
			dead = append(dead, r.dead)
			off = append(off, r.off-r.dead)
			said = append(said, r.said-r.dead)
			if r.moved > 0 {
				moved = append(moved, r.moved-r.dead)
			}
			if r.n2Scheduled {
				scheduled++
			}
			if r.n2Pressed {
				n2Pressed++
			}
		}
		t.Logf("fence race, fence_policy %s, %d rounds: exactly one node reset and it was the standby n2: %d; n1 won %d, n2 won %d, both reset %d; n2 pressed the switch in %d; n2 had scheduled its delayed fence in %d",
			policy, len(rounds), exactlyOneN2, wins["n1"], wins["n2"], mutual, n2Pressed, scheduled)
		t.Logf("  cut -> declared dead (winner):    %s", spread(dead))
		t.Logf("  dead -> switch powered off:       %s", spread(off))
		t.Logf("  dead -> \"now reset.\" logged:      %s", spread(said))
		if len(moved) > 0 {
			t.Logf("  dead -> VIP announced by n2:      %s", spread(moved))
		}
		return n2Pressed
	}
	var holder, heartbeat []raceRound
	t.Run("holder", func(t *testing.T) { fenceRace(t, "holder", 20, &holder) })
	t.Run("heartbeat", func(t *testing.T) { fenceRace(t, "heartbeat", 3, &heartbeat) })
	summary("holder", holder)
	// The contrast: with Heartbeat's rule the standby goes for the healthy
	// active node's power at once; with holder it never does.
	if pressed := summary("heartbeat", heartbeat); len(heartbeat) > 0 && pressed == 0 {
		t.Errorf("under fence_policy heartbeat n2 never tried to reset n1 in %d partitions", len(heartbeat))
	}
}

// powerStates polls fence_dummy's status file (its "power switch") and
// records each change of its content after the call.
type powerStates struct {
	mu      sync.Mutex
	changes []fileWrite
}

type fileWrite struct {
	at      time.Time
	content string
}

func watchPowerState(t *testing.T, path string) *powerStates {
	t.Helper()
	p := &powerStates{}
	stop, done := make(chan struct{}), make(chan struct{})
	b, _ := os.ReadFile(path)
	last := strings.TrimSpace(string(b)) // the state before: not a change
	go func() {
		defer close(done)
		for {
			b, _ := os.ReadFile(path)
			// fence_dummy rewrites the file in place (open "w", then
			// write): a read between the two sees it empty, which is no
			// power state (CI caught one).
			if c := strings.TrimSpace(string(b)); c != last && c != "" {
				p.mu.Lock()
				p.changes = append(p.changes, fileWrite{time.Now(), c})
				p.mu.Unlock()
				last = c
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return p
}

func (p *powerStates) since(t time.Time) []fileWrite {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fileWrite
	for _, x := range p.changes {
		if !x.at.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// 4. fence-agents' fence_dummy through fence_agent: the killed peer is
// power-cycled (the status file goes off, then on) before the takeover.
// power_wait=1 keeps each state for a second, so that a poll sees it.
func TestFenceAgentDummy(t *testing.T) {
	requireTools(t, fenceDummyBinary)
	meta, err := exec.Command(fenceDummyBinary, "-o", "metadata").Output()
	if err != nil {
		t.Fatalf("fence_dummy -o metadata: %v", err)
	}
	for _, want := range []string{`name="status_file"`, `name="type"`, `<action name="reboot"`} {
		if !strings.Contains(string(meta), want) {
			t.Fatalf("fence_dummy's metadata lacks %s; the test's fence_agent line relies on it", want)
		}
	}
	status := filepath.Join(t.TempDir(), "dummy.status")
	if err := os.WriteFile(status, []byte("on"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newFenceLab(t, fenceOpts{name: "fdummy", failback: "off", tm: fenceTiming,
		devices: "fence_agent * dummy type=file power_wait=1 status_file=" + status + "\n", extra: "fence_delay 1\n"})
	n1, n2 := l.n1, l.n2
	startActiveN1(l.cluster, l.vip)
	tail := tailLog(t, n2.logfile)
	arp := l.captureARP()
	states := watchPowerState(t, status)

	crash := time.Now()
	n1.crash()
	waitFor(t, 15*time.Second, "n2 takes over the VIP", func() bool {
		return n2.holdsVIP(l.vip) && l.neighOwner(l.vip) == "n2"
	})
	announced, ok := firstAfter(arp.announcements(l.vip, n2.mac()), crash)
	if !ok {
		t.Fatal("the client saw no gratuitous ARP from n2")
	}
	ws := states.since(crash)
	var shown []string
	for _, w := range ws {
		shown = append(shown, fmt.Sprintf("%q at +%v", w.content, w.at.Sub(crash).Round(time.Millisecond)))
	}
	if len(ws) != 2 || ws[0].content != "off" || ws[1].content != "on" {
		t.Errorf("fence_dummy's status file after the crash: %v, want off, then on (a reboot)", shown)
	} else if !ws[1].at.Before(announced) {
		t.Errorf("the power cycle ended at +%v, after n2 announced the VIP (+%v)", ws[1].at.Sub(crash), announced.Sub(crash))
	}
	iReset := tail.index("Resetting node n1 with [fence_agent * fence_dummy]", crash)
	iDone := tail.index("node n1 now reset.", crash)
	iTake := tail.index("Taking over resource group", crash)
	if iReset < 0 || iDone < 0 || iTake < 0 || !(iReset < iDone && iDone < iTake) {
		t.Errorf("n2's log: Resetting at line %d, now reset at %d, Taking over at %d; want them in this order:\n%s", iReset, iDone, iTake, grepLines(n2.log(), "n1"))
	}
	if s := n2.nodeStatus("n1"); s != "dead" {
		t.Errorf("cl_status nodestatus n1 on n2: %q, want dead", s)
	}
	dead, _ := tail.first("node n1: is dead", crash)
	t.Logf("fence_dummy: n1 declared dead +%v; status file %v; n2 announced the VIP +%v",
		dead.at.Sub(crash).Round(time.Millisecond), shown, announced.Sub(crash).Round(time.Millisecond))
}

// 5. A mixed cluster: real Heartbeat 3.0.6 on n1, heartbeatd on n2, the
// same stonith_host line. The real node is killed and heartbeatd resets it
// before taking over; then the real node returns, heartbeatd (now holding
// the group) is killed, and real Heartbeat resets it with the same plugin
// and takes the group.
func TestFenceMixedRealHeartbeat(t *testing.T) {
	l := newFenceLab(t, fenceOpts{name: "fmix", real1: true, failback: "off", tm: interopTiming, extra: "fence_delay 1\n"})
	real, ours := l.n1, l.n2
	startActiveN1(l.cluster, l.vip)
	tails := map[string]*logTail{"n1": tailLog(t, real.logfile), "n2": tailLog(t, ours.logfile)}
	arp := l.captureARP()

	// Real Heartbeat dies; heartbeatd fences it, then takes over.
	crash := time.Now()
	real.crash()
	waitFor(t, 20*time.Second, "heartbeatd resets the real node and takes the VIP", func() bool {
		return len(l.sw.resets()) > 0 && ours.holdsVIP(l.vip) && l.neighOwner(l.vip) == "n2"
	})
	off, announced := l.checkResetBeforeTakeover(t, real, ours, tails["n2"], arp, crash, "Resetting node n1 with [stonith_host * "+l.sw.typ+"]")
	if !real.poweredOff() || real.holdsVIP(l.vip) {
		t.Errorf("the real node still has processes (%v) or the VIP (%v) after its reset", !real.poweredOff(), real.holdsVIP(l.vip))
	}
	t.Logf("real Heartbeat killed: powered off +%v, heartbeatd announced the VIP +%v", off.Sub(crash).Round(time.Millisecond), announced.Sub(crash).Round(time.Millisecond))

	// The real node comes back as the standby (auto_failback off).
	real.startReal()
	l.started = time.Now()
	waitFor(t, 40*time.Second, "the real node back, heartbeatd keeps the group", func() bool {
		s1, _ := real.clStatus("rscstatus")
		on := l.runsOn()
		return real.nodeStatus("n2") == "active" && ours.nodeStatus("n1") == "active" &&
			len(on) == 1 && on[0] == "n2" && ours.holdsVIP(l.vip) && !real.holdsVIP(l.vip) && s1 == "none"
	})
	waitFor(t, 10*time.Second, "n2's ARP burst over", func() bool { return !ours.announcing() })
	l.pastStartupDeadtime()

	crash = time.Now()
	ours.crash()
	if !ours.holdsVIP(l.vip) {
		t.Fatal("n2 lost the VIP when heartbeatd was killed: not a crash")
	}
	waitFor(t, 20*time.Second, "real Heartbeat resets n2 and takes the VIP", func() bool {
		rs := l.sw.resets()
		return len(rs) > 1 && real.holdsVIP(l.vip) && l.neighOwner(l.vip) == "n1"
	})
	// Real Heartbeat names the device by its plugin's device id.
	off, announced = l.checkResetBeforeTakeover(t, ours, real, tails["n1"], arp, crash, "Resetting node n2 with [hbdt power switch]")
	if !ours.poweredOff() || ours.holdsVIP(l.vip) {
		t.Errorf("n2 still has processes (%v) or the VIP (%v) after real Heartbeat's reset", !ours.poweredOff(), ours.holdsVIP(l.vip))
	}
	if rs := l.sw.resets(); len(rs) != 2 {
		t.Errorf("switch calls %v, want exactly two resets", rs)
	}
	var said []string
	for _, line := range tails["n1"].all("n2", crash) {
		said = append(said, line.text)
	}
	t.Logf("heartbeatd killed: real Heartbeat had the switch power it off +%v, announced the VIP +%v; what it logged about n2:\n%s",
		off.Sub(crash).Round(time.Millisecond), announced.Sub(crash).Round(time.Millisecond), strings.Join(said, "\n"))
}
