package config

import (
	"path/filepath"

	"heartbeatd/internal/diag"
)

// isIpfail: a respawn or failfast line runs Heartbeat's ipfail, whatever
// its directory (Debian: /usr/libexec/heartbeat, upstream: /usr/lib/heartbeat).
func isIpfail(r Respawn) bool {
	return len(r.Command) > 0 && filepath.Base(r.Command[0]) == "ipfail"
}

// IpfailOn says whether the built-in ipfail runs: `ipfail yes|no` when
// given, else whether a respawn line runs ipfail. A migrated ha.cf keeps
// its respawn line and gets the behaviour it had under Heartbeat; the
// extension directive exists to say so without naming a program that is
// not installed, or to turn it off.
func (c *Config) IpfailOn() bool {
	if c.IpfailSet != nil {
		return *c.IpfailSet
	}
	for _, r := range c.Respawn {
		if isIpfail(r) {
			return true
		}
	}
	return false
}

// CheckIpfail says what the built-in ipfail will do with this ha.cf, and
// warns where it cannot do what the admin expects.
func (c *Config) CheckIpfail() diag.List {
	var l diag.List
	line := 0
	for _, r := range c.Respawn {
		if isIpfail(r) {
			line = r.Line
		}
	}
	if !c.IpfailOn() {
		if line > 0 {
			l.Notef(c.File, line, "respawn ipfail: not started, and the built-in ipfail is off (ipfail no)")
		}
		return l
	}
	if line == 0 {
		line = c.lineOf("ipfail")
	}
	pings := len(c.PingNodes) + len(c.PingGroups)
	switch {
	case pings == 0:
		l.Warnf(c.File, line, "ipfail: no ping or ping_group line, so there is nothing to compare; ipfail does nothing")
	case c.AutoFailback == "legacy":
		l.Warnf(c.File, line, "ipfail: auto_failback legacy is incompatible with ipfail (Heartbeat's ipfail exits); "+
			"set auto_failback on or off")
	default:
		l.Notef(c.File, line, "ipfail: built in (the program is not started): the node that reaches fewer of the %d ping node(s) "+
			"gives its resources to the other, like hb_standby, %v after the counts are compared, unless they balance again "+
			"meanwhile; speaks Heartbeat ipfail's messages to the peer", pings, 2*c.Keepalive)
	}
	return l
}

// lineOf is the line name was last given on (0: never).
func (c *Config) lineOf(name string) int {
	line := 0
	for _, d := range c.Directives {
		if d.Name == name {
			line = d.Line
		}
	}
	return line
}
