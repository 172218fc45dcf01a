package grouprun

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
)

var t0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

func res(raw string) haresources.Resource {
	parts := strings.Split(raw, "::")
	return haresources.Resource{Script: parts[0], Args: parts[1:], Raw: raw}
}

func grp(node string, tokens ...string) haresources.Group {
	g := haresources.Group{Node: node, Key: tokens[0]}
	for _, t := range tokens {
		g.Resources = append(g.Resources, res(t))
	}
	return g
}

// machine is a fake executor: it keeps which resources run and answers
// every Run at once through answer, which may override the outcome.
type machine struct {
	t       *testing.T
	r       *Runs
	now     time.Time
	up      map[string]bool
	journal []string // "start A", "stop B", "status C", in order
	logs    []string
	done    []Finished
	pending []Run
	// answer returns the Result for a Run; nil means the default (the op
	// succeeds and changes up accordingly).
	answer func(Run) *Result
}

func newMachine(t *testing.T, cfg Config) *machine {
	return &machine{t: t, r: New(cfg), now: t0, up: map[string]bool{}}
}

func (m *machine) handle(acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case Run:
			m.pending = append(m.pending, a)
		case Log:
			m.logs = append(m.logs, string(a.Level)+": "+a.Text)
		case Finished:
			m.done = append(m.done, a)
		}
	}
}

// settle answers pending runs, and lets retry timers pass, until idle.
func (m *machine) settle() {
	for i := 0; i < 1000; i++ {
		if len(m.pending) > 0 {
			run := m.pending[0]
			m.pending = m.pending[1:]
			res := m.exec(run) // may move the clock: a slow script
			m.handle(m.r.Done(m.now, res))
			continue
		}
		w := m.r.NextWake()
		if w.IsZero() {
			return
		}
		m.now = w
		m.handle(m.r.Tick(m.now))
	}
	m.t.Fatal("no end")
}

func (m *machine) exec(run Run) Result {
	tok := run.Resource.Raw
	m.journal = append(m.journal, string(run.Op)+" "+tok)
	if m.answer != nil {
		if r := m.answer(run); r != nil {
			r.ID = run.ID
			return *r
		}
	}
	switch run.Op {
	case OpStart:
		m.up[tok] = true
	case OpStop:
		m.up[tok] = false
	}
	if run.Op == OpMonitor && !m.up[tok] {
		return Result{ID: run.ID, Exit: 7, Output: "stopped"}
	}
	return Result{ID: run.ID, Running: m.up[tok]}
}

func (m *machine) submit(j Job) { m.handle(m.r.Submit(m.now, j)) }

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

func TestStartLeftToRightWithStatusFirstStopRightToLeft(t *testing.T) {
	g := grp("n1", "A", "B", "C")
	m := newMachine(t, Config{Groups: []haresources.Group{g}})
	m.submit(Job{Kind: Start, Key: "A"})
	m.settle()
	m.submit(Job{Kind: Stop, Key: "A"})
	m.settle()
	eq(t, "journal", m.journal, []string{"status A", "start A", "status B", "start B", "status C", "start C", "stop C", "stop B", "stop A"})
	eq(t, "log", m.logs, []string{"info: Acquiring resource group: n1 A B C", "info: Releasing resource group: n1 A B C"})
	if len(m.done) != 2 || !m.done[0].OK || !m.done[1].OK || m.done[1].Job.Kind != Stop {
		t.Errorf("done = %+v", m.done)
	}
}

func TestStartSkipsRunningResources(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "B")}})
	m.up["A"] = true
	m.submit(Job{Kind: Start, Key: "A"})
	m.settle()
	eq(t, "journal", m.journal, []string{"status A", "status B", "start B"})
}

