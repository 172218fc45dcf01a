package config

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/diag"
)

// Heartbeat's separators (include/heartbeat.h): the directive name ends at
// WHITESPACE, values are split on DELIMS (which adds the comma).
const (
	whitespace = " \t\n\r\f\v"
	delims     = "," + whitespace
)

// wholeLine lists the directives whose handler in Heartbeat receives the
// rest of the line as one string (WLdirectives): their values are split on
// blanks only, so a comma inside a respawn command or an apiauth uid list
// survives.
//
// fence_agent (a heartbeatd extension) is whole-line for the same reason: a
// device password or a plug list may contain commas.
var wholeLine = map[string]bool{
	"stonith": true, "stonith_host": true, "apiauth": true, "respawn": true, "failfast": true,
	"fence_agent": true,
}

// hostLeng is Heartbeat's HOSTLENG: node names are kept in char[100], so
// longer names would be cut and never match the peer's.
const hostLeng = 100

// hacfParser holds the state of one ParseHACF run.
type hacfParser struct {
	file  string
	cfg   *Config
	diags diag.List

	lastLine   map[string]int // directive name -> line it was last set on
	nodeLine   map[string]int // lower-cased node or ping node -> line
	udpport    int            // udpport in force for the next media line
	baud       int            // baud in force for the next serial line
	udpMediaAt int            // line of the first bcast/ucast line, 0 if none
	serialAt   int            // line of the first serial line, 0 if none
	// rest is the current line after the directive name, comment cut off:
	// stonith and stonith_host keep their parameters as written.
	rest string
}

// ParseHACF parses a ha.cf read from r. file names the source in findings.
// The returned Config is always non-nil and carries every default and
// derived value; it must not be used when the findings contain an error.
// The local node check needs the node name and is done by Validate.
func ParseHACF(r io.Reader, file string) (*Config, diag.List) {
	p := &hacfParser{
		file: file,
		cfg: &Config{
			File:           file,
			UDPPort:        DefaultUDPPort,
			Baud:           DefaultBaud,
			MaxRexmitDelay: DefaultMaxRexmitDelay,
			AutoFailback:   DefaultAutoFailback,
			LogBadPack:     true,
			Realtime:       true,
			PingTieBreak:   true,
			HopFudge:       DefaultHopFudge,
			MsgFmt:         DefaultMsgFmt,
			UUIDFrom:       DefaultUUIDFrom,
			HBGenMethod:    DefaultHBGenMethod,
			Env:            map[string]string{},
			ScriptTimeout:  DefaultScriptTimeout,
			StopFailure:    DefaultStopFailure,

			FencePolicy:        DefaultFencePolicy,
			FenceDelay:         DefaultFenceDelay,
			FenceDelayMax:      DefaultFenceDelayMax,
			FenceTimeout:       DefaultFenceTimeout,
			FenceCheckInterval: DefaultFenceCheckInterval,
			Monitor:            DefaultMonitor(),
		},
		lastLine: map[string]int{},
		nodeLine: map[string]int{},
		udpport:  DefaultUDPPort,
		baud:     DefaultBaud,
	}
	for _, ln := range readLines(r, file, &p.diags) {
		p.parseLine(ln)
	}
	p.finish()
	return p.cfg, p.diags
}

func (p *hacfParser) errorf(line int, format string, args ...any) {
	p.diags.Errorf(p.file, line, format, args...)
}

func (p *hacfParser) warnf(line int, format string, args ...any) {
	p.diags.Warnf(p.file, line, format, args...)
}

// parseLine splits one line into directive and values, as Heartbeat's
// parse_config does: '#' starts a comment anywhere, the name ends at the
// first blank.
func (p *hacfParser) parseLine(ln sourceLine) {
	text := ln.text
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	text = strings.TrimLeft(text, whitespace)
	if text == "" {
		return
	}
	name, rest := text, ""
	if i := strings.IndexAny(text, whitespace); i >= 0 {
		name, rest = text[:i], text[i:]
	}
	doc, ok := lookupDirective(name)
	if !ok {
		if s := suggestDirective(name); s != "" {
			p.errorf(ln.num, "unknown directive %s (did you mean %q?)", clip(name), s)
		} else {
			p.errorf(ln.num, "unknown directive %s", clip(name))
		}
		return
	}
	sep := delims
	if wholeLine[name] {
		sep = whitespace
	}
	args := strings.FieldsFunc(rest, func(r rune) bool { return strings.ContainsRune(sep, r) })
	d := Directive{Name: name, Args: args, Line: ln.num}
	p.cfg.Directives = append(p.cfg.Directives, d)
	p.rest = rest
	p.apply(doc, d)
}

