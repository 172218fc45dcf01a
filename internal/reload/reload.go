// Package reload decides what a new configuration changes in a running
// heartbeatd (heartbeatd reload, SIGHUP, or an edit noticed in /etc/ha.d).
//
// Heartbeat itself re-reads authkeys on SIGHUP and answers a changed ha.cf
// with a quick self-restart (spec §2.1). heartbeatd applies live what is
// safe to change under a running cluster (timings, logging, keys, media,
// groups that run nowhere) and names everything else as "needs restart",
// without applying half of it. Load and Diff are pure of daemon state so the
// decision is testable with files alone; the daemon carries it out.
package reload

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

// Set is one complete, validated configuration: the three files the daemon
// reads at start-up.
type Set struct {
	Cfg   *config.Config
	Auth  *config.Authkeys
	Hares *haresources.File
	// AuthFile is the authkeys path, for messages.
	AuthFile string
}

// Load reads and checks confdir exactly as the daemon does at start-up
// (see Read). The Set is nil when any finding is an error; the findings
// (errors and warnings, FILE:LINE) are returned either way.
func Load(confdir, local string) (*Set, diag.List) {
	s, l := Read(confdir, local)
	if l.HasErrors() || s.Cfg == nil || s.Auth == nil || s.Hares == nil {
		return nil, l
	}
	return s, l
}

// Read is the one configuration reader, shared by the daemon (through Load)
// and `heartbeatd check`: ha.cf for the local node, authkeys, haresources,
// and haresources' nodes against ha.cf's. Unlike Load it keeps what could be
// read when there are errors, so that check can go on to report on it: the
// Set is never nil, but any of Cfg, Auth and Hares is nil when its file
// could not be used at all.
func Read(confdir, local string) (*Set, diag.List) {
	cfg, l := config.Load(confdir, local)
	akPath := filepath.Join(confdir, "authkeys")
	ak, l2 := config.LoadAuthkeys(akPath)
	hr, l3 := haresources.Load(filepath.Join(confdir, "haresources"))
	l = append(append(l, l2...), l3...)
	if cfg != nil && hr != nil {
		l = append(l, haresources.CheckNodes(hr, cfg.Nodes)...)
		l = append(l, checkMonitorNames(cfg, hr)...)
	}
	return &Set{Cfg: cfg, Auth: ak, Hares: hr, AuthFile: akPath}, l
}

// Change is what a new Set changes relative to the running one.
type Change struct {
	// Timings: keepalive, deadtime, warntime or initdead differ.
	Timings bool
	// Logging: logfacility, logfile, debugfile, debug or log_badpack differ.
	Logging bool
	// Authkeys: any key or the signing index differs.
	Authkeys bool
	// MediaAdded and MediaRemoved are the media lines that appear or vanish
	// (a medium whose line only moved is neither).
	MediaAdded, MediaRemoved []config.Medium
	// Groups: haresources differs (by haresources.Digest).
	Groups bool
	// Monitor: which resources are monitored, how often, or what a
	// failure leads to differs (monitor, monitor_interval,
	// monitor_max_restarts, monitor_window, monitor_failure_timeout;
	// monitor_timeout is the script runner's and needs a restart).
	Monitor bool
	// Restart lists the changes that need a restart, one line each:
	// "<directive> changed (FILE:LINE)".
	Restart []string
}

// Empty reports whether nothing changed at all.
func (c Change) Empty() bool {
	return !c.Timings && !c.Logging && !c.Authkeys && len(c.MediaAdded) == 0 &&
		len(c.MediaRemoved) == 0 && !c.Groups && !c.Monitor && len(c.Restart) == 0
}

