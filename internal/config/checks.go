package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"heartbeatd/internal/diag"
)

// finish fills in the defaults that depend on other values and runs the
// whole-file checks of Heartbeat's init_config, in its order and with its
// thresholds. Findings about a value point at the line that set it, or at
// the file (line 0) when the value is a default.
func (p *hacfParser) finish() {
	c := p.cfg
	p.checkMonitor()
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.Deadtime == 0 {
		c.Deadtime = DefaultDeadtime
	}
	if len(c.Media) == 0 {
		p.errorf(0, "no communication media: add a bcast, ucast, mcast or serial line")
	}
	if c.Warntime == 0 {
		c.Warntime = c.Deadtime / 2
	}
	if len(c.Nodes) == 0 {
		p.errorf(0, "no node directive: list every cluster node (including this one) with 'node NAME'")
	}
	if c.Deadtime <= 2*c.Keepalive {
		p.errorf(p.lineOf("deadtime", "keepalive"), "deadtime %s is too small compared to keepalive %s: it must be more than twice keepalive",
			formatMS(c.Deadtime), formatMS(c.Keepalive))
	}
	if c.Initdead == 0 {
		switch {
		case c.Deadtime > 10*time.Second:
			c.Initdead = c.Deadtime
		case c.Deadtime < 6*time.Second:
			c.Initdead = 12 * time.Second
		default:
			c.Initdead = 2 * c.Deadtime
		}
	}
	if c.Initdead < c.Deadtime {
		p.errorf(p.lineOf("initdead", "deadtime"), "initdead %s is smaller than deadtime %s",
			formatMS(c.Initdead), formatMS(c.Deadtime))
	} else if c.Initdead < 10*time.Second {
		p.warnf(p.lineOf("initdead", "deadtime"), "initdead %s may be too small: it accounts for slow network start-up and should be >= deadtime and >= 10 seconds",
			formatMS(c.Initdead))
	}
	if c.Deadping == 0 {
		c.Deadping = c.Deadtime
	} else if c.Deadping <= 2*c.Keepalive {
		p.errorf(p.lineOf("deadping", "keepalive"), "deadping %s is too small compared to keepalive %s: it must be more than twice keepalive",
			formatMS(c.Deadping), formatMS(c.Keepalive))
	}
	if c.Warntime >= c.Deadtime {
		p.warnf(p.lineOf("warntime", "deadtime"), "warntime %s is not smaller than deadtime %s: no \"Late heartbeat\" warning will come before a node is declared dead",
			formatMS(c.Warntime), formatMS(c.Deadtime))
	}
	if c.AutoFailback == "legacy" {
		// Heartbeat prints this at every start in legacy mode, including
		// when auto_failback is simply absent.
		p.warnf(p.lineOf("auto_failback"), "auto_failback legacy (the default) is deprecated; set 'auto_failback on' or 'auto_failback off'")
	}
	p.fenceFinish()
	if c.LogFacility == "" && c.LogFile == "" && c.DebugFile == "" {
		p.warnf(0, "no logfacility, logfile or debugfile: Heartbeat would log only through logd; set logfacility (e.g. daemon)")
	}
}

// lineOf returns the line that last set the first of names that was set,
// or 0 (the file as a whole) when all are defaults.
func (p *hacfParser) lineOf(names ...string) int {
	for _, n := range names {
		if l, ok := p.lastLine[n]; ok {
			return l
		}
	}
	return 0
}

// Validate checks what needs the local node name: that it is listed as a
// node. local is compared lower-cased, as Heartbeat does. The message is
// Heartbeat's own, which admins search for.
func (c *Config) Validate(local string) diag.List {
	var l diag.List
	name := strings.ToLower(local)
	for _, n := range c.Nodes {
		if n == name {
			return l
		}
	}
	l.Errorf(c.File, 0, "Current node [%s] not in configuration! Cluster nodes are named by `uname -n` (or the first line of nodeinfo) and must be declared with a 'node' directive", name)
	for _, pn := range c.PingNodes {
		if pn == name {
			l.Errorf(c.File, 0, "local node %q is declared as a ping node", name)
		}
	}
	return l
}

// Load reads <confdir>/ha.cf and validates it for the local node. Findings
// name the real path (e.g. /etc/ha.d/ha.cf). A missing or unreadable file
// is an error finding, not a Go error, so that `heartbeatd check` reports it
// with the others.
func Load(confdir string, local string) (*Config, diag.List) {
	path := filepath.Join(confdir, "ha.cf")
	f, err := os.Open(path)
	if err != nil {
		var l diag.List
		l.Errorf(path, 0, "cannot open config file: %v", err)
		return nil, l
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		var l diag.List
		l.Errorf(path, 0, "not a regular file")
		return nil, l
	}
	cfg, l := ParseHACF(f, path)
	l = append(l, cfg.Validate(local)...)
	return cfg, l
}

// LocalNodeName returns this node's cluster name, lower-cased: the first
// line of <confdir>/nodeinfo when that file exists and its first line is not
// empty, else the kernel's node name (uname -n). nodeinfo lets a machine
// whose host name differs from its cluster name (a renamed host, a clone)
// keep its identity.
func LocalNodeName(confdir string) (string, error) {
	path := filepath.Join(confdir, "nodeinfo")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		first, _, _ := strings.Cut(string(data), "\n")
		first = strings.TrimSpace(first)
		if first != "" {
			if msg := binaryProblem([]byte(first)); msg != "" || strings.ContainsAny(first, whitespace+",#") {
				return "", fmt.Errorf("%s: first line %s is not a node name", path, clip(first))
			}
			return strings.ToLower(first), nil
		}
	case !os.IsNotExist(err):
		return "", fmt.Errorf("read node name: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("get host name (uname -n): %w", err)
	}
	return strings.ToLower(host), nil
}