// apply interprets one directive.
func (p *hacfParser) apply(doc DirectiveDoc, d Directive) {
	switch doc.Kind {
	case KindCRMOnly:
		p.warnf(d.Line, "%s is used only with Pacemaker (crm); heartbeatd runs haresources mode and ignores it", d.Name)
		return
	case KindUnsupported:
		p.errorf(d.Line, "%s is not supported by heartbeatd; use bcast, ucast or mcast", d.Name)
		return
	}
	c := p.cfg
	switch d.Name {
	case "node":
		p.addNodes(d)
	case "keepalive":
		p.setTime(d, &c.Keepalive)
	case "deadtime":
		p.setTime(d, &c.Deadtime)
	case "warntime":
		p.setTime(d, &c.Warntime)
	case "initdead":
		p.setTime(d, &c.Initdead)
	case "deadping":
		p.setTime(d, &c.Deadping)
	case "script_timeout":
		p.setTime(d, &c.ScriptTimeout)
	case "conn_logd_time":
		var ignored time.Duration
		p.setTime(d, &ignored)
	case "udpport":
		p.setUDPPort(d)
	case "baud":
		p.setBaud(d)
	case "bcast", "udp":
		p.addBcast(d)
	case "ucast":
		p.addUcast(d)
	case "mcast":
		p.addMcast(d)
	case "serial":
		p.addSerial(d)
	case "ping":
		p.addPing(d)
	case "ping_group":
		p.addPingGroup(d)
	case "auto_failback":
		p.setAutoFailback(d)
	case "nice_failback":
		p.setNiceFailback(d)
	case "stonith":
		p.addStonith(d)
	case "stonith_host":
		p.addStonithHost(d)
	case "fence_agent":
		p.addFenceAgent(d)
	case "fence_policy":
		if v, ok := p.oneOf(d, FencePolicyHeartbeat, FencePolicyHolder); ok {
			c.FencePolicy = v
		}
	case "fence_delay":
		p.setFenceTime(d, &c.FenceDelay)
	case "fence_delay_max":
		p.setFenceTime(d, &c.FenceDelayMax)
	case "fence_timeout":
		p.setTime(d, &c.FenceTimeout)
	case "fence_check_interval":
		p.setFenceTime(d, &c.FenceCheckInterval)
	case "respawn", "failfast":
		if p.minArgs(d, 2, "USER COMMAND") {
			c.Respawn = append(c.Respawn, Respawn{User: d.Args[0], Command: d.Args[1:], Failfast: d.Name == "failfast", Line: d.Line})
		}
	case "apiauth":
		p.addAPIAuth(d)
	case "env":
		p.addEnv(d)
	case "stop_failure":
		if v, ok := p.oneOf(d, StopFailureReboot, StopFailureBlock); ok {
			c.StopFailure = v
		}
	case "metrics_listen":
		p.setListen(d, &c.MetricsListen)
	case "arp_refresh":
		p.setARPRefresh(d)
	case "monitor", "monitor_interval", "monitor_timeout", "monitor_max_restarts", "monitor_window", "monitor_failure_timeout":
		p.applyMonitor(d)
	case "hopfudge":
		p.setInt(d, &c.HopFudge, 0, 255)
	case "msgfmt":
		if v, ok := p.oneOf(d, "classic", "netstring"); ok {
			c.MsgFmt = v
			if v == "netstring" {
				p.warnf(d.Line, "msgfmt netstring drops the inner auth field and has a FIFO bug in Heartbeat 3.0.6; keep classic")
			}
		}
	case "uuidfrom":
		if v, ok := p.oneOf(d, "file", "nodename"); ok {
			c.UUIDFrom = v
			if v == "nodename" {
				p.warnf(d.Line, "uuidfrom nodename derives the uuid with glibc rand(); heartbeatd cannot reproduce Heartbeat's uuid")
			}
		}
	case "hbgenmethod":
		if v, ok := p.oneOf(d, "file", "time"); ok {
			c.HBGenMethod = v
		}
	case "max_rexmit_delay":
		ms := 0
		if p.setInt(d, &ms, 1, maxTimeMS) {
			c.MaxRexmitDelay = time.Duration(ms) * time.Millisecond
		}
	case "autojoin":
		p.setAutojoin(d)
	case "compression", "coreroot":
		p.one(d)
	case "compression_threshold", "memreserve":
		var n int
		p.setInt(d, &n, 1, maxTimeMS)
	case "traditional_compression", "syslogmsgfmt", "coredumps":
		var b bool
		p.setBool(d, &b)
	case "logfacility":
		p.setFacility(d)
	case "logfile":
		p.setString(d, &c.LogFile)
	case "debugfile":
		p.setString(d, &c.DebugFile)
	case "debug":
		p.setInt(d, &c.Debug, 0, 255)
	case "use_logd":
		var b bool
		if p.setBool(d, &b) && b {
			p.warnf(d.Line, "use_logd: heartbeatd has no logging daemon; it logs through logfacility, logfile and debugfile")
		}
	case "use_apphbd":
		var b bool
		if p.setBool(d, &b) && b {
			p.warnf(d.Line, "use_apphbd: heartbeatd does not register with apphbd; ignored")
		}
	case "log_badpack":
		p.setBool(d, &c.LogBadPack)
	case "realtime":
		p.setBool(d, &c.Realtime)
	case "ping_tiebreak":
		p.setBool(d, &c.PingTieBreak)
	case "ipfail":
		var b bool
		if p.setBool(d, &b) {
			c.IpfailSet = &b
		}
	case "rtprio":
		p.setInt(d, &c.RTPrio, 1, 99)
	case "watchdog":
		if prev, ok := p.lastLine[d.Name]; ok {
			p.errorf(d.Line, "watchdog given twice (first on line %d)", prev)
			return
		}
		p.setString(d, &c.Watchdog)
	case "crm", "pacemaker":
		p.setPacemaker(d)
	default:
		// A table entry without a handler is a programming error; the test
		// TestEveryDirectiveHasHandler keeps this branch unreachable.
		p.errorf(d.Line, "%s: directive known but not handled (bug)", d.Name)
	}
}

