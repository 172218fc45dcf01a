package ipaddr

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr"
	"heartbeatd/internal/garp"

	"github.com/google/go-cmp/cmp"
)

func TestParseTarget(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		in   string
		want target
	}{
		{"10.201.0.100", target{IP: a("10.201.0.100"), Bits: -1}},
		{"10.201.0.100/24/eth1", target{IP: a("10.201.0.100"), Bits: 24, Iface: "eth1"}},
		{"10.0.0.5/255.255.255.0/eth0/10.0.0.255", target{IP: a("10.0.0.5"), Bits: 24, Iface: "eth0", Broadcast: a("10.0.0.255")}},
		// Heartbeat's wrapper: a third field starting with a digit is
		// the broadcast address.
		{"10.0.0.5/24/10.0.0.127", target{IP: a("10.0.0.5"), Bits: 24, Broadcast: a("10.0.0.127")}},
		// The alias is dropped, as Heartbeat's IPaddr drops it.
		{"10.0.0.5/24/eth0:3", target{IP: a("10.0.0.5"), Bits: 24, Iface: "eth0", Alias: "3"}},
	} {
		got, err := parseTarget(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		tc.want.Raw = tc.in
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
	for in, want := range map[string]string{
		"fd00::5/64/eth0":        "IPv6 is not supported by IPaddr",
		"10.0.0.300":             "not a valid IPv4 address",
		"10.0.0.5//eth0":         "empty field 2",
		"10.0.0.5/eth0":          "must be the prefix length",
		"10.0.0.5/24/10.0.0.999": "read as the broadcast address",
		"10.0.0.5/24/e/1/2":      "at most",
		"224.0.0.18":             "multicast",
	} {
		if _, err := parseTarget(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want containing %q", in, err, want)
		}
	}
}

// lab is an address table: eth0 10.0.0.1/24 with an earlier VIP as a
// secondary, eth1 192.168.5.1/16 and 192.168.7.1/24 (more specific), lo.
func labTables() ([]addr.Link, []addr.IfAddr) {
	p := netip.MustParsePrefix
	links := []addr.Link{{Index: 1, Name: "lo", Up: true, Loop: true}, {Index: 2, Name: "eth0", Up: true}, {Index: 3, Name: "eth1", Up: true}, {Index: 4, Name: "averyveryl0ng15", Up: true}}
	addrs := []addr.IfAddr{
		{Index: 1, Iface: "lo", Prefix: p("127.0.0.1/8"), Label: "lo"},
		{Index: 2, Iface: "eth0", Prefix: p("10.0.0.1/24"), Label: "eth0"},
		{Index: 2, Iface: "eth0", Prefix: p("10.0.0.50/24"), Label: "eth0:0", Secondary: true},
		{Index: 3, Iface: "eth1", Prefix: p("192.168.5.1/16"), Label: "eth1"},
		{Index: 3, Iface: "eth1", Prefix: p("192.168.7.1/24"), Label: "eth1"},
		{Index: 4, Iface: "averyveryl0ng15", Prefix: p("172.16.0.1/24"), Label: "averyveryl0ng15"},
	}
	return links, addrs
}

func TestPlace(t *testing.T) {
	links, addrs := labTables()
	a := netip.MustParseAddr
	for _, tc := range []struct {
		in   string
		want addr.Placement
	}{
		// findif: subnet of eth0, its prefix, brd computed, first free
		// label is eth0:1 because eth0:0 is taken.
		{"10.0.0.100", addr.Placement{Iface: "eth0", Index: 2, Prefix: netip.MustParsePrefix("10.0.0.100/24"), Broadcast: a("10.0.0.255"), Label: "eth0:1"}},
		// the most specific subnet wins
		{"192.168.7.9", addr.Placement{Iface: "eth1", Index: 3, Prefix: netip.MustParsePrefix("192.168.7.9/24"), Broadcast: a("192.168.7.255"), Label: "eth1:0"}},
		{"192.168.9.9", addr.Placement{Iface: "eth1", Index: 3, Prefix: netip.MustParsePrefix("192.168.9.9/16"), Broadcast: a("192.168.255.255"), Label: "eth1:0"}},
		// explicit prefix and broadcast win
		{"10.0.0.100/25/eth0/10.0.0.99", addr.Placement{Iface: "eth0", Index: 2, Prefix: netip.MustParsePrefix("10.0.0.100/25"), Broadcast: a("10.0.0.99"), Label: "eth0:1"}},
		// explicit interface outside any of its subnets, with a prefix
		{"10.9.9.9/32/eth1", addr.Placement{Iface: "eth1", Index: 3, Prefix: netip.MustParsePrefix("10.9.9.9/32"), Broadcast: netip.Addr{}, Label: "eth1:0"}},
		// a /30 still has a broadcast; a long name gets no label
		{"172.16.0.9/30/averyveryl0ng15", addr.Placement{Iface: "averyveryl0ng15", Index: 4, Prefix: netip.MustParsePrefix("172.16.0.9/30"), Broadcast: a("172.16.0.11"), Label: ""}},
	} {
		tg, err := parseTarget(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := place(tg, links, addrs)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
			cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
	// Errors say what to write instead.
	dup := append(append([]addr.IfAddr(nil), addrs...), addr.IfAddr{Index: 4, Iface: "averyveryl0ng15", Prefix: netip.MustParsePrefix("10.0.0.2/24")})
	for _, tc := range []struct {
		in    string
		addrs []addr.IfAddr
		want  string
	}{
		{"10.0.0.5/24/eth9", addrs, "interface eth9 not found"},
		{"10.9.9.9/eth1", addrs, ""}, // parse error, skipped below
		{"10.9.9.9", addrs, "no interface has an IPv4 subnet containing 10.9.9.9; name it"},
		{"10.9.9.9/0/eth1", addrs, ""},
		{"127.0.0.5", addrs, "no interface has an IPv4 subnet containing 127.0.0.5"},
		{"10.9.9.9//eth1", addrs, ""},
		{"10.9.9.9", dup, ""},
		{"10.0.0.9", dup, "10.0.0.9 is inside 10.0.0.0/24 on eth0 and 10.0.0.0/24 on averyveryl0ng15; name the interface"},
	} {
		tg, err := parseTarget(tc.in)
		if err != nil || tc.want == "" {
			continue
		}
		if _, err := place(tg, links, tc.addrs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want containing %q", tc.in, err, tc.want)
		}
	}
	tg, _ := parseTarget("10.9.9.9/255.255.255.255/eth1")
	tg.Bits = -1
	if _, err := place(tg, links, addrs); err == nil || !strings.Contains(err.Error(), "write 10.9.9.9/PREFIX/eth1") {
		t.Errorf("no prefix on a foreign interface: %v", err)
	}
}

func TestBroadcastOf(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.5/24": "10.0.0.255", "10.0.0.5/8": "10.255.255.255", "10.0.0.5/30": "10.0.0.7",
		"10.0.0.5/31": "invalid IP", "10.0.0.5/32": "invalid IP", "10.0.0.5/0": "255.255.255.255",
	} {
		if got := broadcastOf(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestBurstFromEnv(t *testing.T) {
	b, w := burstFromEnv(env(nil))
	if b != garp.DefaultBurst() || len(w) != 0 {
		t.Fatalf("defaults: %+v %v", b, w)
	}
	b, w = burstFromEnv(env(map[string]string{envCount: "8", envFast: "2", envFastMS: "100", envInterval: "1500", envMode: "reply"}))
	want := garp.Burst{Count: 8, Fast: 2, FastInterval: 100 * time.Millisecond, SlowInterval: 1500 * time.Millisecond, Mode: garp.ModeReply}
	if b != want || len(w) != 0 {
		t.Fatalf("set: %+v %v", b, w)
	}
	if b, _ := burstFromEnv(env(map[string]string{envCount: "2"})); b.Count != 2 || b.Fast != 2 {
		t.Fatalf("count 2 alone: %+v", b)
	}
	if b, _ := burstFromEnv(env(map[string]string{envCount: "0"})); b.Count != 0 {
		t.Fatalf("count 0 (off): %+v", b)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{envCount: "five"}, `HA_ARP_COUNT="five"`},
		{map[string]string{envMode: "gratuitous"}, "HA_ARP_MODE"},
		{map[string]string{envInterval: "1"}, "ARP interval 1ms out of range"},
		{map[string]string{envCount: "3", envFast: "4"}, "fast ARP count 4"},
	} {
		b, w := burstFromEnv(env(tc.env))
		if b.Validate() != nil || len(w) != 1 || !strings.Contains(w[0], tc.want) {
			t.Errorf("%v: burst %+v warnings %q, want one containing %q", tc.env, b, w, tc.want)
		}
	}
}

func TestProbeFromEnv(t *testing.T) {
	if d, _ := probeFromEnv(env(nil)); d != defaultProbeWait {
		t.Errorf("default %v", d)
	}
	if d, _ := probeFromEnv(env(map[string]string{envNoProbe: "1"})); d != 0 {
		t.Errorf("NO_PROBE=1 gave %v", d)
	}
	if d, _ := probeFromEnv(env(map[string]string{envNoProbe: "0", envProbeMS: "500"})); d != 500*time.Millisecond {
		t.Errorf("PROBE_MS=500 gave %v", d)
	}
	if d, w := probeFromEnv(env(map[string]string{envProbeMS: "5"})); d != defaultProbeWait || len(w) != 1 {
		t.Errorf("PROBE_MS=5 gave %v %v", d, w)
	}
}

func TestTailArgsRoundTripAndWait(t *testing.T) {
	last := time.Unix(1700000000, 123456789)
	in := addr.Tail{Iface: "eth1", IP: netip.MustParseAddr("10.1.2.3"), From: 3,
		Burst: garp.Burst{Count: 6, Fast: 3, FastInterval: 150 * time.Millisecond, SlowInterval: 1200 * time.Millisecond, Mode: garp.ModeRequest},
		Last:  last, DaemonPID: 4242, Refresh: 30 * time.Second}
	out, err := announcer.ParseTail(in.Argv(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Iface != in.Iface || out.IP != in.IP || out.From != in.From || out.Burst != in.Burst || !out.Last.Equal(last) || out.DaemonPID != 4242 || out.Refresh != in.Refresh {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	for _, tc := range []struct {
		since time.Duration
		want  time.Duration
	}{
		{30 * time.Millisecond, 1170 * time.Millisecond}, // process start-up is deducted
		{2 * time.Second, 0},                             // late: send at once
		{-time.Hour, 1200 * time.Millisecond},            // wall clock stepped back
	} {
		if got := out.FirstWait(last.Add(tc.since)); got != tc.want {
			t.Errorf("after %v: wait %v, want %v", tc.since, got, tc.want)
		}
	}
	for _, bad := range [][]string{
		{"--ip", "10.1.2.3"},
		{"--iface", "eth1", "--ip", "fe80::1", "--from", "3"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "0"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "9"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "3", "--mode", "x"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "3", "--interval-ms", "0"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "3", "--refresh-ms", "999"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "3", "extra"},
		{"--bogus"},
	} {
		var errs bytes.Buffer
		if rc := GarpTailMain(bad, agent.IO{Stdout: &errs, Stderr: &errs, Getenv: env(nil)}); rc != agent.BadArgs {
			t.Errorf("%q: rc %d, want %d (%s)", bad, rc, agent.BadArgs, errs.String())
		}
	}
}

// Bad arguments never reach the kernel: exit 2 with a message.
func TestMainBadArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no operation given"},
		{[]string{"10.0.0.5", "restart"}, `unknown operation "restart"`},
		{[]string{"start"}, "want exactly one address argument, got 0"},
		{[]string{"10.0.0.5", "eth0", "start"}, "got 2"},
		{[]string{"10.0.0.5/33", "start"}, "prefix length 33 out of range"},
		{[]string{"2001:db8::1", "status"}, "use the IPv6addr resource"},
	} {
		var out, errs bytes.Buffer
		rc := Main(tc.args, agent.IO{Stdout: &out, Stderr: &errs, Getenv: env(nil)})
		if rc != agent.BadArgs || !strings.Contains(errs.String(), tc.want) || !strings.HasPrefix(errs.String(), "ERROR: ") {
			t.Errorf("%q: rc %d stderr %q, want 2 and %q", tc.args, rc, errs.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q; status text must not appear on a usage error", tc.args, out.String())
		}
	}
}

func TestRegistered(t *testing.T) {
	for _, n := range []string{"IPaddr", "IPaddr2", TailAgent} {
		if _, ok := agent.Lookup(n); !ok {
			t.Errorf("agent %s not registered", n)
		}
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"10.201.0.100/24/eth1", "10.0.0.5/255.255.255.0/eth0/10.0.0.255",
		"10.0.0.5/24/10.0.0.127", "fd00::1", "10.0.0.5/24/eth0:1", "1.2.3.4//", "10.0.0.5/24/9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := parseTarget(s)
		if err != nil {
			return
		}
		if !tg.IP.Is4() || tg.Bits < -1 || tg.Bits > 32 || strings.Contains(tg.Iface, ":") {
			t.Fatalf("%q accepted as %+v", s, tg)
		}
		links, addrs := labTables()
		_, _ = place(tg, links, addrs) // must not panic
	})
}

// The detached sender is this binary again, through the resource
// dispatcher (`heartbeatd resource IPaddr-garp-tail ...`).
func TestRealTailCommand(t *testing.T) {
	argv := addr.Tail{Iface: "eth1", IP: netip.MustParseAddr("10.1.2.3"), From: 3, Burst: garp.DefaultBurst()}.Argv()
	real := *announcer
	real.Command = nil // the netns tests set it
	cmd, err := real.TailCommand(argv)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if cmd.Path != exe {
		t.Errorf("path %s, want own executable %s", cmd.Path, exe)
	}
	if diff := cmp.Diff(append([]string{exe, "resource", TailAgent}, argv...), cmd.Args); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
}
