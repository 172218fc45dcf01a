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