func TestStatusThatDoesNotCompleteFailsTheStart(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "B")}})
	m.answer = func(r Run) *Result {
		if r.Op == OpStatus && r.Resource.Raw == "B" {
			return &Result{Exit: -1, Incomplete: true}
		}
		return nil
	}
	m.submit(Job{Kind: Start, Key: "A"})
	m.settle()
	// B might be running: it is never started, and the group is released.
	eq(t, "journal", m.journal, []string{"status A", "start A", "status B", "stop B", "stop A"})
	if f := m.done[0]; f.OK || f.Fatal || f.Resource != "B" {
		t.Errorf("finished = %+v", f)
	}
}

func TestStartFailureReleasesWholeGroupInReverse(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "B", "C")}})
	m.answer = func(r Run) *Result {
		if r.Op == OpStart && r.Resource.Raw == "B" {
			return &Result{Exit: 1}
		}
		return nil
	}
	m.submit(Job{Kind: Start, Key: "A", Peer: "n2"})
	m.settle()
	eq(t, "journal", m.journal, []string{"status A", "start A", "status B", "start B", "stop C", "stop B", "stop A"})
	eq(t, "log", m.logs, []string{"info: Acquiring resource group: n1 A B C",
		"CRIT: Giving up resources due to failure of B", "info: Releasing resource group: n1 A B C"})
	if f := m.done[0]; f.OK || f.Fatal || f.Resource != "B" || f.Job.Kind != Start {
		t.Errorf("finished = %+v", f)
	}
}

func TestStopRetriesAtIntervalThenSucceeds(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A")}, RetryInterval: 2 * time.Second})
	m.up["A"] = true
	fails := 3
	var at []time.Duration
	m.answer = func(r Run) *Result {
		at = append(at, m.now.Sub(t0))
		if r.Op == OpStop && fails > 0 {
			fails--
			return &Result{Exit: 1}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A"})
	m.settle()
	want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 6 * time.Second}
	if fmt.Sprint(at) != fmt.Sprint(want) {
		t.Errorf("stop runs at %v, want %v", at, want)
	}
	if n := strings.Count(strings.Join(m.logs, "\n"), "Retrying failed stop operation [A]"); n != 3 {
		t.Errorf("%d retry lines, want 3:\n%s", n, strings.Join(m.logs, "\n"))
	}
	if !m.done[0].OK || m.up["A"] {
		t.Errorf("finished = %+v, up = %v", m.done[0], m.up)
	}
}

func TestStopFailureWhenStatusSaysRunningIsFatal(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "B")}, StopRetries: 2})
	m.up["A"], m.up["B"] = true, true
	m.answer = func(r Run) *Result {
		if r.Op == OpStop && r.Resource.Raw == "B" {
			return &Result{Exit: 1}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A", Peer: "n2"})
	m.settle()
	// A, left of B, is left alone: Heartbeat reboots here, it does not go on.
	eq(t, "journal", m.journal, []string{"stop B", "stop B", "stop B", "status B"})
	if f := m.done[0]; f.OK || !f.Fatal || f.Resource != "B" {
		t.Errorf("finished = %+v", f)
	}
	if n := strings.Count(strings.Join(m.logs, "\n"), "Reboot required!"); n != 1 {
		t.Errorf("%d reboot lines, want 1", n)
	}
}

func TestStopFailureWithStatusStoppedOnlyWarns(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "B")}, StopRetries: 1})
	m.answer = func(r Run) *Result {
		if r.Op == OpStop && r.Resource.Raw == "B" {
			return &Result{Exit: 7}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A"})
	m.settle()
	eq(t, "journal", m.journal, []string{"stop B", "stop B", "status B", "stop A"})
	if !m.done[0].OK {
		t.Errorf("finished = %+v", m.done[0])
	}
	if !strings.Contains(strings.Join(m.logs, "\n"), "WARN: Machine reboot narrowly avoided!") {
		t.Errorf("log:\n%s", strings.Join(m.logs, "\n"))
	}
}

func TestMissingScriptFailsStartButNotRelease(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "Typo")}})
	m.answer = func(r Run) *Result {
		if r.Resource.Raw == "Typo" {
			return &Result{Exit: -1, Missing: true}
		}
		return nil
	}
	m.submit(Job{Kind: Start, Key: "A"})
	m.settle()
	eq(t, "journal", m.journal, []string{"status A", "start A", "status Typo", "stop Typo", "stop A"})
	if f := m.done[0]; f.OK || f.Fatal || f.Resource != "Typo" {
		t.Errorf("finished = %+v", f)
	}
}

