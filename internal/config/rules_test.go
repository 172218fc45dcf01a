package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFindings checks one rule per row: the input, and a finding it must
// produce (exact "file:line: severity: message" prefix), or none at all.
func TestFindings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // substring of one finding; "" = no error and no warning
	}{
		{"minimal is clean", minimal, ""},
		{"empty file media", "", `ha.cf: error: no communication media`},
		{"empty file nodes", "", `ha.cf: error: no node directive`},
		{"comments only", "# nothing\n   # here\n\n", `ha.cf: error: no node directive`},
		{"unknown directive with suggestion", minimal + "keeplive 2\n", `ha.cf:5: error: unknown directive "keeplive" (did you mean "keepalive"?)`},
		{"unknown directive case", minimal + "Node c\n", `ha.cf:5: error: unknown directive "Node" (did you mean "node"?)`},
		{"unknown directive far", minimal + "frobnicate 1\n", `ha.cf:5: error: unknown directive "frobnicate"` + "\x00"},
		{"duplicate node", minimal + "node B\n", `ha.cf:5: error: node "b" is listed twice (first on line 4)`},
		{"duplicate node same line", "logfacility daemon\nauto_failback on\nbcast eth0\nnode a a\n", `ha.cf:4: error: node "a" is listed twice (first on line 4)`},
		{"deadtime equal 2x keepalive", minimal + "keepalive 2\ndeadtime 4\n", `ha.cf:6: error: deadtime 4000ms is too small compared to keepalive 2000ms`},
		{"deadtime below default keepalive", minimal + "deadtime 1500ms\n", `ha.cf:5: error: deadtime 1500ms is too small compared to keepalive 1000ms`},
		{"keepalive too large for default deadtime", minimal + "keepalive 15\n", `ha.cf:5: error: deadtime 30000ms is too small compared to keepalive 15000ms`},
		{"initdead below deadtime", minimal + "initdead 20\n", `ha.cf:5: error: initdead 20000ms is smaller than deadtime 30000ms`},
		{"initdead below 10s warns", minimal + "deadtime 5\ninitdead 8\n", `ha.cf:6: warning: initdead 8000ms may be too small`},
		{"warntime not below deadtime", minimal + "warntime 30\n", `ha.cf:5: warning: warntime 30000ms is not smaller than deadtime 30000ms`},
		{"deadping too small", minimal + "deadping 2\n", `ha.cf:5: error: deadping 2000ms is too small compared to keepalive 1000ms`},
		{"udp alias", "logfacility daemon\nauto_failback on\nudp eth0\nnode a\n", `ha.cf:3: warning: directive 'udp' is obsolete; read as 'bcast'`},
		{"udpport after media", minimal + "udpport 700\n", `ha.cf:5: warning: udpport 700 comes after the media line 3: media lines above this one keep port 694`},
		{"udpport per medium is quiet", "logfacility daemon\nauto_failback on\nudpport 694\nbcast eth0\nudpport 695\nbcast eth1\nnode a\n", ""},
		{"udpport bad", "udpport 70000\n" + minimal, `ha.cf:1: error: udpport: 70000 is out of range 1-65535`},
		{"crm on", minimal + "crm on\n", "ha.cf:5: error: crm on: heartbeatd runs haresources (R1) mode only and cannot run Pacemaker; remove the line or set 'crm off' (to migrate to Pacemaker, see `heartbeatd export-pacemaker`)"},
		{"crm respawn", minimal + "crm respawn\n", "ha.cf:5: error: crm respawn: heartbeatd runs haresources (R1) mode only"},
		{"pacemaker yes", minimal + "pacemaker yes\n", "ha.cf:5: error: pacemaker yes: heartbeatd runs haresources (R1) mode only"},
		{"crm off fine", minimal + "crm off\npacemaker false\n", ""},
		{"crm junk", minimal + "crm maybe\n", `ha.cf:5: error: crm: "maybe" is not a valid value`},
		{"crm-only directive", minimal + "crm_daemon_dir /usr/lib/pacemaker\n", `ha.cf:5: warning: crm_daemon_dir is used only with Pacemaker (crm)`},
		{"autojoin any", minimal + "autojoin any\n", `ha.cf:5: error: autojoin any: haresources (R1) mode refuses automatic joins`},
		{"autojoin other", minimal + "autojoin other\n", `ha.cf:5: error: autojoin other: haresources (R1) mode refuses`},
		{"autojoin none", minimal + "autojoin none\n", ""},
		{"nice_failback", "logfacility daemon\nbcast eth0\nnode a\nnice_failback on\n", `ha.cf:4: warning: nice_failback is obsolete: 'nice_failback on' is read as 'auto_failback off'`},
		{"auto_failback junk", minimal + "auto_failback sometimes\n", `ha.cf:5: error: auto_failback: "sometimes" is not one of on, off, legacy`},
		{"legacy default warns", "logfacility daemon\nbcast eth0\nnode a\n", `ha.cf: warning: auto_failback legacy (the default) is deprecated`},
		{"legacy explicit warns at line", "logfacility daemon\nbcast eth0\nnode a\nauto_failback legacy\n", `ha.cf:4: warning: auto_failback legacy (the default) is deprecated`},
		{"repeated directive", minimal + "keepalive 1\nkeepalive 2\n", `ha.cf:6: warning: keepalive given again; this value replaces the one on line 5`},
		{"missing value", minimal + "deadtime\n", `ha.cf:5: error: deadtime: missing value`},
		{"mcast ok", "logfacility daemon\nauto_failback on\nmcast eth0 225.0.0.1 694 1 0\nnode a\n", ""},
		{"mcast ttl", "mcast eth0 225.0.0.1 694 5 0\n", `ha.cf:1: error: mcast: ttl "5" is not a number 0-4`},
		{"mcast group", "mcast eth0 10.0.0.1 694 1 0\n", `ha.cf:1: error: mcast: group "10.0.0.1" is not an IPv4 multicast address`},
		{"mcast loop", "mcast eth0 225.0.0.1 694 1 2\n", `ha.cf:1: error: mcast: loop "2" is not 0 or 1`},
		{"mcast short", "mcast eth0 225.0.0.1 694\n", `ha.cf:1: error: mcast: expected INTERFACE GROUP PORT TTL LOOP, got 3 values`},
		{"ucast two peers", "ucast eth0 10.0.0.2 10.0.0.3\n", `ha.cf:1: error: ucast: expected INTERFACE PEER, got 3 values`},
		{"ucast bad peer", "ucast eth0 bad_host!\n", `ha.cf:1: error: ucast: peer "bad_host!" is not an IP address or host name`},
		{"bad interface", "bcast averyveryverylongname\n", `ha.cf:1: error: bcast: "averyveryverylongname" is not a valid interface name`},
		{"same medium twice", minimal + "bcast eth0\n", `ha.cf:5: error: bcast eth0 is configured twice (first on line 3)`},
		{"mcast6 unsupported", minimal + "mcast6 eth0 ff02::1 694 1 0\n", `ha.cf:5: error: mcast6 is not supported by heartbeatd`},
		{"baud after serial", "serial /dev/ttyS0\nbaud 38400\n", `ha.cf:2: warning: baud 38400 comes after the serial line 1, which keeps 19200 baud`},
		{"baud twice", "baud 9600\nbaud 38400\n", `ha.cf:2: error: baud given twice (first on line 1)`},
		{"baud bad", "baud 1234\n", `ha.cf:1: error: baud: 1234 is not a supported rate`},
		{"watchdog twice", minimal + "watchdog /dev/watchdog\nwatchdog /dev/watchdog1\n", `ha.cf:6: error: watchdog given twice (first on line 5)`},
		{"debug range", minimal + "debug 256\n", `ha.cf:5: error: debug: 256 is out of range 0-255`},
		{"hopfudge junk", minimal + "hopfudge x\n", `ha.cf:5: error: hopfudge: "x" is not a number`},
		{"bool junk", minimal + "realtime perhaps\n", `ha.cf:5: error: realtime: "perhaps" is not a boolean`},
		{"facility junk", "logfacility local9\n", `ha.cf:1: error: logfacility: "local9" is not a syslog facility`},
		{"no logging", "auto_failback on\nbcast eth0\nnode a\n", `ha.cf: warning: no logfacility, logfile or debugfile`},
		{"stop_failure bad", minimal + "stop_failure standby\n", `ha.cf:5: error: stop_failure: "standby" is not one of reboot, block`},
		{"msgfmt netstring warns", minimal + "msgfmt netstring\n", `ha.cf:5: warning: msgfmt netstring drops the inner auth field`},
		{"env bad", minimal + "env =x\n", `ha.cf:5: error: env: "=x" is not NAME=value`},
		{"apiauth bad", minimal + "apiauth dopd user=root\n", `ha.cf:5: error: apiauth "dopd": "user=root" is not uid=LIST or gid=LIST`},
		{"apiauth missing ids", minimal + "apiauth dopd\n", `ha.cf:5: error: apiauth: expected CLIENT`},
		{"respawn missing command", minimal + "respawn hacluster\n", `ha.cf:5: error: respawn: expected USER COMMAND`},
		{"ping same as node", minimal + "ping A\n", `ha.cf:5: error: ping: "a" is already a node or ping node (line 4)`},
		{"max_rexmit_delay not time syntax", minimal + "max_rexmit_delay 0.5\n", `ha.cf:5: error: max_rexmit_delay: "0.5" is not a number`},
		{"node name too long", minimal + "node " + strings.Repeat("n", 100) + "\n", `ha.cf:5: error: node: name "nnnn`},
		{"comment in value", minimal + "keepalive 2#comment\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, l := parseString(t, tt.in)
			if tt.want == "" {
				if len(l) != 0 {
					t.Fatalf("want no findings, got:\n%s", strings.Join(findingStrings(l), "\n"))
				}
				return
			}
			if w, ok := strings.CutSuffix(tt.want, "\x00"); ok {
				// "\x00" marks "and nothing after it" (no suggestion).
				for _, f := range l {
					if f.String() == w {
						return
					}
				}
				t.Fatalf("no finding equals %q; got:\n%s", w, strings.Join(findingStrings(l), "\n"))
			}
			wantFinding(t, l, tt.want)
		})
	}
}

