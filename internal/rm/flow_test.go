package rm

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const key = "10.201.0.100/24/eth1"

// startPair boots pa1, then pa2 two seconds later, as in A-main 01.
func startPair(t *testing.T, mode string) *world {
	w := newWorld(t, mode, testGroups())
	w.start(0)
	w.run(2 * time.Second)
	w.start(1)
	return w
}

func wantOwners(t *testing.T, w *world, want ...string) {
	t.Helper()
	got := w.owners()[key]
	if !cmp.Equal(got, want) {
		t.Fatalf("owners of %s = %v, want %v\n%s", key, got, want, w.dump())
	}
}

func wantWire(t *testing.T, w *world, mark int, want []string) {
	t.Helper()
	got := w.wireSince(mark)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("wire messages (-want +got):\n%s\n%s", d, w.dump())
	}
}

func wantWireOf(t *testing.T, w *world, node string, want []string) {
	t.Helper()
	var got []string
	for _, l := range w.wireSince(0) {
		if rest, ok := strings.CutPrefix(l, node+": "); ok {
			got = append(got, rest)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("%s wire messages (-want +got):\n%s\n%s", node, d, w.dump())
	}
}

func wantLog(t *testing.T, n *simNode, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !n.hasLog(l) {
			t.Errorf("%s: log line %q missing", n.name, l)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestStartupBothStarting is A-main 01: both nodes start within initdead,
// both say isstable=0, nobody becomes stable, and 10 s after RSCRCVD each
// takes its own groups ("local resource transition completed.").
func TestStartupBothStarting(t *testing.T) {
	w := startPair(t, FailbackOn)
	w.run(9 * time.Second)
	wantOwners(t, w) // nobody yet: still inside the 10 s fallback
	if s := w.nodes[0].m.RscStatus(); s != "transition" {
		t.Fatalf("pa1 rscstatus during negotiation = %q, want transition", s)
	}
	w.run(3 * time.Second)
	wantOwners(t, w, "pa1")
	// Each node's own messages, in order (the interleaving depends on
	// which 10 s timer fires first).
	wantWireOf(t, w, "pa1", []string{
		"t=starting",
		"t=resource rsc_hold=none rtype=full isstable=0",
		"t=resource rsc_hold=local rtype=full isstable=1",
		"t=ip-request-resp dest=pa1 ipaddr=10.201.0.100/24/eth1 weown=yes ok=OK",
		"t=resource rsc_hold=local rtype=full isstable=1",
		"t=resource rsc_hold=local rtype=full isstable=1 info=req_our_resources()",
	})
	wantWireOf(t, w, "pa2", []string{
		"t=starting",
		"t=resource rsc_hold=none rtype=full isstable=0",
		"t=resource rsc_hold=local rtype=full isstable=1",
		"t=resource rsc_hold=local rtype=full isstable=1 info=req_our_resources()",
		"t=resource rsc_hold=local rtype=full isstable=1",
	})
	wantLog(t, w.nodes[0], "local resource transition completed.", "Initial resource acquisition complete (T_RESOURCES(us))", "Local Resource acquisition completed.")
	wantLog(t, w.nodes[1], "remote resource transition completed.", "No local resources [/usr/share/heartbeat/ResourceManager listkeys pa2] to acquire.")
	for i, want := range []string{"local", "local"} {
		if got := w.nodes[i].m.RscStatus(); got != want {
			t.Errorf("%s rscstatus = %q, want %q", w.nodes[i].name, got, want)
		}
	}
}

// TestMainSession replays A-main 03..08: hb_standby, hb_takeover, kill -9,
// return with auto failback, graceful stop, restart.
func TestMainSession(t *testing.T) {
	w := startPair(t, FailbackOn)
	w.run(20 * time.Second)
	wantOwners(t, w, "pa1")

	// 03: hb_standby (all) on pa1.
	mark := len(w.wireLog)
	if r := w.admin(0, "standby", ""); !r.OK || r.Text != "Going standby [all]." {
		t.Fatalf("standby reply = %+v", r)
	}
	w.run(5 * time.Second)
	wantOwners(t, w, "pa2")
	wantWire(t, w, mark, []string{
		"pa1: t=ask_resources rsc_hold=all info=me",
		"pa2: t=ask_resources rsc_hold=all info=other",
		"pa1: t=resource rsc_hold=none rtype=full isstable=0 info=standby",
		"pa1: t=ask_resources rsc_hold=all info=done",
		"pa2: t=ask_resources rsc_hold=all info=done",
		"pa2: t=resource rsc_hold=all rtype=full isstable=1",
		"pa1: t=resource rsc_hold=none rtype=full isstable=1",
		"pa1: t=resource rsc_hold=none rtype=full isstable=1",
		"pa2: t=resource rsc_hold=all rtype=full isstable=1",
	})
	wantLog(t, w.nodes[0], "pa1 wants to go standby [all]", "standby: pa2 can take our all resources",
		"give up all HA resources (standby).", "all HA resource release completed (standby).",
		"Local standby process completed [all].", "Other node completed standby takeover of all resources.")
	wantLog(t, w.nodes[1], "pa1 wants to go standby [all]", "standby: acquire [all] resources from pa1",
		"acquire all HA resources (standby).", "Standby resource acquisition done [all].")
	if a, b := w.nodes[0].m.RscStatus(), w.nodes[1].m.RscStatus(); a != "none" || b != "all" {
		t.Fatalf("rscstatus after standby: pa1 %s pa2 %s", a, b)
	}

	// 04: hb_takeover (all) on pa1: pa2 goes standby.
	mark = len(w.wireLog)
	if r := w.admin(0, "takeover", "all"); !r.OK {
		t.Fatalf("takeover reply = %+v", r)
	}
	w.run(5 * time.Second)
	wantOwners(t, w, "pa1")
	got := w.wireSince(mark)
	if got[0] != "pa1: t=hb_takeover rsc_hold=all" || got[1] != "pa2: t=ask_resources rsc_hold=all info=me" {
		t.Fatalf("takeover wire: %v", got)
	}

	// 05: kill -9 of pa1 (then its state removed as a reboot would).
	mark = len(w.wireLog)
	w.crash(0, true)
	w.run(8 * time.Second)
	wantOwners(t, w, "pa2")
	wantWire(t, w, mark, []string{
		"pa2: t=stonith node=pa1 result=n_stnth",
		"pa2: t=resource rsc_hold=all rtype=full isstable=1 info=req_our_resources()",
		"pa2: t=resource rsc_hold=foreign info=mach_down",
	})
	wantLog(t, w.nodes[1], "WARN: No STONITH device configured.", "WARN: Shared disks are not protected.",
		"info: Resources being acquired from pa1.", "Taking over resource group 10.201.0.100/24/eth1",
		"info: mach_down takeover complete.")

	// 06: pa1 returns; auto_failback moves the group home via standby foreign.
	mark = len(w.wireLog)
	w.start(0)
	w.run(5 * time.Second)
	wantOwners(t, w, "pa1")
	wantWire(t, w, mark, []string{
		"pa1: t=starting",
		"pa2: t=resource rsc_hold=all rtype=full isstable=1",
		"pa1: t=resource rsc_hold=none rtype=full isstable=0",
		"pa1: t=resource rsc_hold=none rtype=full isstable=1",
		"pa2: t=resource rsc_hold=all rtype=full isstable=1",
		"pa2: t=ask_resources rsc_hold=foreign info=me",
		"pa1: t=ask_resources rsc_hold=foreign info=other",
		"pa2: t=resource rsc_hold=local rtype=full isstable=0 info=standby",
		"pa2: t=ask_resources rsc_hold=foreign info=done",
		"pa1: t=ask_resources rsc_hold=foreign info=done",
		"pa1: t=resource rsc_hold=local rtype=full isstable=1",
		"pa2: t=resource rsc_hold=local rtype=full isstable=1",
		"pa2: t=resource rsc_hold=local rtype=full isstable=1",
		"pa1: t=resource rsc_hold=local rtype=full isstable=1",
	})
	wantLog(t, w.nodes[0], "Local Resource acquisition completed. (none)", "pa2 wants to go standby [foreign]",
		"acquire local HA resources (standby).", "Initial resource acquisition complete (auto_failback)")

	// 07: graceful stop of pa2 (holds nothing); pa1 keeps its group.
	mark = len(w.wireLog)
	w.step(1, Shutdown{})
	w.run(10 * time.Second)
	wantOwners(t, w, "pa1")
	got = w.wireSince(mark)
	if got[0] != "pa2: t=resource rsc_hold=none rtype=full isstable=0 info=shutdown" || got[1] != "pa2: t=shutdone st=dead" {
		t.Fatalf("graceful stop wire: %v", got)
	}
	if last := got[len(got)-1]; last != "pa1: t=stonith node=pa2 result=unneeded" {
		t.Fatalf("last message after pa2 died = %q, want stonith unneeded\n%s", last, w.dump())
	}
	wantLog(t, w.nodes[1], "Giving up all HA resources.", "All HA resources relinquished.", "ShutdownReady")
	wantLog(t, w.nodes[0], "Received shutdown notice from 'pa2'.", "Resources being acquired from pa2.", "Dead node pa2 gave up resources.")

	// 08: pa2 restarts: pa1 holds all (it took "foreign" at the shutdown) and
	// fails back nothing real (no pa2 groups); the group stays on pa1.
	w.start(1)
	w.run(10 * time.Second)
	wantOwners(t, w, "pa1")
	if a, b := w.nodes[0].m.RscStatus(), w.nodes[1].m.RscStatus(); a != "local" || b != "local" {
		t.Fatalf("rscstatus after pa2 restart: pa1 %s pa2 %s\n%s", a, b, w.dump())
	}

	// 09: graceful stop of pa1: pa2 takes over at once on shutdone.
	w.step(0, Shutdown{})
	w.run(2 * time.Second)
	wantOwners(t, w, "pa2")
	wantLog(t, w.nodes[1], "Received shutdown notice from 'pa1'.", "mach_down takeover complete.")
}

// TestIdleOnlyWhenNothingIsUnderWay: the daemon stops ticking an Idle
// manager on a timer, so Idle must be false whenever a deadline or a job is
// pending: during the start-up negotiation, during a standby and its
// scripts, and after a peer's death while the takeover runs.
func TestIdleOnlyWhenNothingIsUnderWay(t *testing.T) {
	for _, mode := range []string{FailbackOn, FailbackOff} {
		w := startPair(t, mode)
		pa1, pa2 := w.nodes[0], w.nodes[1]
		if pa2.m.Idle() {
			t.Fatalf("%s: pa2 idle right after its start", mode)
		}
		w.run(30 * time.Second)
		if !pa1.m.Idle() || !pa2.m.Idle() {
			t.Fatalf("%s: not idle once stable: %s", mode, w.dump())
		}
		w.admin(0, "standby", "all")
		if pa1.m.Idle() {
			t.Fatalf("%s: pa1 idle right after asking for standby", mode)
		}
		sawBusy := false
		for range 40 {
			w.run(250 * time.Millisecond)
			sawBusy = sawBusy || !pa2.m.Idle()
		}
		if !sawBusy {
			t.Errorf("%s: pa2 never busy while taking over pa1's groups", mode)
		}
		if !pa1.m.Idle() || !pa2.m.Idle() {
			t.Fatalf("%s: not idle 10 s after the standby: %s", mode, w.dump())
		}
		wantOwners(t, w, "pa2")
		w.crash(1, false)
		sawBusy = false
		for range 200 {
			w.run(100 * time.Millisecond)
			sawBusy = sawBusy || !pa1.m.Idle()
		}
		if !sawBusy {
			t.Errorf("%s: pa1 never busy while taking the group back from dead pa2", mode)
		}
		if st := pa1.m.Groups()[key]; st != Running {
			t.Fatalf("%s: pa1's group is %v after pa2 died: %s", mode, st, w.dump())
		}
		if !pa1.m.Idle() {
			t.Fatalf("%s: pa1 not idle after the takeover: %s", mode, w.dump())
		}
	}
}