// one returns the single value of d. Heartbeat applies every value of an
// option line in turn, so "keepalive 1 2" silently means 2; we refuse it.
// A directive given again replaces the earlier value, as in Heartbeat, with
// a warning because one of the two lines is usually a leftover.
func (p *hacfParser) one(d Directive) (string, bool) {
	switch {
	case len(d.Args) == 0:
		p.errorf(d.Line, "%s: missing value", d.Name)
		return "", false
	case len(d.Args) > 1:
		p.errorf(d.Line, "%s takes one value, got %d", d.Name, len(d.Args))
		return "", false
	}
	if prev, ok := p.lastLine[d.Name]; ok && d.Name != "watchdog" {
		p.warnf(d.Line, "%s given again; this value replaces the one on line %d", d.Name, prev)
	}
	p.lastLine[d.Name] = d.Line
	return d.Args[0], true
}

func (p *hacfParser) minArgs(d Directive, n int, synopsis string) bool {
	if len(d.Args) < n {
		p.errorf(d.Line, "%s: expected %s", d.Name, synopsis)
		return false
	}
	return true
}

func (p *hacfParser) setString(d Directive, dst *string) bool {
	v, ok := p.one(d)
	if ok {
		*dst = v
	}
	return ok
}

// setListen takes a TCP listen address, HOST:PORT: HOST an address, a
// name or empty (every address), PORT a number.
func (p *hacfParser) setListen(d Directive, dst *string) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	if err != nil {
		p.errorf(d.Line, "%s: %s is not ADDRESS:PORT: %v", d.Name, clip(v), err)
		return
	}
	*dst = v
}

func (p *hacfParser) setTime(d Directive, dst *time.Duration) bool {
	v, ok := p.one(d)
	if !ok {
		return false
	}
	t, err := parseTime(v)
	if err != nil {
		p.errorf(d.Line, "%s: %v", d.Name, err)
		delete(p.lastLine, d.Name)
		return false
	}
	if t.secondSuffix {
		p.warnf(d.Line, "%s: the suffix \"s\" is a heartbeatd extension; real Heartbeat rejects %q (write %s)", d.Name, v, strings.TrimSuffix(strings.TrimSuffix(v, "s"), "S"))
	}
	*dst = t.d
	return true
}

func (p *hacfParser) setInt(d Directive, dst *int, lo, hi int) bool {
	v, ok := p.one(d)
	if !ok {
		return false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.errorf(d.Line, "%s: %s is not a number", d.Name, clip(v))
		return false
	}
	if n < lo || n > hi {
		p.errorf(d.Line, "%s: %d is out of range %d-%d", d.Name, n, lo, hi)
		return false
	}
	*dst = n
	return true
}