// TestMediaOrder checks that udpport applies only to the media lines after
// it, and baud only to serial lines after it, as in Heartbeat's plugins.
func TestMediaOrder(t *testing.T) {
	in := "bcast eth0\nudpport 700\nbcast eth1 eth2,eth3\nucast eth4 10.0.0.2\n" +
		"mcast eth5 239.1.2.3 5405 1 1\nserial /dev/ttyS0\nbaud 115200\nserial /dev/ttyS1\nnode a\n"
	cfg, _ := parseString(t, in)
	want := []Medium{
		{Kind: "bcast", Interface: "eth0", Port: 694, Line: 1},
		{Kind: "bcast", Interface: "eth1", Port: 700, Line: 3},
		{Kind: "bcast", Interface: "eth2", Port: 700, Line: 3},
		{Kind: "bcast", Interface: "eth3", Port: 700, Line: 3},
		{Kind: "ucast", Interface: "eth4", Peer: "10.0.0.2", Port: 700, Line: 4},
		{Kind: "mcast", Interface: "eth5", Group: "239.1.2.3", Port: 5405, TTL: 1, Loop: true, Line: 5},
		{Kind: "serial", Device: "/dev/ttyS0", Baud: 19200, Line: 6},
		{Kind: "serial", Device: "/dev/ttyS1", Baud: 115200, Line: 8},
	}
	if diff := cmp.Diff(want, cfg.Media); diff != "" {
		t.Errorf("media (-want +got):\n%s", diff)
	}
	if cfg.UDPPort != 700 || cfg.Baud != 115200 {
		t.Errorf("UDPPort, Baud = %d, %d", cfg.UDPPort, cfg.Baud)
	}
}

