package node

import (
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/rm"
)

// TestSimMonitor runs TestSim's schedules with resource monitoring on
// (every 3 s, one restart within a minute, no take-back for 40 s) and two
// more faults: a resource that dies on its machine (the monitor finds it
// down and the group is restarted), and a node whose monitor of a group
// keeps failing for a while (restarts, then a handover to the peer, or a
// group stopped with CRIT when it fails on both). heal also plays the admin
// who fixed the resource and ran `heartbeatd cleanup` for every group.
// TestSim's checks apply: no start of a group running on the connected
// peer's machine, and every group running exactly once at the end.
func TestSimMonitor(t *testing.T) {
	seeds := halfSeeds(30)
	for _, mode := range []string{"on", "off", "legacy"} {
		t.Run(mode, func(t *testing.T) {
			runSeeds(t, seeds, "TestSimMonitor/"+mode, func(seed int64) *world { return simMonitorRun(t, seed, mode) })
		})
	}
}

// runSeeds plays seeds 1..n of run, or only -simseed with its trace, and
// reports the first failing seeds with the line that replays them.
func runSeeds(t *testing.T, n int, name string, run func(seed int64) *world) {
	if *simSeed > 0 {
		w := run(*simSeed)
		t.Logf("seed %d violations %v\n%s", *simSeed, w.violations, w.dump())
		return
	}
	failed := 0
	for seed := int64(1); seed <= int64(n); seed++ {
		w := run(seed)
		if len(w.violations) == 0 {
			continue
		}
		failed++
		t.Logf("failing seed %d (%s)", seed, w.cause())
		if failed <= 3 {
			t.Errorf("seed %d: %s\n  replay: go test ./internal/node -run '%s' -simseed=%d -v",
				seed, strings.Join(w.violations, "\n  "), name, seed)
		}
	}
	t.Logf("%d seeds, %d failing", n, failed)
}

func simMonitorRun(t testing.TB, seed int64, mode string) *world {
	w := newWorld(t, seed, mode)
	w.monitor = MonitorConfig{Interval: 3 * time.Second}
	w.monitorPolicy = rm.MonitorPolicy{MaxRestarts: 1, Window: time.Minute, FailureTimeout: 40 * time.Second}
	var sickUntil [2]map[string]time.Time
	sickUntil[0], sickUntil[1] = map[string]time.Time{}, map[string]time.Time{}
	w.sick = func(i int, key string) bool { return w.now.Before(sickUntil[i][key]) }
	r := w.rng
	w.boot()
	w.faults(func() bool {
		i := r.Intn(2)
		key := w.groups[r.Intn(len(w.groups))].Key
		switch r.Intn(4) {
		case 0:
			if w.nodes[i].actual[key] == up {
				w.tracef("%s ---- %s dies", w.nodes[i].name, key)
				w.nodes[i].actual[key] = down
			}
		case 1:
			d := time.Duration(5+r.Intn(40)) * time.Second
			w.tracef("%s ---- %s sick for %v", w.nodes[i].name, key, d)
			sickUntil[i][key] = w.now.Add(d)
		default:
			return false
		}
		return true
	})
	w.heal()
	sickUntil[0], sickUntil[1] = map[string]time.Time{}, map[string]time.Time{}
	for i := range w.nodes {
		for _, g := range w.groups {
			if w.alive(i) {
				w.step(i, Admin{ID: 3, Cmd: CmdCleanup, Set: g.Key})
			}
		}
	}
	w.settled()
	return w
}

// TestMonitorOff: with monitoring off (the default) no monitor op ever
// runs, and a resource that dies stays dead, as in Heartbeat: the same
// schedules as TestSimMonitor, without the convergence check.
func TestMonitorOff(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		w := newWorld(t, seed, "on")
		w.sick = func(int, string) bool { return true }
		w.start(0)
		w.start(1)
		w.run(30 * time.Second)
		var died string
		for _, g := range w.groups {
			for _, sn := range w.nodes {
				if sn.actual[g.Key] == up && died == "" {
					sn.actual[g.Key], died = down, g.Key
				}
			}
		}
		w.run(60 * time.Second)
		if w.monitorOps != 0 {
			t.Fatalf("seed %d: %d monitor ops with monitoring off", seed, w.monitorOps)
		}
		if on := w.owners()[died]; len(on) != 0 {
			t.Fatalf("seed %d: %s restarted on %v with monitoring off", seed, died, on)
		}
	}
}