func TestStopBudgetCutsRetriesShort(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A")}, StopBudget: 3 * time.Second})
	m.up["A"] = true
	m.answer = func(r Run) *Result {
		if r.Op == OpStop {
			return &Result{Exit: 1}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A"})
	m.settle()
	// Runs at 0, 1, 2 and 3 s, then status: no retry may begin after 3 s.
	eq(t, "journal", m.journal, []string{"stop A", "stop A", "stop A", "stop A", "status A"})
	if f := m.done[0]; !f.Fatal {
		t.Errorf("finished = %+v", f)
	}
	if got := m.now.Sub(t0); got != 3*time.Second {
		t.Errorf("ended at %v", got)
	}
}

func TestPeerGoesIntoTheRightRuns(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A")}})
	var runs []Run
	m.answer = func(r Run) *Result { runs = append(runs, r); return nil }
	m.submit(Job{Kind: Start, Key: "A", Peer: "dead"})
	m.settle()
	m.submit(Job{Kind: Stop, Key: "A", Peer: "live"})
	m.settle()
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s from=%q to=%q", r.Op, r.TakeoverFrom, r.ReleaseTo))
	}
	eq(t, "runs", got, []string{`status from="" to=""`, `start from="dead" to=""`, `stop from="" to="live"`})
}

func TestDisjointGroupsRunInParallelSharedOnesInOrder(t *testing.T) {
	a := grp("n1", "IPaddr::10.0.0.1", "Filesystem::/dev/sdb1::/a")
	b := grp("n1", "IPaddr::10.0.0.2")
	c := grp("n2", "IPaddr::10.0.0.3", "Filesystem::/dev/sdb1::/a")
	r := New(Config{Groups: []haresources.Group{a, b, c}})
	var runs []Run
	collect := func(acts []Action) {
		for _, x := range acts {
			if run, ok := x.(Run); ok {
				runs = append(runs, run)
			}
		}
	}
	collect(r.Submit(t0, Job{Kind: Start, Key: a.Key}))
	collect(r.Submit(t0, Job{Kind: Start, Key: c.Key})) // shares /dev/sdb1 with a
	collect(r.Submit(t0, Job{Kind: Start, Key: b.Key}))
	if len(runs) != 2 || runs[0].Key != a.Key || runs[1].Key != b.Key {
		t.Fatalf("first runs: %+v", runs)
	}
	if _, busy := r.Busy(c.Key); busy {
		t.Fatal("c began while a holds its disk")
	}
	// Finish a (two resources, status then start each).
	id := runs[0].ID
	for i := 0; i < 4; i++ {
		acts := r.Done(t0, Result{ID: id})
		runs = runs[:0]
		collect(acts)
		for _, run := range runs {
			if run.Key == a.Key {
				id = run.ID
			}
		}
	}
	if _, busy := r.Busy(c.Key); !busy {
		t.Fatal("c did not begin once a ended")
	}
}

func TestAnnounceWaitsForTheGroupsStop(t *testing.T) {
	g := grp("n1", "IPaddr::10.0.0.1")
	r := New(Config{Groups: []haresources.Group{g}})
	acts := r.Submit(t0, Job{Kind: Stop, Key: g.Key})
	stop := acts[len(acts)-1].(Run)
	if acts := r.Submit(t0, Job{Kind: Announce, Key: g.Key, Resource: g.Resources[0]}); len(acts) != 0 {
		t.Fatalf("announce ran during the stop: %+v", acts)
	}
	acts = r.Done(t0, Result{ID: stop.ID})
	if len(acts) != 2 {
		t.Fatalf("after stop: %+v", acts)
	}
	if f, ok := acts[0].(Finished); !ok || f.Job.Kind != Stop {
		t.Errorf("first = %+v", acts[0])
	}
	if run, ok := acts[1].(Run); !ok || run.Op != OpStart {
		t.Errorf("second = %+v", acts[1])
	}
}

func TestStaleKeyIsAnsweredAtOnce(t *testing.T) {
	r := New(Config{})
	acts := r.Submit(t0, Job{Kind: Stop, Key: "gone"})
	if len(acts) != 1 || !acts[0].(Finished).OK {
		t.Errorf("stop of a stale key: %+v", acts)
	}
	acts = r.Submit(t0, Job{Kind: Start, Key: "gone"})
	if len(acts) != 1 || acts[0].(Finished).OK {
		t.Errorf("start of a stale key: %+v", acts)
	}
	if !r.Idle() {
		t.Error("not idle")
	}
}

func TestUnknownResultIsIgnored(t *testing.T) {
	g := grp("n1", "A")
	r := New(Config{Groups: []haresources.Group{g}})
	r.Submit(t0, Job{Kind: Start, Key: "A"})
	if acts := r.Done(t0, Result{ID: 999}); len(acts) != 0 {
		t.Errorf("a result nobody waits for did something: %+v", acts)
	}
}

// A stop that outlived SIGKILL is a stop failure at once: no retry, no
// status run (either would hang on the same kernel state).
func TestUnkillableStopFailsAtOnce(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A", "B")}})
	m.up["A"], m.up["B"] = true, true
	m.answer = func(r Run) *Result {
		if r.Op == OpStop && r.Resource.Raw == "B" {
			return &Result{Exit: -1, Incomplete: true, Unkillable: true}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A"})
	m.settle()
	eq(t, "journal", m.journal, []string{"stop B"})
	if f := m.done[0]; !f.Fatal || f.Resource != "B" {
		t.Errorf("finished = %+v", f)
	}
}

func TestDefaultStopBudgetBoundsSlowFailingStops(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "A")}})
	m.up["A"] = true
	m.answer = func(r Run) *Result {
		if r.Op == OpStop {
			m.now = m.now.Add(5 * time.Minute) // each stop runs into script_timeout
			return &Result{Exit: -1, Incomplete: true}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A"})
	m.settle()
	// 5 min: no retry may begin after 4 min; status then decides.
	eq(t, "journal", m.journal, []string{"stop A", "status A"})
}

// Stop retries come for a group a reload added and for one it removed
// while its job ran (the job keeps its group).
func TestRetriesAcrossAReload(t *testing.T) {
	m := newMachine(t, Config{Groups: []haresources.Group{grp("n1", "B")}})
	m.r.Reconfigure([]haresources.Group{grp("n1", "A")})
	m.up["A"] = true
	fails := 1
	m.answer = func(r Run) *Result {
		if r.Op == OpStop && fails > 0 {
			fails--
			return &Result{Exit: 1}
		}
		return nil
	}
	m.submit(Job{Kind: Stop, Key: "A"}) // a group the reload added
	m.settle()
	eq(t, "journal", m.journal, []string{"stop A", "stop A"})
	if len(m.done) != 1 || !m.done[0].OK {
		t.Fatalf("finished = %+v", m.done)
	}
	fails = 1
	m.up["A"] = true
	m.submit(Job{Kind: Stop, Key: "A"})
	res := m.exec(m.pending[0])
	m.pending = m.pending[1:]
	m.handle(m.r.Done(m.now, res))
	m.r.Reconfigure(nil) // the group is gone from haresources meanwhile
	m.settle()
	eq(t, "journal", m.journal, []string{"stop A", "stop A", "stop A", "stop A"})
	if len(m.done) != 2 || !m.done[1].OK {
		t.Errorf("finished = %+v", m.done)
	}
}