// TestDerivedTimes covers Heartbeat's initdead/warntime/deadping defaults.
func TestDerivedTimes(t *testing.T) {
	tests := []struct {
		lines                    string
		warn, initdead, deadping time.Duration
	}{
		{"", 15 * time.Second, 30 * time.Second, 30 * time.Second},
		{"deadtime 20\n", 10 * time.Second, 20 * time.Second, 20 * time.Second},
		{"deadtime 10\n", 5 * time.Second, 20 * time.Second, 10 * time.Second}, // not > 10 s: 2 x deadtime
		{"deadtime 6\n", 3 * time.Second, 12 * time.Second, 6 * time.Second},
		{"deadtime 5\n", 2500 * time.Millisecond, 12 * time.Second, 5 * time.Second},
		{"keepalive 200ms\ndeadtime 500ms\n", 250 * time.Millisecond, 12 * time.Second, 500 * time.Millisecond},
		{"deadtime 20\nwarntime 4\ninitdead 60\ndeadping 40\n", 4 * time.Second, 60 * time.Second, 40 * time.Second},
	}
	for _, tt := range tests {
		cfg, l := parseString(t, minimal+tt.lines)
		if l.HasErrors() {
			t.Errorf("%q: %v", tt.lines, l)
		}
		if cfg.Warntime != tt.warn || cfg.Initdead != tt.initdead || cfg.Deadping != tt.deadping {
			t.Errorf("%q: warntime, initdead, deadping = %v, %v, %v; want %v, %v, %v",
				tt.lines, cfg.Warntime, cfg.Initdead, cfg.Deadping, tt.warn, tt.initdead, tt.deadping)
		}
	}
}

