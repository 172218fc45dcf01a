package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The three device lines become typed devices in file order: stonith_host
// keeps its parameters as one string with their inner blanks (the plugin's
// last parameter takes the rest of the line), fence_agent gets its fence_
// prefix and keeps its pairs in order.
func TestFenceDevices(t *testing.T) {
	in := minimal +
		"stonith baytech /etc/ha.d/conf/stonith.baytech\n" + // 5
		"stonith_host A external/ipmi b 10.0.0.12 admin  se,cret lan   # ipmi of b\n" + // 6
		"stonith_host * apcmaster 10.0.0.3 apc apc\n" + // 7
		"fence_agent b ipmilan ip=10.0.0.11 username=admin password_script=/root/pw lanplus=1\n" + // 8
		"fence_agent * fence_dummy\n" // 9
	cfg, l := parseString(t, in)
	if l.HasErrors() {
		t.Fatalf("errors: %v", findingStrings(l))
	}
	want := []FenceDevice{
		{Host: "*", Kind: FenceStonithFile, Type: "baytech", File: "/etc/ha.d/conf/stonith.baytech", Directive: "stonith", Line: 5},
		{Host: "a", Kind: FenceStonithParams, Type: "external/ipmi", Params: "b 10.0.0.12 admin  se,cret lan", Directive: "stonith_host", Line: 6},
		{Host: "*", Kind: FenceStonithParams, Type: "apcmaster", Params: "10.0.0.3 apc apc", Directive: "stonith_host", Line: 7},
		{Host: "b", Kind: FenceAgent, Type: "fence_ipmilan", Args: []FenceArg{
			{"ip", "10.0.0.11"}, {"username", "admin"}, {"password_script", "/root/pw"}, {"lanplus", "1"},
		}, Directive: "fence_agent", Line: 8},
		{Host: "*", Kind: FenceAgent, Type: "fence_dummy", Directive: "fence_agent", Line: 9},
	}
	if diff := cmp.Diff(want, cfg.FenceDevices); diff != "" {
		t.Errorf("FenceDevices (-want +got):\n%s", diff)
	}
	var forA, forB []int
	for _, d := range cfg.FenceDevicesFor("A") {
		forA = append(forA, d.Line)
	}
	for _, d := range cfg.FenceDevicesFor("b") {
		forB = append(forB, d.Line)
	}
	if !cmp.Equal(forA, []int{5, 6, 7, 9}) || !cmp.Equal(forB, []int{5, 7, 8, 9}) {
		t.Errorf("FenceDevicesFor: a %v, b %v", forA, forB)
	}
	if v, ok := want[3].Arg("username"); !ok || v != "admin" {
		t.Errorf("Arg(username) = %q, %v", v, ok)
	}
	if s := want[1].String(); s != "stonith_host a external/ipmi" || strings.Contains(s, "admin") {
		t.Errorf("String() = %q", s)
	}
	// The raw lines are still there for whoever compares them (reload).
	if len(cfg.Stonith) != 1 || len(cfg.StonithHost) != 2 {
		t.Errorf("raw lines: %d stonith, %d stonith_host", len(cfg.Stonith), len(cfg.StonithHost))
	}
}

func TestFenceTunables(t *testing.T) {
	cfg, l := parseString(t, minimal)
	if cfg.FencePolicy != "holder" || cfg.FenceDelay != 15*time.Second || cfg.FenceDelayMax != 0 ||
		cfg.FenceTimeout != time.Minute || cfg.FenceCheckInterval != 5*time.Minute || l.HasErrors() {
		t.Errorf("defaults: %q %v %v %v %v %v", cfg.FencePolicy, cfg.FenceDelay, cfg.FenceDelayMax, cfg.FenceTimeout, cfg.FenceCheckInterval, l)
	}
	cfg, l = parseString(t, minimal+"stonith_host * null a\nfence_policy heartbeat\nfence_delay 0\nfence_delay_max 2500ms\n"+
		"fence_timeout 30\nfence_check_interval 0\n")
	if l.HasErrors() {
		t.Fatalf("errors: %v", findingStrings(l))
	}
	if cfg.FencePolicy != "heartbeat" || cfg.FenceDelay != 0 || cfg.FenceDelayMax != 2500*time.Millisecond ||
		cfg.FenceTimeout != 30*time.Second || cfg.FenceCheckInterval != 0 {
		t.Errorf("set: %q %v %v %v %v", cfg.FencePolicy, cfg.FenceDelay, cfg.FenceDelayMax, cfg.FenceTimeout, cfg.FenceCheckInterval)
	}
}

