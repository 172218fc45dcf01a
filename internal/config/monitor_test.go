package config

import (
	"testing"
	"time"
)

func TestMonitorDirectives(t *testing.T) {
	cfg, l := parseString(t, minimal)
	if cfg.Monitor.On() || cfg.Monitor.Timeout != DefaultMonitorTimeout || cfg.Monitor.MaxRestarts != DefaultMonitorMaxRestarts || l.HasErrors() {
		t.Errorf("defaults: %+v %v", cfg.Monitor, l)
	}
	cfg, l = parseString(t, minimal+"monitor_interval 10s\nmonitor_timeout 5\nmonitor_max_restarts 0\n"+
		"monitor_window 120\nmonitor_failure_timeout 600\nmonitor mysql off\nmonitor IPaddr::10.0.0.5/24 2500ms\n")
	if len(l) != 0 {
		t.Fatalf("findings: %v", findingStrings(l))
	}
	m := cfg.Monitor
	if !m.On() || m.Interval != 10*time.Second || m.Timeout != 5*time.Second || m.MaxRestarts != 0 ||
		m.Window != 2*time.Minute || m.FailureTimeout != 10*time.Minute {
		t.Errorf("set: %+v", m)
	}
	want := []MonitorResource{{Name: "mysql", Line: 10}, {Name: "IPaddr::10.0.0.5/24", Interval: 2500 * time.Millisecond, Line: 11}}
	if len(m.Resources) != 2 || m.Resources[0] != want[0] || m.Resources[1] != want[1] {
		t.Errorf("monitor lines: %+v", m.Resources)
	}
	// A monitor line alone turns monitoring on for that resource.
	if cfg, _ := parseString(t, minimal+"monitor mysql 30\n"); !cfg.Monitor.On() {
		t.Error("monitor mysql 30 without monitor_interval: monitoring off")
	}
}

func TestMonitorFindings(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"interval junk", minimal + "monitor_interval often\n", `ha.cf:5: error: monitor_interval: "often" is not a time`},
		{"interval too short", minimal + "monitor_interval 100ms\n", `ha.cf:5: error: monitor_interval: "100ms" is below 1s`},
		{"timeout zero", minimal + "monitor_timeout 0\n", `ha.cf:5: error: monitor_timeout: "0" must be greater than zero`},
		{"max negative", minimal + "monitor_max_restarts -1\n", `ha.cf:5: error: monitor_max_restarts: -1 is out of range 0-1000`},
		{"monitor short", minimal + "monitor mysql\n", `ha.cf:5: error: monitor: expected RESOURCE TIME|off`},
		{"monitor bad time", minimal + "monitor mysql sometimes\n", `ha.cf:5: error: monitor: "sometimes" is not a time`},
		{"monitor twice", minimal + "monitor mysql 10\nmonitor mysql off\n", `ha.cf:6: error: monitor "mysql" given twice (first on line 5)`},
		{"timeout above interval", minimal + "monitor_interval 10\nmonitor_timeout 30\n", `ha.cf:6: warning: monitor_timeout 30000ms is longer than monitor_interval 10000ms`},
		{"window too short", minimal + "monitor_interval 60\nmonitor_window 120\n", `ha.cf:6: warning: monitor_window 120000ms is shorter than monitor_max_restarts × monitor_interval (180000ms)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, l := parseString(t, tt.in)
			wantFinding(t, l, tt.want)
		})
	}
}