func TestTypedFields(t *testing.T) {
	in := minimal + "udpport 695\nping 10.0.0.254 GW2\nping_group routers 10.0.0.1 10.0.0.2\n" +
		"stonith baytech /etc/ha.d/conf/stonith.baytech\nstonith_host * apcmaster 10.0.0.3 apc apc\n" +
		"failfast root /usr/bin/watcher -x a,b\nenv FOO=bar,BAZ=q=x\nhopfudge 3\nuuidfrom file\nhbgenmethod time\n" +
		"max_rexmit_delay 400\ndebug 2\nrealtime off\nrtprio 50\nwatchdog /dev/watchdog\nlogfile /var/log/ha-log\n" +
		"debugfile /var/log/ha-debug\nscript_timeout 600ms\nstop_failure block\nlog_badpack no\ncompression bz2\n"
	cfg, l := parseString(t, in)
	if l.HasErrors() {
		t.Fatalf("errors: %v", findingStrings(l))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"PingNodes", cfg.PingNodes, []string{"10.0.0.254", "gw2"}},
		{"PingGroups", cfg.PingGroups, []PingGroup{{Name: "routers", Hosts: []string{"10.0.0.1", "10.0.0.2"}, Line: 7}}},
		{"Stonith", cfg.Stonith, []Directive{{Name: "stonith", Args: []string{"baytech", "/etc/ha.d/conf/stonith.baytech"}, Line: 8}}},
		{"StonithHost", cfg.StonithHost, []Directive{{Name: "stonith_host", Args: []string{"*", "apcmaster", "10.0.0.3", "apc", "apc"}, Line: 9}}},
		{"Respawn", cfg.Respawn, []Respawn{{User: "root", Command: []string{"/usr/bin/watcher", "-x", "a,b"}, Failfast: true, Line: 10}}},
		{"Env", cfg.Env, map[string]string{"FOO": "bar", "BAZ": "q=x"}},
		{"HopFudge", cfg.HopFudge, 3},
		{"HBGenMethod", cfg.HBGenMethod, "time"},
		{"MaxRexmitDelay", cfg.MaxRexmitDelay, 400 * time.Millisecond},
		{"Debug", cfg.Debug, 2},
		{"Realtime", cfg.Realtime, false},
		{"RTPrio", cfg.RTPrio, 50},
		{"Watchdog", cfg.Watchdog, "/dev/watchdog"},
		{"LogFile", cfg.LogFile, "/var/log/ha-log"},
		{"DebugFile", cfg.DebugFile, "/var/log/ha-debug"},
		{"ScriptTimeout", cfg.ScriptTimeout, 600 * time.Millisecond},
		{"StopFailure", cfg.StopFailure, "block"},
		{"LogBadPack", cfg.LogBadPack, false},
		{"UDPPort", cfg.UDPPort, 695},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

// TestRobustness feeds hostile input: every case must produce its finding
// at the right line and never panic.
func TestRobustness(t *testing.T) {
	t.Run("binary junk", func(t *testing.T) {
		_, l := parseString(t, minimal+"\x00\x01\x02\xff\xfe\nkeepalive 2\n\x7fELF\n")
		wantFinding(t, l, "ha.cf:5: error: line contains a NUL byte at column 1 (binary data?)")
		wantFinding(t, l, "ha.cf:7: error: line contains control character 0x7f at column 1")
	})
	t.Run("invalid utf8", func(t *testing.T) {
		_, l := parseString(t, minimal+"node \xff\xfe\n")
		wantFinding(t, l, "ha.cf:5: error: line is not valid UTF-8 text")
	})
	t.Run("CRLF", func(t *testing.T) {
		in := strings.ReplaceAll(minimal+"keepalive 2\n", "\n", "\r\n")
		cfg, l := parseString(t, in)
		if l.HasErrors() {
			t.Fatalf("errors: %v", findingStrings(l))
		}
		wantFinding(t, l, "ha.cf:1: warning: line ends with CR (DOS line endings); the CR is ignored")
		if cfg.Keepalive != 2*time.Second || cfg.Nodes[1] != "b" {
			t.Errorf("CRLF file parsed as keepalive %v nodes %q", cfg.Keepalive, cfg.Nodes)
		}
	})
	t.Run("1 MB line", func(t *testing.T) {
		in := minimal + "node " + strings.Repeat("x", 1<<20) + "\nkeepalive 2\n"
		cfg, l := parseString(t, in)
		wantFinding(t, l, "ha.cf:5: error: line is longer than 65536 bytes")
		if cfg.Keepalive != 2*time.Second {
			t.Errorf("line after the long line was not parsed: keepalive %v", cfg.Keepalive)
		}
	})
	t.Run("1 MB unknown directive", func(t *testing.T) {
		_, l := parseString(t, minimal+strings.Repeat("y", 60000)+"\n")
		wantFinding(t, l, `ha.cf:5: error: unknown directive "yyyy`)
	})
	t.Run("no final newline", func(t *testing.T) {
		cfg, l := parseString(t, strings.TrimSuffix(minimal, "\n"))
		if l.HasErrors() || len(cfg.Nodes) != 2 {
			t.Errorf("nodes %q findings %v", cfg.Nodes, l)
		}
	})
}

func TestValidateLocalNode(t *testing.T) {
	cfg, _ := parseString(t, minimal)
	l := cfg.Validate("c")
	if len(l) != 1 || !strings.HasPrefix(l[0].String(), "ha.cf: error: Current node [c] not in configuration!") {
		t.Errorf("Validate(c) = %v", findingStrings(l))
	}
	if l := cfg.Validate("B"); len(l) != 0 {
		t.Errorf("Validate(B) = %v", findingStrings(l))
	}
}

// TestEveryDirectiveHasHandler guards the single-table design: every
// documented directive is handled and documented with a kind and text.
func TestEveryDirectiveHasHandler(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Directives {
		if seen[d.Name] {
			t.Errorf("%s documented twice", d.Name)
		}
		seen[d.Name] = true
		if d.Doc == "" || d.Kind == "" || d.Args == "" {
			t.Errorf("%s: incomplete documentation", d.Name)
		}
		_, l := parseString(t, d.Name+" x\n")
		for _, f := range l {
			if strings.Contains(f.Message, "not handled (bug)") {
				t.Errorf("%s has no handler", d.Name)
			}
		}
	}
}

func TestSuggestDirective(t *testing.T) {
	for in, want := range map[string]string{
		"deadtim": "deadtime", "bcats": "bcast", "auto_fallback": "auto_failback", "nodes": "node",
		"udpprot": "udpport", "xyzzyplugh": "", "": "node"[:0],
	} {
		if got := suggestDirective(in); got != want {
			t.Errorf("suggestDirective(%q) = %q, want %q", in, got, want)
		}
	}
}
