package config

import (
	"regexp"
	"strings"
	"time"
)

// Defaults of the fencing extensions. Each is documented with its reason in
// the directive table (directives.go), which the man page repeats.
const (
	// DefaultFenceDelay is how long a node holding no resources waits before
	// fencing a peer it saw die (fence_policy holder): long enough for the
	// holder's device to cut the power first when the two only lost sight
	// of each other.
	DefaultFenceDelay = 15 * time.Second
	// DefaultFenceDelayMax is no random delay: failover stays
	// deterministic; only clusters where both nodes hold resources need it.
	DefaultFenceDelayMax = 0
	// DefaultFenceTimeout bounds one fencing operation, as Pacemaker's
	// stonith-timeout: fence_ipmilan's off-wait-on cycle with its own
	// default timeouts fits in it.
	DefaultFenceTimeout = 60 * time.Second
	// DefaultFenceCheckInterval is how often a device's status is checked.
	DefaultFenceCheckInterval = 5 * time.Minute
	// DefaultFencePolicy is FencePolicyHolder.
	DefaultFencePolicy = FencePolicyHolder
)

// Who fences a peer that died (fence_policy).
const (
	// FencePolicyHeartbeat is Heartbeat 3.0.6's rule (spec §6.6): the node
	// taking over the dead node's groups fences it first, at once, unless
	// the dead node had given its resources up.
	FencePolicyHeartbeat = "heartbeat"
	// FencePolicyHolder lets a node that holds resources fence at once and
	// makes a node that holds none wait FenceDelay first, so that in a split
	// the node running the services wins.
	FencePolicyHolder = "holder"
)

// FenceKind says how a fence device is driven.
type FenceKind string

const (
	// FenceStonithFile is a `stonith TYPE CONFIGFILE` line: cluster-glue's
	// `stonith -t TYPE -F CONFIGFILE`.
	FenceStonithFile FenceKind = "stonith-file"
	// FenceStonithParams is a `stonith_host HOST TYPE PARAMS...` line:
	// `stonith -t TYPE -p "PARAMS"`.
	FenceStonithParams FenceKind = "stonith-params"
	// FenceAgent is a `fence_agent HOST AGENT key=value...` line (heartbeatd
	// extension): a fence-agents program reading key=value lines on stdin.
	FenceAgent FenceKind = "fence-agent"
)

// FenceDevice is one stonith, stonith_host or fence_agent line.
type FenceDevice struct {
	// Host is the node that may use the device, lower-cased, or "*" for
	// every node. This is Heartbeat's stonith_host field: the node the
	// device is reachable from, not the node it can reset (the device
	// itself knows which machines it controls). A node ignores the lines
	// of other nodes (see UsableBy). stonith lines are "*".
	Host string
	Kind FenceKind
	// Type is the cluster-glue plugin type (apcmaster, external/ipmi, as
	// `stonith -L` lists them), or for FenceAgent the agent program's name
	// with its fence_ prefix (fence_ipmilan), whichever way it was written.
	Type string
	// Params (FenceStonithParams) is the rest of the line after TYPE, as
	// one string with its inner blanks kept: the plugin's parameters in the
	// order `stonith -t TYPE -n` lists them; the last one takes the rest.
	Params string
	// File (FenceStonithFile) is the CONFIGFILE: its first line that does
	// not start with '#' holds the parameters, as Params would.
	File string
	// Args (FenceAgent) are the key=value pairs in line order. "action" is
	// never among them: heartbeatd sets it.
	Args []FenceArg
	// Directive is the line's directive name, Line its line number.
	Directive string
	Line      int
}

// FenceArg is one key=value of a fence_agent line.
type FenceArg struct {
	Key, Value string
}

// UsableBy reports whether node may use the device: its Host is "*" or the
// node's name (compared lower-cased, as Heartbeat's set_stonith_host_info).
func (d FenceDevice) UsableBy(node string) bool {
	return d.Host == "*" || d.Host == strings.ToLower(node)
}

