package reload

import (
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
	"heartbeatd/internal/node"
	"heartbeatd/internal/rm"
)

// MonitorConfig is which resources the node monitors, and how often.
func (s *Set) MonitorConfig() node.MonitorConfig {
	m := s.Cfg.Monitor
	c := node.MonitorConfig{Interval: m.Interval}
	if len(m.Resources) > 0 {
		c.Override = make(map[string]time.Duration, len(m.Resources))
		for _, r := range m.Resources {
			c.Override[r.Name] = r.Interval
		}
	}
	return c
}

// MonitorPolicy is what the resource manager does about failed monitors.
func (s *Set) MonitorPolicy() rm.MonitorPolicy {
	m := s.Cfg.Monitor
	return rm.MonitorPolicy{MaxRestarts: m.MaxRestarts, Window: m.Window, FailureTimeout: m.FailureTimeout}
}

// checkMonitorNames warns about a monitor line that names no resource of
// haresources (a typo would silently leave the resource unmonitored, or
// monitored at the global interval the admin meant to turn off).
func checkMonitorNames(cfg *config.Config, hr *haresources.File) diag.List {
	var l diag.List
	for _, mr := range cfg.Monitor.Resources {
		found := false
		for _, g := range hr.Groups {
			for _, r := range g.Resources {
				if r.Raw == mr.Name || r.Script == mr.Name {
					found = true
				}
			}
		}
		if !found {
			l.Warnf(cfg.File, mr.Line, "monitor %s: no resource of haresources is written so or runs that script; it has no effect", mr.Name)
		}
	}
	return l
}
