package rm

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/scenario"
)

// TestRecordSeed turns one node's view of a simulator seed into a scenario
// file (testdata/scenarios): every event its manager was stepped with, at
// its instant ("at", which moves the clock without ticking), with the
// sim's ticks written as "tick" where they did something, and what the
// manager did as the expected output. A seed that once failed stays
// covered by the file after the simulator or the fix moves it.
//
//	go test ./internal/rm -run TestRecordSeed -recseed=28434 -recnode=pa2 [-simwake] -recout=testdata/scenarios/seed_28434.txt
//
// One run of the node is written (a restart is a new manager): the last,
// or the one -recrun names. The comment at the top is left for a person
// to write.
var (
	recSeed = flag.Int64("recseed", -1, "TestRecordSeed: the simulator seed to record")
	recNode = flag.String("recnode", "pa2", "TestRecordSeed: the node whose manager is recorded")
	recOut  = flag.String("recout", "", "TestRecordSeed: the scenario file to write (default: the test log)")
	recRun  = flag.Int("recrun", 0, "TestRecordSeed: which run of the node to record, 1 for its first start (default: the last)")
)

// simHook, when set, sees every simulator world runSim creates.
var simHook func(w *world)

func TestRecordSeed(t *testing.T) {
	if *recSeed < 0 {
		t.Skip("no -recseed")
	}
	var rec *recorder
	simHook = func(w *world) {
		rec = &recorder{node: w.idx(*recNode), cfg: &w.cfgs[w.idx(*recNode)], want: *recRun}
		w.rec = rec
	}
	defer func() { simHook = nil }()
	r := runSim(t, *recSeed, *simWake)
	text := rec.format(fmt.Sprintf("# Simulator seed %d (%s, mode %s), as %s saw it (run %d of %d).\n# Violations: %v\n\n",
		*recSeed, map[bool]string{false: "TestSim", true: "TestSimDaemonTicks"}[*simWake], r.mode, *recNode, rec.recorded(), rec.runs, r.violations))
	if *recOut == "" {
		t.Log("\n" + text)
		return
	}
	if err := os.WriteFile(*recOut, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// recorder collects one manager's steps as scenario blocks, one per instant.
type recorder struct {
	node   int
	cfg    *Config
	want   int // run to record, 0 = the last
	runs   int // starts so far
	on     bool
	blocks []recBlock
}

type recBlock struct {
	at   time.Time
	cmds []string
	out  []string
}

// recorded is the number of the run written.
func (r *recorder) recorded() int {
	if r.want > 0 {
		return r.want
	}
	return r.runs
}

func (r *recorder) restart() {
	r.runs++
	r.on = r.want == 0 || r.runs == r.want
	if r.on {
		r.blocks = nil
	}
}

func (r *recorder) add(now time.Time, ev Event, acts []Action) {
	clk := scenario.NewClock(epoch)
	clk.Now = now
	out := scenario.Render(clk, acts, renderAction)
	cmd := recCmd(ev)
	if !r.on || cmd == "tick" && len(out) == 0 {
		return
	}
	if n := len(r.blocks); n == 0 || !r.blocks[n-1].at.Equal(now) {
		r.blocks = append(r.blocks, recBlock{at: now})
	}
	b := &r.blocks[len(r.blocks)-1]
	b.cmds = append(b.cmds, cmd)
	b.out = append(b.out, out...)
}

func recCmd(ev Event) string {
	switch e := ev.(type) {
	case CommUp:
		if e.Alone {
			return "comm-up alone"
		}
		return "comm-up"
	case PeerStatus:
		return "peer-status " + e.Status.String()
	case PeerReturned:
		return "peer-returned"
	case PeerShutdown:
		return "peer-shutdown"
	case Message:
		var kvs []scenario.KV
		for _, f := range e.Msg.Fields {
			if f.Name != "src" {
				kvs = append(kvs, scenario.KV{Key: f.Name, Value: string(f.Value)})
			}
		}
		return "recv " + scenario.FormatKVs(kvs)
	case Admin:
		return strings.TrimSpace("admin " + string(e.Cmd) + " " + e.Set)
	case GroupDone:
		res := "ok"
		if e.Fatal {
			res = "fatal"
		} else if !e.OK {
			res = "failed"
		}
		return fmt.Sprintf("done %s %s %s", e.Op, e.Key, res)
	case FenceDone:
		if e.OK {
			return "fence-done ok"
		}
		return "fence-done failed"
	case Tick:
		return "tick"
	case Shutdown:
		return "shutdown"
	}
	return fmt.Sprintf("# unknown event %#v", ev)
}

func (r *recorder) format(header string) string {
	var b strings.Builder
	b.WriteString(header)
	var groups []string
	for _, g := range r.cfg.Groups {
		groups = append(groups, g.Node+":"+g.Key)
	}
	fmt.Fprintf(&b, "config local=%s peer=%s failback=%s on-stop-failure=%s groups=%s\n----\n\n",
		r.cfg.Local, r.cfg.Peer, r.cfg.AutoFailback, r.cfg.OnStopFailure, strings.Join(groups, ","))
	for _, blk := range r.blocks {
		fmt.Fprintf(&b, "at %.3fs\n", blk.at.Sub(epoch).Seconds())
		for _, c := range blk.cmds {
			b.WriteString(c + "\n")
		}
		b.WriteString("----\n")
		for _, o := range blk.out {
			b.WriteString(o + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}
