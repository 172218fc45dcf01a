package reload

import (
	"strings"
	"testing"
	"time"
)

// The monitor directives reach the node and the resource manager, and a
// monitor line naming nothing in haresources is a warning with its line.
func TestMonitorSettings(t *testing.T) {
	dir := writeSet(t, baseCF+"monitor_interval 10\nmonitor_max_restarts 1\nmonitor IPaddr::10.0.0.5/24 off\nmonitor mysqld 5\n",
		"n1 IPaddr::10.0.0.5/24 mysql\n")
	s, l := Read(dir, "n1")
	var warned bool
	for _, f := range l {
		if strings.HasSuffix(f.File, "ha.cf") && f.Line == 14 && strings.Contains(f.Message, "monitor mysqld: no resource of haresources") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning for monitor mysqld: %v", l)
	}
	nc := s.NodeConfig(Run{Local: "n1", Peer: "n2"})
	hr := s.Hares.Groups[0].Resources
	if got := nc.Monitor.IntervalOf(hr[0]); got != 0 {
		t.Errorf("IPaddr interval %v, want off", got)
	}
	if got := nc.Monitor.IntervalOf(hr[1]); got != 10*time.Second {
		t.Errorf("mysql interval %v, want 10s", got)
	}
	if p := nc.RM.Monitor; p.MaxRestarts != 1 || p.Window != 10*time.Minute || p.FailureTimeout != 30*time.Minute {
		t.Errorf("policy %+v", p)
	}
	// Off by default.
	s = load(t, writeSet(t, baseCF, "n1 IPaddr::10.0.0.5/24 mysql\n"))
	if nc := s.NodeConfig(Run{Local: "n1", Peer: "n2"}); nc.Monitor.IntervalOf(hr[1]) != 0 {
		t.Errorf("monitoring on without a directive")
	}
}

// The monitor directives apply live, except monitor_timeout (the script
// runner's, fixed at start), which needs a restart.
func TestMonitorChangesApplyLive(t *testing.T) {
	const hr = "n1 IPaddr::10.0.0.5/24 mysql\n"
	base := load(t, writeSet(t, baseCF+"monitor_interval 10\n", hr))
	for _, c := range []struct {
		name, cf      string
		live, restart bool
	}{
		{"unchanged", "monitor_interval 10\n", false, false},
		{"on for all", "monitor_interval 20\n", true, false},
		{"one resource", "monitor_interval 10\nmonitor mysql off\n", true, false},
		{"policy", "monitor_interval 10\nmonitor_max_restarts 0\nmonitor_window 60\nmonitor_failure_timeout 600\n", true, false},
		{"off", "", true, false},
		{"timeout", "monitor_interval 10\nmonitor_timeout 5\n", false, true},
	} {
		ch := Diff(base, load(t, writeSet(t, baseCF+c.cf, hr)))
		restart := strings.Join(ch.Restart, "; ")
		if ch.Monitor != c.live || (restart != "") != c.restart {
			t.Errorf("%s: Monitor %v, restart %q; want live %v, restart %v", c.name, ch.Monitor, restart, c.live, c.restart)
		}
		if c.restart && !strings.Contains(restart, "monitor_timeout changed") {
			t.Errorf("%s: restart %q does not name monitor_timeout", c.name, restart)
		}
		if c.live && !strings.Contains(ch.Summary(), "monitoring") {
			t.Errorf("%s: summary %q", c.name, ch.Summary())
		}
	}
}