// Summary renders what changed in one line, for the log.
func (c Change) Summary() string {
	var parts []string
	if c.Timings {
		parts = append(parts, "timings")
	}
	if c.Logging {
		parts = append(parts, "logging")
	}
	if c.Authkeys {
		parts = append(parts, "authkeys")
	}
	for _, m := range c.MediaAdded {
		parts = append(parts, "medium added: "+MediumString(m))
	}
	for _, m := range c.MediaRemoved {
		parts = append(parts, "medium removed: "+MediumString(m))
	}
	if c.Groups {
		parts = append(parts, "haresources")
	}
	if c.Monitor {
		parts = append(parts, "monitoring")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// liveDirectives are applied by the daemon without a restart. Media
// directives are compared through Config.Media instead of line by line, so
// that "udp eth1" -> "bcast eth1" or a moved line is no change.
var liveDirectives = map[string]string{
	"keepalive": "timing", "deadtime": "timing", "warntime": "timing", "initdead": "timing",
	"logfacility": "log", "logfile": "log", "debugfile": "log", "debug": "log",
	"log_badpack": "log", "syslogmsgfmt": "log",
	"monitor": "monitor", "monitor_interval": "monitor", "monitor_max_restarts": "monitor",
	"monitor_window": "monitor", "monitor_failure_timeout": "monitor",
	"bcast": "media", "udp": "media", "mcast": "media", "ucast": "media",
	"serial": "media", "udpport": "media", "baud": "media",
}

// Diff compares the running Set with a new one.
func Diff(old, new *Set) Change {
	var c Change
	o, n := old.Cfg, new.Cfg
	c.Timings = o.Keepalive != n.Keepalive || o.Deadtime != n.Deadtime ||
		o.Warntime != n.Warntime || o.Initdead != n.Initdead
	c.Logging = o.LogFacility != n.LogFacility || o.LogFile != n.LogFile ||
		o.DebugFile != n.DebugFile || o.Debug != n.Debug || o.LogBadPack != n.LogBadPack
	c.Authkeys = !sameAuth(old.Auth, new.Auth)
	c.MediaAdded, c.MediaRemoved = diffMedia(o.Media, n.Media)
	c.Groups = haresources.Digest(old.Hares) != haresources.Digest(new.Hares)
	oc, nc := old.MonitorConfig(), new.MonitorConfig()
	c.Monitor = oc.Interval != nc.Interval || !maps.Equal(oc.Override, nc.Override) || old.MonitorPolicy() != new.MonitorPolicy()

	// Every other directive: compared as written, by name; any difference
	// needs a restart.
	ob, nb := byName(o.Directives), byName(n.Directives)
	names := map[string]bool{}
	for k := range ob {
		names[k] = true
	}
	for k := range nb {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		if _, live := liveDirectives[name]; live {
			continue
		}
		od, nd := ob[name], nb[name]
		if sameArgs(od, nd) {
			continue
		}
		file, line := n.File, 0
		if len(nd) > 0 {
			line = firstDiff(od, nd).Line
		} else {
			file, line = o.File, od[0].Line
		}
		c.Restart = append(c.Restart, fmt.Sprintf("%s changed (%s:%d)", name, file, line))
	}
	return c
}

// MediumString names a medium as its ha.cf line reads.
func MediumString(m config.Medium) string {
	switch m.Kind {
	case "ucast":
		return fmt.Sprintf("ucast %s %s", m.Interface, m.Peer)
	case "mcast":
		loop := 0
		if m.Loop {
			loop = 1
		}
		return fmt.Sprintf("mcast %s %s %d %d %d", m.Interface, m.Group, m.Port, m.TTL, loop)
	case "serial":
		return fmt.Sprintf("serial %s (baud %d)", m.Device, m.Baud)
	}
	return fmt.Sprintf("%s %s (port %d)", m.Kind, m.Interface, m.Port)
}

func mediumKey(m config.Medium) config.Medium { m.Line = 0; return m }

func diffMedia(old, new []config.Medium) (added, removed []config.Medium) {
	has := func(list []config.Medium, m config.Medium) bool {
		return slices.ContainsFunc(list, func(x config.Medium) bool { return mediumKey(x) == mediumKey(m) })
	}
	for _, m := range new {
		if !has(old, m) {
			added = append(added, m)
		}
	}
	for _, m := range old {
		if !has(new, m) {
			removed = append(removed, m)
		}
	}
	return added, removed
}

func sameAuth(a, b *config.Authkeys) bool {
	if a.Active != b.Active || len(a.Keys) != len(b.Keys) {
		return false
	}
	for i, k := range a.Keys {
		k2, ok := b.Keys[i]
		if !ok || k.Method != k2.Method || k.Secret != k2.Secret {
			return false
		}
	}
	return true
}

func byName(ds []config.Directive) map[string][]config.Directive {
	m := map[string][]config.Directive{}
	for _, d := range ds {
		m[d.Name] = append(m[d.Name], d)
	}
	return m
}

func sameArgs(a, b []config.Directive) bool {
	return slices.EqualFunc(a, b, func(x, y config.Directive) bool { return slices.Equal(x.Args, y.Args) })
}

// firstDiff is the first line of b that differs from a (or b's last line
// when b only lost lines at its end).
func firstDiff(a, b []config.Directive) config.Directive {
	for i, d := range b {
		if i >= len(a) || !slices.Equal(a[i].Args, d.Args) {
			return d
		}
	}
	return b[len(b)-1]
}
