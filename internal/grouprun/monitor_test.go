package grouprun

import (
	"testing"

	"heartbeatd/haresources"
)

// A monitor job checks the listed resources left to right and ends at the
// first unhealthy one, naming it with what it said; a stop asked for
// meanwhile waits for it.
func TestMonitorJob(t *testing.T) {
	g := grp("n1", "A", "B", "C")
	m := newMachine(t, Config{Groups: []haresources.Group{g}})
	m.up["A"], m.up["B"], m.up["C"] = true, true, true
	m.submit(Job{Kind: Monitor, Key: "A", Resources: g.Resources})
	m.settle()
	if len(m.done) != 1 || !m.done[0].OK || m.done[0].Job.Kind != Monitor {
		t.Fatalf("healthy: done = %+v", m.done)
	}
	m.up["B"] = false
	m.submit(Job{Kind: Monitor, Key: "A", Resources: []haresources.Resource{g.Resources[0], g.Resources[1], g.Resources[2]}})
	m.submit(Job{Kind: Stop, Key: "A"})
	if len(m.pending) != 1 || m.pending[0].Op != OpMonitor {
		t.Fatalf("pending %+v: the stop must wait for the monitor", m.pending)
	}
	m.settle()
	eq(t, "journal", m.journal, []string{"monitor A", "monitor B", "monitor C", "monitor A", "monitor B", "stop C", "stop B", "stop A"})
	if f := m.done[1]; f.OK || f.Resource != "B" || f.Output != "stopped" {
		t.Errorf("unhealthy: %+v", f)
	}
	if len(m.logs) != 1 { // the monitor logs nothing itself; rm does
		t.Errorf("logs %q", m.logs)
	}
}

// A monitor that does not complete (timed out) or has no script fails,
// with a reason of its own.
func TestMonitorIncompleteFails(t *testing.T) {
	g := grp("n1", "A")
	for _, tc := range []struct {
		res  Result
		want string
	}{
		{Result{Exit: -1, Incomplete: true}, "the monitor did not complete (timed out or could not run)"},
		{Result{Exit: -1, Incomplete: true, Missing: true}, "no resource script"},
		{Result{Exit: 1}, "not running"},
	} {
		m := newMachine(t, Config{Groups: []haresources.Group{g}})
		m.answer = func(Run) *Result { r := tc.res; return &r }
		m.submit(Job{Kind: Monitor, Key: "A", Resources: g.Resources})
		m.settle()
		if len(m.done) != 1 || m.done[0].OK || m.done[0].Output != tc.want {
			t.Errorf("%+v: done %+v", tc.res, m.done)
		}
	}
}