func (p *hacfParser) setBool(d Directive, dst *bool) bool {
	v, ok := p.one(d)
	if !ok {
		return false
	}
	b, ok := parseBool(v)
	if !ok {
		p.errorf(d.Line, "%s: %s is not a boolean (yes/no, on/off, true/false)", d.Name, clip(v))
		return false
	}
	*dst = b
	return true
}

// oneOf accepts exactly one of the listed words (case-sensitive, as
// Heartbeat's strcmp).
func (p *hacfParser) oneOf(d Directive, words ...string) (string, bool) {
	v, ok := p.one(d)
	if !ok {
		return "", false
	}
	for _, w := range words {
		if v == w {
			return v, true
		}
	}
	p.errorf(d.Line, "%s: %s is not one of %s", d.Name, clip(v), strings.Join(words, ", "))
	return "", false
}

// setARPRefresh reads arp_refresh: 0 (off) or at least MinARPRefresh. The
// directive is heartbeatd's own, so the "s" suffix that real Heartbeat
// would reject draws no warning: Heartbeat rejects the whole line anyway.
func (p *hacfParser) setARPRefresh(d Directive) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	if isZero(v) {
		p.cfg.ARPRefresh = 0
		return
	}
	t, err := parseTime(v)
	switch {
	case err != nil:
		p.errorf(d.Line, "%s: %v", d.Name, err)
	case t.d < MinARPRefresh:
		p.errorf(d.Line, "%s: %s is below %s (0 turns the refresh off)", d.Name, clip(v), formatMS(MinARPRefresh))
	default:
		p.cfg.ARPRefresh = t.d
	}
}

// parseBool accepts what cluster-glue's cl_str_to_boolean accepts.
func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "y", "1":
		return true, true
	case "false", "off", "no", "n", "0":
		return false, true
	}
	return false, false
}

func (p *hacfParser) addNodes(d Directive) {
	if len(d.Args) == 0 {
		p.errorf(d.Line, "node: missing node name")
		return
	}
	for _, a := range d.Args {
		name := strings.ToLower(a)
		if len(name) >= hostLeng {
			p.errorf(d.Line, "node: name %s is longer than %d characters", clip(name), hostLeng-1)
			continue
		}
		if prev, dup := p.nodeLine[name]; dup {
			p.errorf(d.Line, "node %s is listed twice (first on line %d)", clip(name), prev)
			continue
		}
		p.nodeLine[name] = d.Line
		p.cfg.Nodes = append(p.cfg.Nodes, name)
	}
}

func (p *hacfParser) addPing(d Directive) {
	if len(d.Args) == 0 {
		p.errorf(d.Line, "ping: missing host")
		return
	}
	for _, a := range d.Args {
		name := strings.ToLower(a)
		if prev, dup := p.nodeLine[name]; dup {
			p.errorf(d.Line, "ping: %s is already a node or ping node (line %d)", clip(name), prev)
			continue
		}
		p.nodeLine[name] = d.Line
		p.cfg.PingNodes = append(p.cfg.PingNodes, name)
	}
}

func (p *hacfParser) addPingGroup(d Directive) {
	if !p.minArgs(d, 2, "NAME HOST...") {
		return
	}
	name := strings.ToLower(d.Args[0])
	if prev, dup := p.nodeLine[name]; dup {
		p.errorf(d.Line, "ping_group: %s is already a node or ping node (line %d)", clip(name), prev)
		return
	}
	p.nodeLine[name] = d.Line
	p.cfg.PingGroups = append(p.cfg.PingGroups, PingGroup{Name: name, Hosts: append([]string(nil), d.Args[1:]...), Line: d.Line})
}

// setAutoFailback accepts on/off (any cl_str_to_boolean spelling) or legacy.
func (p *hacfParser) setAutoFailback(d Directive) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	if b, isBool := parseBool(v); isBool {
		p.cfg.AutoFailback = map[bool]string{true: "on", false: "off"}[b]
		return
	}
	if strings.EqualFold(v, "legacy") {
		p.cfg.AutoFailback = "legacy"
		return
	}
	p.errorf(d.Line, "auto_failback: %s is not one of on, off, legacy", clip(v))
}

// setNiceFailback maps the obsolete directive as Heartbeat's
// set_nice_failback intends: nice_failback on means "do not fail back"
// (auto_failback off), off means the old behaviour (legacy).
func (p *hacfParser) setNiceFailback(d Directive) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	b, isBool := parseBool(v)
	if !isBool {
		p.errorf(d.Line, "nice_failback: %s is not on or off", clip(v))
		return
	}
	to := "legacy"
	if b {
		to = "off"
	}
	p.cfg.AutoFailback = to
	p.lastLine["auto_failback"] = d.Line
	p.warnf(d.Line, "nice_failback is obsolete: 'nice_failback %s' is read as 'auto_failback %s'", v, to)
}

