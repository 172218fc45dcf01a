package config

import (
	"strconv"
	"time"
)

// Monitor holds the resource-monitoring directives (heartbeatd
// extensions; Heartbeat R1 has none). Off unless monitor_interval or a
// monitor line turns it on, so a migrated ha.cf behaves as before.
type Monitor struct {
	// Interval (monitor_interval) between two monitor ops of each
	// resource of a group running here; 0 = off.
	Interval time.Duration
	// Timeout (monitor_timeout) bounds one monitor op; a monitor that
	// overruns counts as a failure.
	Timeout time.Duration
	// MaxRestarts (monitor_max_restarts) local restarts within Window
	// before the group is handed to the peer.
	MaxRestarts int
	Window      time.Duration // monitor_window
	// FailureTimeout (monitor_failure_timeout): how long a node that gave
	// a group away for failures refuses to take it back.
	FailureTimeout time.Duration
	// Resources are the monitor lines: an interval for one resource, by
	// its haresources token or script name; 0 = off for it.
	Resources []MonitorResource
}

// MonitorResource is one `monitor RESOURCE TIME|off` line.
type MonitorResource struct {
	Name     string
	Interval time.Duration
	Line     int
}

// The monitoring defaults.
const (
	DefaultMonitorTimeout        = 20 * time.Second
	DefaultMonitorMaxRestarts    = 3
	DefaultMonitorWindow         = 10 * time.Minute
	DefaultMonitorFailureTimeout = 30 * time.Minute
)

// DefaultMonitor is the monitoring in force when ha.cf says nothing: off.
func DefaultMonitor() Monitor {
	return Monitor{Timeout: DefaultMonitorTimeout, MaxRestarts: DefaultMonitorMaxRestarts,
		Window: DefaultMonitorWindow, FailureTimeout: DefaultMonitorFailureTimeout}
}

// On reports whether any resource may be monitored.
func (m Monitor) On() bool {
	if m.Interval > 0 {
		return true
	}
	for _, r := range m.Resources {
		if r.Interval > 0 {
			return true
		}
	}
	return false
}

// monitorDirective reports whether name is one of the directives
// applyMonitor handles.
func monitorDirective(name string) bool {
	switch name {
	case "monitor", "monitor_interval", "monitor_timeout", "monitor_max_restarts", "monitor_window", "monitor_failure_timeout":
		return true
	}
	return false
}

// applyMonitor interprets one monitoring directive. Times take the
// suffix s without a warning: these directives are heartbeatd's own, so
// Heartbeat's refusal of "10s" does not matter here.
func (p *hacfParser) applyMonitor(d Directive) {
	m := &p.cfg.Monitor
	switch d.Name {
	case "monitor_interval":
		if v, ok := p.one(d); ok {
			p.monitorTime(d, v, &m.Interval, true)
		}
	case "monitor_timeout":
		if v, ok := p.one(d); ok {
			p.monitorTime(d, v, &m.Timeout, false)
		}
	case "monitor_window":
		if v, ok := p.one(d); ok {
			p.monitorTime(d, v, &m.Window, false)
		}
	case "monitor_failure_timeout":
		if v, ok := p.one(d); ok {
			p.monitorTime(d, v, &m.FailureTimeout, false)
		}
	case "monitor_max_restarts":
		p.setInt(d, &m.MaxRestarts, 0, 1000)
	case "monitor":
		if len(d.Args) != 2 {
			p.errorf(d.Line, "monitor: expected RESOURCE TIME|off (a haresources token or script name, then an interval or off)")
			return
		}
		for _, r := range m.Resources {
			if r.Name == d.Args[0] {
				p.errorf(d.Line, "monitor %s given twice (first on line %d)", clip(d.Args[0]), r.Line)
				return
			}
		}
		var iv time.Duration
		if d.Args[1] != "off" && !p.monitorTime(d, d.Args[1], &iv, true) {
			return
		}
		m.Resources = append(m.Resources, MonitorResource{Name: d.Args[0], Interval: iv, Line: d.Line})
	}
}

// monitorTime parses v into dst; zeroOff lets 0 mean off.
func (p *hacfParser) monitorTime(d Directive, v string, dst *time.Duration, zeroOff bool) bool {
	if zeroOff && isZero(v) {
		*dst = 0
		return true
	}
	t, err := parseTime(v)
	if err != nil {
		p.errorf(d.Line, "%s: %v", d.Name, err)
		return false
	}
	if d.Name != "monitor_timeout" && t.d < time.Second {
		p.errorf(d.Line, "%s: %s is below 1s", d.Name, clip(v))
		return false
	}
	*dst = t.d
	return true
}

// checkMonitor reports combinations that cannot work as meant.
func (p *hacfParser) checkMonitor() {
	m := p.cfg.Monitor
	if !m.On() {
		return
	}
	line := p.lastLine["monitor_timeout"]
	if m.Interval > 0 && m.Timeout > m.Interval && line > 0 {
		p.warnf(line, "monitor_timeout %s is longer than monitor_interval %s: a hung monitor delays the next check",
			formatMS(m.Timeout), formatMS(m.Interval))
	}
	if m.MaxRestarts > 0 && m.Interval > 0 && time.Duration(m.MaxRestarts)*m.Interval > m.Window {
		if l := p.lastLine["monitor_window"]; l > 0 {
			p.warnf(l, "monitor_window %s is shorter than monitor_max_restarts × monitor_interval (%s): failures one interval apart never reach "+strconv.Itoa(m.MaxRestarts)+" restarts in it, so the group is never handed over",
				formatMS(m.Window), formatMS(time.Duration(m.MaxRestarts)*m.Interval))
		}
	}
}