// Arg returns the value of key in a fence_agent line.
func (d FenceDevice) Arg(key string) (string, bool) {
	for _, a := range d.Args {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// String names the device for log lines and findings without its
// parameters (they often hold a password): "stonith_host * external/ipmi".
// A HOST that does not look like a name is left out too (see fenceQuote).
func (d FenceDevice) String() string {
	host := d.Host
	if !fenceWord.MatchString(host) {
		host = "(HOST not shown)"
	}
	return d.Directive + " " + host + " " + d.Type
}

// fenceWord is what a name field of a fence line (HOST, TYPE, AGENT) must
// look like to be quoted in a finding or a log line.
var fenceWord = regexp.MustCompile(`^[A-Za-z0-9_.+/*-]+$`)

// fenceQuote renders the value v of a name field of a fence line for a
// finding: prefix and v quoted when v looks like a name, else the field's
// name only. Fence lines hold device passwords, and a line whose fields
// shifted (HOST or TYPE forgotten, the agent written after its parameters)
// puts a password where a name belongs: "stonith_host node1 passwd=..."
// makes the password the TYPE.
func fenceQuote(prefix, v, field string) string {
	if fenceWord.MatchString(v) {
		return prefix + clip(v)
	}
	return "the " + field + " field (not shown: it may be a password)"
}

// FenceDevicesFor returns the devices node may use, in file order.
// Heartbeat 3.0.6 keeps only the last stonith or stonith_host line that
// applies to a node (config->stonith is overwritten); the caller decides
// whether to try all of them.
func (c *Config) FenceDevicesFor(node string) []FenceDevice {
	var out []FenceDevice
	for _, d := range c.FenceDevices {
		if d.UsableBy(node) {
			out = append(out, d)
		}
	}
	return out
}

// stonithType is what a cluster-glue plugin type looks like: a name, or
// external/NAME for a script in /usr/lib/stonith/plugins/external.
var stonithType = regexp.MustCompile(`^[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)?$`)

// agentName is what a fence-agents program name may look like; it is run
// from /usr/sbin, so it may not contain a slash.
var agentName = regexp.MustCompile(`^[A-Za-z0-9_.+-]+$`)

// agentKey is what a fence-agents parameter name looks like (the agents
// accept '-' for '_').
var agentKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkStonithType reports what is wrong with a plugin type, or "".
func checkStonithType(t string) string {
	if !stonithType.MatchString(t) || strings.Contains(t, "..") {
		return "is not a stonith plugin type (a name such as apcmaster, or external/NAME; `stonith -L` lists them)"
	}
	return ""
}

// addStonith parses `stonith TYPE CONFIGFILE`. Heartbeat takes the rest of
// the line after TYPE as the file name (sscanf "%[^\r\n]").
func (p *hacfParser) addStonith(d Directive) {
	if !p.minArgs(d, 2, "TYPE CONFIGFILE") {
		return
	}
	p.cfg.Stonith = append(p.cfg.Stonith, d)
	if msg := checkStonithType(d.Args[0]); msg != "" {
		p.errorf(d.Line, "stonith: %s %s", fenceQuote("", d.Args[0], "TYPE"), msg)
		return
	}
	p.cfg.FenceDevices = append(p.cfg.FenceDevices, FenceDevice{
		Host: "*", Kind: FenceStonithFile, Type: d.Args[0], File: restAfter(p.rest, 1),
		Directive: d.Name, Line: d.Line,
	})
}

// addStonithHost parses `stonith_host HOST TYPE PARAMS...` as Heartbeat's
// set_stonith_host_info: HOST lower-cased, "*" for any node; PARAMS is the
// rest of the line as one string, handed to the plugin as `-p`.
func (p *hacfParser) addStonithHost(d Directive) {
	if !p.minArgs(d, 2, "HOST|* TYPE PARAMS...") {
		return
	}
	p.cfg.StonithHost = append(p.cfg.StonithHost, d)
	host, ok := p.fenceHost(d)
	if !ok {
		return
	}
	if msg := checkStonithType(d.Args[1]); msg != "" {
		p.errorf(d.Line, "stonith_host: %s %s", fenceQuote("", d.Args[1], "TYPE"), msg)
		return
	}
	p.cfg.FenceDevices = append(p.cfg.FenceDevices, FenceDevice{
		Host: host, Kind: FenceStonithParams, Type: d.Args[1], Params: restAfter(p.rest, 2),
		Directive: d.Name, Line: d.Line,
	})
}

// addFenceAgent parses `fence_agent HOST AGENT key=value...`.
func (p *hacfParser) addFenceAgent(d Directive) {
	if !p.minArgs(d, 2, "HOST|* AGENT [key=value...]") {
		return
	}
	host, ok := p.fenceHost(d)
	if !ok {
		return
	}
	agent := d.Args[1]
	if !agentName.MatchString(agent) || agent == "fence_" {
		p.errorf(d.Line, "fence_agent: %s is not a fence agent name (e.g. ipmilan or fence_ipmilan, run from /usr/sbin)", fenceQuote("", agent, "AGENT"))
		return
	}
	if !strings.HasPrefix(agent, "fence_") {
		agent = "fence_" + agent
	}
	dev := FenceDevice{Host: host, Kind: FenceAgent, Type: agent, Directive: d.Name, Line: d.Line}
	seen := map[string]bool{}
	bad := false
	for _, a := range d.Args[2:] {
		key, value, found := strings.Cut(a, "=")
		switch {
		case !found || !agentKey.MatchString(key):
			// The value may be a password: name the position, not the text.
			p.errorf(d.Line, "fence_agent: parameter %d is not key=value (key of letters, digits, _ and -)", len(dev.Args)+1)
			bad = true
			continue
		case key == "action":
			p.errorf(d.Line, "fence_agent: action is set by heartbeatd (reboot, off or monitor); remove action=")
			bad = true
			continue
		}
		norm := strings.ReplaceAll(key, "-", "_")
		if seen[norm] {
			p.errorf(d.Line, "fence_agent: parameter %s is given twice", key)
			bad = true
			continue
		}
		seen[norm] = true
		dev.Args = append(dev.Args, FenceArg{Key: key, Value: value})
	}
	if !bad {
		p.cfg.FenceDevices = append(p.cfg.FenceDevices, dev)
	}
}

// fenceHost reads the HOST field of stonith_host and fence_agent.
func (p *hacfParser) fenceHost(d Directive) (string, bool) {
	host := strings.ToLower(d.Args[0])
	if len(host) >= hostLeng {
		p.errorf(d.Line, "%s: %s is longer than %d characters", d.Name, fenceQuote("host ", host, "HOST"), hostLeng-1)
		return "", false
	}
	return host, true
}

// setFenceTime reads a fence_* time that may be 0 (off); other time
// directives refuse 0.
func (p *hacfParser) setFenceTime(d Directive, dst *time.Duration) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	if isZero(v) {
		*dst = 0
		return
	}
	// one() above recorded the line (and warned about a repetition);
	// setTime records it again.
	delete(p.lastLine, d.Name)
	p.setTime(d, dst)
}

// isZero reports whether a time value is written as zero: 0, 0.0, 0ms.
func isZero(v string) bool {
	num := strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	switch strings.ToLower(v[len(num):]) {
	case "", "s", "ms", "msec", "us", "usec":
	default:
		return false
	}
	return isDecimal(num) && strings.Trim(num, "0.") == ""
}

// restAfter returns the text of a whole-line directive after its first n
// values, with the inner blanks kept and the outer ones trimmed.
func restAfter(rest string, n int) string {
	s := strings.TrimLeft(rest, whitespace)
	for range n {
		i := strings.IndexAny(s, whitespace)
		if i < 0 {
			return ""
		}
		s = strings.TrimLeft(s[i:], whitespace)
	}
	return strings.TrimRight(s, whitespace)
}

// fenceFinish runs the whole-file checks of the fencing directives.
func (p *hacfParser) fenceFinish() {
	c := p.cfg
	nodes := map[string]bool{}
	for _, n := range c.Nodes {
		nodes[n] = true
	}
	for _, d := range c.FenceDevices {
		if d.Host != "*" && !nodes[d.Host] {
			p.warnf(d.Line, "%s: %s is not a node of this cluster, so no node uses this device (HOST is the node that uses the device, * for every node)",
				d.Directive, fenceQuote("host ", d.Host, "HOST"))
		}
	}
	tunables := []string{"fence_policy", "fence_delay", "fence_delay_max", "fence_timeout", "fence_check_interval"}
	if len(c.FenceDevices) == 0 {
		for _, name := range tunables {
			if line, ok := p.lastLine[name]; ok {
				p.warnf(line, "%s has no effect: no stonith, stonith_host or fence_agent device is configured", name)
			}
		}
	}
	if line, ok := p.lastLine["fence_delay"]; ok && c.FencePolicy == FencePolicyHeartbeat {
		p.warnf(line, "fence_delay has no effect with fence_policy heartbeat (only fence_policy holder makes a node without resources wait)")
	}
}