// One rule per row, as TestFindings: the finding must appear (FILE:LINE:
// severity: message prefix).
func TestFenceFindings(t *testing.T) {
	dev := "stonith_host * null a\n" // line 5 after minimal
	tests := []struct{ name, in, want string }{
		{"stonith short", minimal + "stonith baytech\n", `ha.cf:5: error: stonith: expected TYPE CONFIGFILE`},
		{"stonith bad type", minimal + "stonith ../../bin/sh /x\n", `ha.cf:5: error: stonith: "../../bin/sh" is not a stonith plugin type`},
		{"stonith_host short", minimal + "stonith_host *\n", `ha.cf:5: error: stonith_host: expected HOST|* TYPE PARAMS...`},
		{"stonith_host bad type", minimal + "stonith_host * external/../x a\n", `ha.cf:5: error: stonith_host: "external/../x" is not a stonith plugin type`},
		{"stonith_host unknown host", minimal + "stonith_host nodec null a\n", `ha.cf:5: warning: stonith_host: host "nodec" is not a node of this cluster`},
		{"fence_agent short", minimal + "fence_agent *\n", `ha.cf:5: error: fence_agent: expected HOST|* AGENT [key=value...]`},
		{"fence_agent path", minimal + "fence_agent * /bin/sh\n", `ha.cf:5: error: fence_agent: "/bin/sh" is not a fence agent name`},
		{"fence_agent action", minimal + "fence_agent * dummy action=off\n", `ha.cf:5: error: fence_agent: action is set by heartbeatd`},
		{"fence_agent no value", minimal + "fence_agent * dummy ip=1 secretpassword\n", `ha.cf:5: error: fence_agent: parameter 2 is not key=value`},
		{"fence_agent twice", minimal + "fence_agent * dummy ip=1 ip=2\n", `ha.cf:5: error: fence_agent: parameter ip is given twice`},
		{"fence_agent twice spelled", minimal + "fence_agent * dummy status_file=1 status-file=2\n", `ha.cf:5: error: fence_agent: parameter status-file is given twice`},
		{"fence_agent unknown host", minimal + "fence_agent nodec dummy\n", `ha.cf:5: warning: fence_agent: host "nodec" is not a node of this cluster`},
		{"policy", minimal + dev + "fence_policy both\n", `ha.cf:6: error: fence_policy: "both" is not one of heartbeat, holder`},
		{"timeout zero", minimal + dev + "fence_timeout 0\n", `ha.cf:6: error: fence_timeout: "0" must be greater than zero`},
		{"delay junk", minimal + dev + "fence_delay soon\n", `ha.cf:6: error: fence_delay: "soon" is not a time`},
		{"delay twice", minimal + dev + "fence_delay 1\nfence_delay 2\n", `ha.cf:7: warning: fence_delay given again; this value replaces the one on line 6`},
		{"tunable without device", minimal + "fence_timeout 30\n", `ha.cf:5: warning: fence_timeout has no effect: no stonith, stonith_host or fence_agent device is configured`},
		{"delay with heartbeat policy", minimal + dev + "fence_policy heartbeat\nfence_delay 5\n", `ha.cf:7: warning: fence_delay has no effect with fence_policy heartbeat`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, l := parseString(t, tt.in)
			wantFinding(t, l, tt.want)
			for _, f := range l {
				if strings.Contains(f.Message, "secretpassword") {
					t.Errorf("finding quotes a value that may be a password: %s", f)
				}
			}
		})
	}
	// A correct device line draws nothing beyond the not-acted-on report.
	_, l := parseString(t, minimal+dev+"fence_agent b dummy status_file=/tmp/x\nfence_delay 5\n")
	if len(l) != 0 {
		t.Errorf("clean fence lines: %v", findingStrings(l))
	}
}

// The not-acted-on list yields one warning per line using a listed
// directive, and none for dopd and ipfail, which heartbeatd has built in, nor for
// ping nodes, which it pings.
func TestNotActedOn(t *testing.T) {
	cfg, l := parseString(t, minimal+
		"ping 10.0.0.254\n"+ // 5
		"ping_group gw 10.0.0.1 10.0.0.2\n"+ // 6
		"respawn hacluster /usr/lib/heartbeat/ipfail\n"+ // 7
		"respawn hacluster /usr/lib/heartbeat/dopd\n"+ // 8
		"apiauth dopd gid=haclient uid=hacluster\n"+ // 9
		"stonith_host * null a\n"+ // 10: acted on
		"fence_delay 5\n"+ // 11: acted on
		"respawn root /usr/local/sbin/monitor\n") // 12
	if l.HasErrors() {
		t.Fatalf("errors: %v", findingStrings(l))
	}
	var got []string
	for _, f := range cfg.NotActedOn() {
		if f.Severity.String() != "warning" || !strings.Contains(f.Message, "accepted but not acted on by this version") {
			t.Errorf("finding %s", f)
		}
		got = append(got, f.String()[:strings.Index(f.String(), " warning:")])
	}
	want := []string{"ha.cf:12:"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("not-acted-on lines (-want +got):\n%s", diff)
	}
	if l := (&Config{File: "ha.cf"}).NotActedOn(); len(l) != 0 {
		t.Errorf("empty config: %v", l)
	}
}

func TestRestAfter(t *testing.T) {
	for _, c := range []struct {
		rest string
		n    int
		want string
	}{
		{" * apcmaster 10.0.0.3  apc apc  ", 2, "10.0.0.3  apc apc"},
		{"\tbaytech /etc/ha.d/my file", 1, "/etc/ha.d/my file"},
		{" * null", 2, ""},
		{"", 1, ""},
	} {
		if got := restAfter(c.rest, c.n); got != c.want {
			t.Errorf("restAfter(%q, %d) = %q, want %q", c.rest, c.n, got, c.want)
		}
	}
	for v, want := range map[string]bool{"0": true, "0.0": true, "0ms": true, ".0": true, "0x": false, "1": false, "0.5": false, "00us": true} {
		if isZero(v) != want {
			t.Errorf("isZero(%q) = %v", v, !want)
		}
	}
}
