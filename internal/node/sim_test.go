package node

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/rm"
)

// TestSim runs the REAL node pair (membership, resource manager and the
// protocols around them) through random schedules: lossy links, cuts of one
// link or both, daemons killed (their groups left running), stopped and
// resumed, rebooted and restarted, admin standby and takeover, slow and
// failing scripts. Each seed is one schedule; HBD_SIM_SEEDS says how many
// per auto_failback mode (default 300; CI runs 2000).
//
// Checked:
//   - safety: no node starts a group that runs on the other machine while
//     the other daemon has been alive and connected for three deadtimes
//     (checkStart);
//   - convergence: once the faults are over and both daemons have run
//     connected for a while, every group runs on exactly one machine.
//
// Replay one seed: go test ./internal/node -run 'TestSim/legacy' -simseed=N -v
var simSeed = flag.Int64("simseed", 0, "replay this simulator seed only, with its trace")

func TestSim(t *testing.T) {
	seeds := 300
	if v := os.Getenv("HBD_SIM_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("HBD_SIM_SEEDS=%q: want a positive number", v)
		}
		seeds = n
	}
	if testing.Short() {
		seeds = 50
	}
	for _, mode := range []string{"on", "off", "legacy"} {
		t.Run(mode, func(t *testing.T) {
			runSeeds(t, seeds, "TestSim/"+mode, func(seed int64) *world { return simRun(t, seed, mode) })
		})
	}
}

// TestSimFencing runs the same schedules with a STONITH device on both
// nodes: a fenced machine stops at once, and no group may be active on
// both machines at any moment, partitions and heals included
// (checkExclusive), on top of TestSim's checks. Resets fail now and then.
// It runs each fence policy on half of HBD_SIM_SEEDS per mode.
func TestSimFencing(t *testing.T) {
	seeds := halfSeeds(50)
	for _, mode := range []string{"on", "off", "legacy"} {
		for _, policy := range []string{rm.FencePolicyHolder, rm.FencePolicyHeartbeat} {
			t.Run(mode+"/"+policy, func(t *testing.T) { simFencing(t, seeds, mode, policy) })
		}
	}
}

func simFencing(t *testing.T, seeds int, mode, policy string) {
	runSeeds(t, seeds, "TestSimFencing/"+mode+"/"+policy, func(seed int64) *world { return simRunWith(t, seed, mode, policy) })
}

// halfSeeds is half of HBD_SIM_SEEDS (default 150), short in -short mode:
// the seed count of the simulator's variants.
func halfSeeds(short int) int {
	if testing.Short() {
		return short
	}
	if n, err := strconv.Atoi(os.Getenv("HBD_SIM_SEEDS")); err == nil && n > 1 {
		return n / 2
	}
	return 150
}

// simRun plays one random schedule and checks the end state.
func simRun(t testing.TB, seed int64, mode string) *world { return simRunWith(t, seed, mode, "") }

// simRunWith: policy "" runs without STONITH.
func simRunWith(t testing.TB, seed int64, mode, policy string) *world {
	w := newWorld(t, seed, mode)
	if policy != "" {
		w.stonith, w.fencePolicy = true, policy
		w.fenceFail = func() bool { return w.rng.Float64() < 0.1 }
	}
	w.boot()
	w.faults(nil)
	w.heal()
	w.settled()
	return w
}

// faults plays 1 to 4 faults, each followed by 2 to 17 s of running. own,
// if set, may inject a fault of the test's own instead: it returns false
// to leave the turn to w.fault.
func (w *world) faults(own func() bool) {
	r := w.rng
	n := 1 + r.Intn(4)
	for f := 0; f < n; f++ {
		if own == nil || !own() {
			w.fault()
		}
		w.run(time.Duration(2000+r.Intn(15000)) * time.Millisecond)
	}
}

// settled runs 120 s connected and checks that every group runs on exactly
// one machine.
func (w *world) settled() {
	w.run(120 * time.Second)
	for k, on := range w.owners() {
		if len(on) != 1 {
			w.violate("after the faults and 120 s connected, %s runs on %v", k, on)
		}
	}
	// Liveness of the exchanges: a node left believing the other in flux
	// ignores every standby request of the peer ("Other side is in flux")
	// until the peer happens to change again.
	for _, sn := range w.nodes {
		if sn.running && !sn.paused && sn.n.RM().RscStatus() == "transition" {
			w.violate("after the faults and 120 s connected, %s still sees a transition: %s", sn.name, sn.n.RM().State())
		}
	}
}

// boot starts both daemons a moment apart (starts fail now and then) and
// lets them settle for 20 s.
func (w *world) boot() {
	r := w.rng
	w.opFail = func(i int, key, op string) bool { return op == "start" && r.Float64() < 0.03 }
	w.start(0)
	w.run(time.Duration(r.Intn(3000)) * time.Millisecond)
	w.start(1)
	w.run(20 * time.Second)
}

// fault injects one random fault.
func (w *world) fault() {
	r := w.rng
	i := r.Intn(2)
	switch r.Intn(9) {
	case 0:
		w.setCut("eth1", true)
	case 1:
		w.setCut("eth1", true)
		w.setCut("eth2", true)
	case 2:
		w.loss = 0.2 + 0.5*r.Float64()
		w.tracef("---- loss %.2f", w.loss)
	case 3:
		if w.nodes[i].running {
			w.kill(i)
		}
	case 4:
		if w.nodes[i].running && !w.nodes[i].paused {
			w.pause(i)
		}
	case 5:
		w.reboot(i)
	case 6:
		if w.alive(i) {
			w.tracef("%s ---- hb_standby", w.nodes[i].name)
			w.step(i, Admin{ID: 1, Cmd: "standby", Set: "all"})
		}
	case 7:
		if w.alive(i) {
			w.tracef("%s ---- hb_takeover", w.nodes[i].name)
			w.step(i, Admin{ID: 2, Cmd: "takeover", Set: "all"})
		}
	case 8:
		w.heal()
	}
}

// heal ends every fault: links repaired, loss gone, paused daemons
// resumed, killed daemons restarted (after their machine rebooted, as an
// admin would before starting a crashed node's daemon again).
func (w *world) heal() {
	w.setCut("eth1", false)
	w.setCut("eth2", false)
	w.loss = 0
	w.pingLost = [2]bool{}
	for i, sn := range w.nodes {
		switch {
		case !sn.running:
			w.reboot(i)
			w.start(i)
		case sn.paused:
			w.resume(i)
		}
	}
}

// cause names the faults of a failing schedule, for the list of seeds.
func (w *world) cause() string {
	var f []string
	seen := map[string]bool{}
	for _, l := range w.trace {
		if i := strings.Index(l, "---- "); i >= 0 {
			what := strings.Fields(l[i+5:])[0]
			if !seen[what] {
				seen[what] = true
				f = append(f, what)
			}
		}
	}
	return strings.Join(f, ",")
}