func (p *hacfParser) setAutojoin(d Directive) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	switch strings.ToLower(v) {
	case "none":
	case "other", "any":
		p.errorf(d.Line, "autojoin %s: haresources (R1) mode refuses automatic joins; use autojoin none and list every node", v)
	default:
		p.errorf(d.Line, "autojoin: %s is not one of none, other, any", clip(v))
	}
}

// setPacemaker refuses every value that would make Heartbeat start the CRM:
// heartbeatd implements the haresources resource manager only.
func (p *hacfParser) setPacemaker(d Directive) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	b, isBool := parseBool(v)
	switch {
	case isBool && !b:
		return
	case isBool && b, isCRMMode(v):
		p.errorf(d.Line, "%s %s: heartbeatd runs haresources (R1) mode only and cannot run Pacemaker; "+
			"remove the line or set '%s off' (to migrate to Pacemaker, see `heartbeatd export-pacemaker`)", d.Name, v, d.Name)
	default:
		p.errorf(d.Line, "%s: %s is not a valid value (use off)", d.Name, clip(v))
	}
}

// isCRMMode lists the non-boolean values Heartbeat's pacemaker directive
// accepts, each of which starts the CRM.
func isCRMMode(v string) bool {
	switch strings.ToLower(v) {
	case "respawn", "minimal", "manual", "ccm-only", "valgrind":
		return true
	}
	return false
}

// facilities are the syslog facility names cluster-glue accepts.
var facilities = map[string]bool{
	"auth": true, "authpriv": true, "cron": true, "daemon": true, "ftp": true, "kern": true,
	"lpr": true, "mail": true, "news": true, "security": true, "syslog": true, "user": true, "uucp": true,
	"local0": true, "local1": true, "local2": true, "local3": true, "local4": true, "local5": true,
	"local6": true, "local7": true, "none": true,
}

func (p *hacfParser) setFacility(d Directive) {
	v, ok := p.one(d)
	if !ok {
		return
	}
	if !facilities[strings.ToLower(v)] {
		p.errorf(d.Line, "logfacility: %s is not a syslog facility (e.g. daemon, local0 ... local7, none)", clip(v))
		return
	}
	p.cfg.LogFacility = strings.ToLower(v)
}

// addAPIAuth parses "apiauth CLIENT [uid=a,b] [gid=c,d]" as Heartbeat's
// set_api_authorization: at least one of uid/gid, each at most once.
func (p *hacfParser) addAPIAuth(d Directive) {
	if !p.minArgs(d, 2, "CLIENT uid=USER,... and/or gid=GROUP,...") {
		return
	}
	a := APIAuth{Client: d.Args[0], Line: d.Line}
	seen := map[string]bool{}
	for _, arg := range d.Args[1:] {
		key, list, found := strings.Cut(arg, "=")
		if !found || (key != "uid" && key != "gid") {
			p.errorf(d.Line, "apiauth %s: %s is not uid=LIST or gid=LIST", clip(a.Client), clip(arg))
			return
		}
		if seen[key] {
			p.errorf(d.Line, "apiauth %s: duplicate %s list", clip(a.Client), key)
			return
		}
		seen[key] = true
		ids := strings.FieldsFunc(list, func(r rune) bool { return r == ',' })
		if len(ids) == 0 {
			p.errorf(d.Line, "apiauth %s: empty %s list", clip(a.Client), key)
			return
		}
		if key == "uid" {
			a.UIDs = ids
		} else {
			a.GIDs = ids
		}
	}
	p.cfg.APIAuth = append(p.cfg.APIAuth, a)
}

// addEnv records env NAME=value; Heartbeat exports it as HA_NAME.
func (p *hacfParser) addEnv(d Directive) {
	if len(d.Args) == 0 {
		p.errorf(d.Line, "env: expected NAME=value")
		return
	}
	for i, a := range d.Args {
		name, value, found := strings.Cut(a, "=")
		switch {
		case !found:
			// Scripts get credentials this way too, and a value with a
			// blank splits into a second word: name its place only.
			p.errorf(d.Line, "env: value %d is not NAME=value (not shown: it may be a secret)", i+1)
			continue
		case !isEnvName(name):
			p.errorf(d.Line, "env: %s is not NAME=value (NAME of letters, digits and _)", clip(a))
			continue
		}
		p.cfg.Env[name] = value
	}
}

func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
