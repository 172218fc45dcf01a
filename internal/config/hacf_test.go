package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/diag"
)

// minimal is the smallest valid ha.cf; tests append the line under test.
const minimal = "logfacility daemon\nauto_failback on\nbcast eth0\nnode a b\n"

func parseString(t *testing.T, text string) (*Config, diag.List) {
	t.Helper()
	cfg, l := ParseHACF(strings.NewReader(text), "ha.cf")
	if cfg == nil {
		t.Fatal("ParseHACF returned nil config")
	}
	return cfg, l
}

// findingStrings renders findings as "ha.cf:LINE: severity: message".
func findingStrings(l diag.List) []string {
	var out []string
	for _, f := range l {
		out = append(out, f.String())
	}
	return out
}

// wantFinding fails unless some finding's String() contains want.
func wantFinding(t *testing.T, l diag.List, want string) {
	t.Helper()
	for _, f := range l {
		if strings.Contains(f.String(), want) {
			return
		}
	}
	t.Errorf("no finding contains %q; got:\n%s", want, strings.Join(findingStrings(l), "\n"))
}

func TestSeed002Golden(t *testing.T) {
	f, err := os.Open("testdata/seed002.ha.cf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, l := ParseHACF(f, "/etc/heartbeat/ha.cf")
	want := &Config{
		File: "/etc/heartbeat/ha.cf",
		Directives: []Directive{
			{Name: "logfacility", Args: []string{"local0"}, Line: 1},
			{Name: "keepalive", Args: []string{"2"}, Line: 2},
			{Name: "deadtime", Args: []string{"30"}, Line: 3},
			{Name: "warntime", Args: []string{"10"}, Line: 4},
			{Name: "initdead", Args: []string{"120"}, Line: 5},
			{Name: "bcast", Args: []string{"eth0"}, Line: 6},
			{Name: "bcast", Args: []string{"eth1"}, Line: 7},
			{Name: "node", Args: []string{"node1"}, Line: 8},
			{Name: "node", Args: []string{"node2"}, Line: 9},
		},
		Keepalive:      2 * time.Second,
		Deadtime:       30 * time.Second,
		Warntime:       10 * time.Second,
		Initdead:       120 * time.Second,
		Deadping:       30 * time.Second,
		MaxRexmitDelay: 250 * time.Millisecond,
		UDPPort:        694,
		Baud:           19200,
		Media: []Medium{
			{Kind: "bcast", Interface: "eth0", Port: 694, Line: 6},
			{Kind: "bcast", Interface: "eth1", Port: 694, Line: 7},
		},
		Nodes:         []string{"node1", "node2"},
		AutoFailback:  "legacy",
		LogFacility:   "local0",
		LogBadPack:    true,
		Realtime:      true,
		PingTieBreak:  true,
		HopFudge:      1,
		MsgFmt:        "classic",
		UUIDFrom:      "file",
		HBGenMethod:   "file",
		Env:           map[string]string{},
		ScriptTimeout: 300 * time.Second,
		StopFailure:   "reboot",
		// heartbeatd's fencing defaults.
		FencePolicy:        "holder",
		FenceDelay:         15 * time.Second,
		FenceTimeout:       60 * time.Second,
		FenceCheckInterval: 5 * time.Minute,
		// Monitoring: off, with its tunables at their defaults.
		Monitor: Monitor{Timeout: 20 * time.Second, MaxRestarts: 3, Window: 10 * time.Minute, FailureTimeout: 30 * time.Minute},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("seed 002 ha.cf (-want +got):\n%s", diff)
	}
	// The only finding is Heartbeat's own deprecation warning for the
	// default legacy mode; the seed must load unchanged.
	wantL := []string{"/etc/heartbeat/ha.cf: warning: auto_failback legacy (the default) is deprecated; set 'auto_failback on' or 'auto_failback off'"}
	if diff := cmp.Diff(wantL, findingStrings(l)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if v := cfg.Validate("NODE1"); len(v) != 0 {
		t.Errorf("Validate(NODE1) = %v, want no finding (names are lower-cased)", v)
	}
}

func TestLabFiles(t *testing.T) {
	for _, name := range []string{"lab.ha.cf", "lab-extras.ha.cf", "lab-legacy.ha.cf", "lab-netstring.ha.cf"} {
		t.Run(name, func(t *testing.T) {
			cfg, l := Load2(t, "testdata/"+name)
			if l.HasErrors() {
				t.Fatalf("unexpected errors:\n%s", strings.Join(findingStrings(l), "\n"))
			}
			wantMedia := []Medium{
				{Kind: "bcast", Interface: "eth1", Port: 694, Line: 10},
				{Kind: "bcast", Interface: "eth2", Port: 694, Line: 10},
			}
			if diff := cmp.Diff(wantMedia, cfg.Media); diff != "" {
				t.Errorf("media (-want +got):\n%s", diff)
			}
			if cfg.Keepalive != time.Second || cfg.Deadtime != 5*time.Second || cfg.Warntime != 3*time.Second || cfg.Initdead != 10*time.Second {
				t.Errorf("timing = %v %v %v %v", cfg.Keepalive, cfg.Deadtime, cfg.Warntime, cfg.Initdead)
			}
			if diff := cmp.Diff([]string{"pa1", "pa2"}, cfg.Nodes); diff != "" {
				t.Errorf("nodes: %s", diff)
			}
		})
	}
	cfg, _ := Load2(t, "testdata/lab-extras.ha.cf")
	wantResp := []Respawn{
		{User: "hacluster", Command: []string{"/usr/libexec/heartbeat/ipfail"}, Line: 17},
		{User: "hacluster", Command: []string{"/usr/libexec/heartbeat/dopd"}, Line: 18},
	}
	if diff := cmp.Diff(wantResp, cfg.Respawn); diff != "" {
		t.Errorf("respawn (-want +got):\n%s", diff)
	}
	wantAuth := []APIAuth{{Client: "dopd", UIDs: []string{"hacluster"}, GIDs: []string{"haclient"}, Line: 19}}
	if diff := cmp.Diff(wantAuth, cfg.APIAuth); diff != "" {
		t.Errorf("apiauth (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.201.0.254"}, cfg.PingNodes); diff != "" {
		t.Errorf("ping: %s", diff)
	}
}

// Load2 parses one file by path.
func Load2(t *testing.T, path string) (*Config, diag.List) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ParseHACF(f, path)
}

func TestTimeValues(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		warnS   bool
		wantErr string
	}{
		{in: "2", want: 2 * time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: ".25", want: 250 * time.Millisecond},
		{in: "5.", want: 5 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "500MS", want: 500 * time.Millisecond},
		{in: "500msec", want: 500 * time.Millisecond},
		{in: "1.5ms", want: 2 * time.Millisecond}, // rounded like cl_get_msec
		{in: "1500000us", want: 1500 * time.Millisecond},
		{in: "2000usec", want: 2 * time.Millisecond},
		{in: "501us", want: time.Millisecond},
		{in: "2s", want: 2 * time.Second, warnS: true},
		{in: "x", wantErr: `"x" is not a time`},
		{in: "5m", wantErr: `unknown unit "m"`},
		{in: "5min", wantErr: `unknown unit "min"`},
		{in: "-1", wantErr: `"-1" is not a time`},
		{in: "0", wantErr: "must be greater than zero"},
		{in: "0ms", wantErr: "must be greater than zero"},
		{in: "499us", wantErr: "must be greater than zero"},
		{in: "1.2.3", wantErr: "is not a time"},
		{in: "1e3", wantErr: "is not a time"},
		{in: "ms", wantErr: "is not a time"},
		{in: "99999999999", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTime(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseTime(%q) err = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseTime(%q): %v", tt.in, err)
			}
			if got.d != tt.want || got.secondSuffix != tt.warnS {
				t.Errorf("parseTime(%q) = %v,%v want %v,%v", tt.in, got.d, got.secondSuffix, tt.want, tt.warnS)
			}
		})
	}
}

func TestTimeDirectiveFindings(t *testing.T) {
	_, l := parseString(t, minimal+"keepalive x\n")
	wantFinding(t, l, `ha.cf:5: error: keepalive: "x" is not a time`)
	_, l = parseString(t, minimal+"deadtime 0\n")
	wantFinding(t, l, `ha.cf:5: error: deadtime: "0" must be greater than zero`)
	_, l = parseString(t, minimal+"warntime -3\n")
	wantFinding(t, l, `ha.cf:5: error: warntime: "-3" is not a time`)
	cfg, l := parseString(t, minimal+"keepalive 2s\n")
	wantFinding(t, l, `ha.cf:5: warning: keepalive: the suffix "s" is a heartbeatd extension; real Heartbeat rejects "2s" (write 2)`)
	if l.HasErrors() || cfg.Keepalive != 2*time.Second {
		t.Errorf("keepalive 2s: %v, %v", cfg.Keepalive, l)
	}
	_, l = parseString(t, minimal+"keepalive 1 2\n")
	wantFinding(t, l, "ha.cf:5: error: keepalive takes one value, got 2")
}
