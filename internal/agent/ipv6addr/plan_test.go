package ipv6addr

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr"
	"heartbeatd/internal/garp"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseArgs(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		args []string
		want haresources.IPv6Spec
		op   string
	}{
		{[]string{"2001:db8:0:0:0:0:0:5/64/eth0", "start"}, haresources.IPv6Spec{Addr: a("2001:db8::5"), Bits: 64, Iface: "eth0"}, "start"},
		{[]string{"fd00:233:0:0:0:0:0:100", "status"}, haresources.IPv6Spec{Addr: a("fd00:233::100"), Bits: -1}, "status"},
		{[]string{"fd00:233:0:0:0:0:0:100//eth1", "monitor"}, haresources.IPv6Spec{Addr: a("fd00:233::100"), Bits: -1, Iface: "eth1"}, "monitor"},
		// From the command line "::" is fine: only haresources splits it.
		{[]string{"fd00:233::100/64", "stop"}, haresources.IPv6Spec{Addr: a("fd00:233::100"), Bits: 64}, "stop"},
	} {
		got, op, err := parseArgs(tc.args)
		if err != nil || got != tc.want || op != tc.op {
			t.Errorf("%q: %+v %q %v; want %+v %q", tc.args, got, op, err, tc.want, tc.op)
		}
	}
}

// Bad arguments never reach the kernel: exit 2 with a message, and no
// status word on stdout.
func TestMainBadArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no operation given"},
		{[]string{"fd00::1", "restart"}, `unknown operation "restart"`},
		{[]string{"start"}, "want exactly one address argument, got 0"},
		{[]string{"fd00::1/129", "start"}, "prefix length 129 out of range"},
		{[]string{"10.0.0.5", "status"}, "use the IPaddr resource"},
		// What ResourceManager passes for IPv6addr::fd00:233::100/64/eth1.
		{[]string{"fd00:233", "100/64/eth1", "start"}, `write the address without "::": IPv6addr::fd00:233:0:0:0:0:0:100/64/eth1`},
		{[]string{"fe80::1", "start"}, "link-local: name the interface"},
	} {
		var out, errs bytes.Buffer
		rc := Main(tc.args, agent.IO{Stdout: &out, Stderr: &errs, Getenv: env(nil)})
		if rc != agent.BadArgs || !strings.Contains(errs.String(), tc.want) || !strings.HasPrefix(errs.String(), "ERROR: ") {
			t.Errorf("%q: rc %d stderr %q, want 2 and %q", tc.args, rc, errs.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", tc.args, out.String())
		}
	}
}

func TestRegistered(t *testing.T) {
	for _, n := range []string{"IPv6addr", TailAgent} {
		if _, ok := agent.Lookup(n); !ok {
			t.Errorf("agent %s not registered", n)
		}
	}
}

// labTables is a node with two LANs, a /32 that contains one of them and
// loopback.
func labTables() ([]addr.Link, []addr.IfAddr) {
	p := netip.MustParsePrefix
	links := []addr.Link{{Index: 1, Name: "lo", Up: true, Loop: true}, {Index: 2, Name: "eth0", Up: true}, {Index: 3, Name: "eth1", Up: true}, {Index: 4, Name: "eth2", Up: false}}
	addrs := []addr.IfAddr{
		{Index: 1, Iface: "lo", Prefix: p("::1/128")},
		{Index: 2, Iface: "eth0", Prefix: p("2001:db8:1::10/64")},
		{Index: 2, Iface: "eth0", Prefix: p("fe80::a/64")},
		{Index: 3, Iface: "eth1", Prefix: p("2001:db8::10/32")},
		{Index: 3, Iface: "eth1", Prefix: p("fd00:233::a/64")},
		{Index: 3, Iface: "eth1", Prefix: p("fe80::b/64")},
	}
	return links, addrs
}

func TestPlace(t *testing.T) {
	links, addrs := labTables()
	spec := func(s string) haresources.IPv6Spec {
		sp, err := haresources.ParseIPv6Spec(s)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		in   string
		want addr.Placement
	}{
		{"fd00:233::100", addr.Placement{Iface: "eth1", Index: 3, Prefix: p("fd00:233::100/64")}},
		// The most specific prefix wins: 2001:db8:1::/64 on eth0 over
		// 2001:db8::/32 on eth1.
		{"2001:db8:1::77", addr.Placement{Iface: "eth0", Index: 2, Prefix: p("2001:db8:1::77/64")}},
		{"2001:db8:2::77", addr.Placement{Iface: "eth1", Index: 3, Prefix: p("2001:db8:2::77/32")}},
		{"2001:db8:2::77/56", addr.Placement{Iface: "eth1", Index: 3, Prefix: p("2001:db8:2::77/56")}},
		{"fd00:233::100//eth1", addr.Placement{Iface: "eth1", Index: 3, Prefix: p("fd00:233::100/64")}},
		{"fd00:99::1/64/eth0", addr.Placement{Iface: "eth0", Index: 2, Prefix: p("fd00:99::1/64")}},
		{"fe80::99/64/eth1", addr.Placement{Iface: "eth1", Index: 3, Prefix: p("fe80::99/64")}},
		{"fe80::99//eth1", addr.Placement{Iface: "eth1", Index: 3, Prefix: p("fe80::99/64")}},
	} {
		got, err := place(spec(tc.in), links, addrs)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"fd00:99::1", "no interface has an IPv6 prefix containing fd00:99::1; name it: fd00:99:0:0:0:0:0:1/PREFIX/IFACE"},
		{"fd00:99::1//eth0", "no address of eth0 is in a prefix containing it; write fd00:99:0:0:0:0:0:1/PREFIX/eth0"},
		{"fd00:233::100/64/eth9", "interface eth9 not found"},
		{"fd00:233::100/64/lo", "loopback"},
	} {
		if _, err := place(spec(tc.in), links, addrs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
	// Two interfaces in equally specific prefixes: the admin must choose.
	addrs = append(addrs, addr.IfAddr{Index: 2, Iface: "eth0", Prefix: p("fd00:233::b/64")})
	if _, err := place(spec("fd00:233::100"), links, addrs); err == nil || !strings.Contains(err.Error(), "name the interface: fd00:233:0:0:0:0:0:100/64/eth") {
		t.Errorf("ambiguous: %v", err)
	}
}

func TestTailArgsRoundTripAndWait(t *testing.T) {
	last := time.Unix(1700000000, 123456789)
	in := addr.Tail{Iface: "eth1", IP: netip.MustParseAddr("fd00:233::100"), From: 1,
		Burst: garp.Burst{Count: 6, Fast: 3, FastInterval: 150 * time.Millisecond, SlowInterval: 1200 * time.Millisecond},
		Last:  last, DaemonPID: 4242, Refresh: 30 * time.Second}
	out, err := announcer.ParseTail(in.Argv(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Iface != in.Iface || out.IP != in.IP || out.From != in.From || out.Burst != in.Burst || !out.Last.Equal(last) || out.DaemonPID != 4242 || out.Refresh != in.Refresh {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	if got := out.FirstWait(last.Add(30 * time.Millisecond)); got != 120*time.Millisecond {
		t.Errorf("first wait %v, want 120ms", got)
	}
	if got := out.FirstWait(last.Add(-time.Hour)); got != 150*time.Millisecond {
		t.Errorf("first wait after a backwards step %v, want one gap", got)
	}
	for _, bad := range [][]string{
		{"--ip", "fd00::1"},
		{"--iface", "eth1", "--ip", "10.1.2.3", "--from", "1"},
		{"--iface", "eth1", "--ip", "fe80::1%eth1", "--from", "1"},
		{"--iface", "eth1", "--ip", "fd00::1", "--from", "0"},
		{"--iface", "eth1", "--ip", "fd00::1", "--from", "9"},
		{"--iface", "eth1", "--ip", "fd00::1", "--from", "1", "--refresh-ms", "500"},
		{"--iface", "eth1", "--ip", "fd00::1", "--from", "1", "extra"},
		{"--bogus"},
	} {
		var errs bytes.Buffer
		if rc := TailMain(bad, agent.IO{Stdout: &errs, Stderr: &errs, Getenv: env(nil)}); rc != agent.BadArgs {
			t.Errorf("%q: rc %d, want %d (%s)", bad, rc, agent.BadArgs, errs.String())
		}
	}
}

// The detached sender is this binary again, through the resource
// dispatcher (`heartbeatd resource IPv6addr-na-tail ...`).
func TestRealTailCommand(t *testing.T) {
	argv := addr.Tail{Iface: "eth1", IP: netip.MustParseAddr("fd00::1"), From: 1, Burst: garp.DefaultBurst()}.Argv()
	real := *announcer
	real.Command = nil // the netns tests set it
	cmd, err := real.TailCommand(argv)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if diff := cmp.Diff(append([]string{exe, "resource", TailAgent}, argv...), cmd.Args); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
}

// The probe is a Neighbor Solicitation from :: to the target's
// solicited-node group (RFC 4862 §5.4.2), on the group's Ethernet
// address, with a checksum a receiver accepts.
func TestProbeFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0xaa, 0x01}
	ip := netip.MustParseAddr("fd00:233::1:2:3")
	f, err := probeFrame(mac, ip)
	if err != nil {
		t.Fatal(err)
	}
	if got := net.HardwareAddr(f[0:6]).String(); got != "33:33:ff:02:00:03" {
		t.Errorf("Ethernet destination %s", got)
	}
	if net.HardwareAddr(f[6:12]).String() != mac.String() || f[12] != 0x86 || f[13] != 0xdd {
		t.Errorf("Ethernet header % x", f[:14])
	}
	h := f[ethHdrLen:]
	src, _ := netip.AddrFromSlice(h[8:24])
	dst, _ := netip.AddrFromSlice(h[24:40])
	if h[0] != 0x60 || h[6] != protoICMPv6 || h[7] != 255 || !src.IsUnspecified() || dst != netip.MustParseAddr("ff02::1:ff02:3") {
		t.Errorf("IPv6 header: % x", h[:40])
	}
	if n := int(h[4])<<8 | int(h[5]); n != len(h)-ip6HdrLen || n != 24 {
		t.Errorf("payload length %d, frame carries %d", n, len(h)-ip6HdrLen)
	}
	m, err := ndp.ParseMessage(h[ip6HdrLen:])
	ns, ok := m.(*ndp.NeighborSolicitation)
	if err != nil || !ok || ns.TargetAddress != ip || len(ns.Options) != 0 {
		t.Fatalf("message %+v %v", m, err)
	}
	// The checksum: the ones' complement sum over the pseudo-header and
	// the message comes out as 0xffff.
	if s := icmpSum(src, dst, h[ip6HdrLen:]); s != 0xffff {
		t.Errorf("checksum does not verify: sum %#x", s)
	}
	// A probe is not an answer.
	if _, ok := holderOf(f, ip); ok {
		t.Error("probe read as a holder's advertisement")
	}
}

func icmpSum(src, dst netip.Addr, msg []byte) uint16 {
	var b []byte
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	b = append(b, 0, 0, byte(len(msg)>>8), byte(len(msg)), 0, 0, 0, protoICMPv6)
	b = append(b, msg...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	var s uint32
	for i := 0; i < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// What a Linux holder answers to the probe: an advertisement to all nodes
// naming its MAC in the target link-layer address option.
func TestHolderOf(t *testing.T) {
	ip := netip.MustParseAddr("fd00:233::100")
	holder := net.HardwareAddr{0x02, 0, 0, 0, 0xbb, 0x02}
	frame := func(na *ndp.NeighborAdvertisement, ethSrc net.HardwareAddr) []byte {
		t.Helper()
		src := netip.MustParseAddr("fe80::2")
		msg, err := ndp.MarshalMessageChecksum(na, src, allNodes)
		if err != nil {
			t.Fatal(err)
		}
		f := make([]byte, ethHdrLen+ip6HdrLen)
		copy(f[0:6], []byte{0x33, 0x33, 0, 0, 0, 1})
		copy(f[6:12], ethSrc)
		f[12], f[13] = 0x86, 0xdd
		h := f[ethHdrLen:]
		h[0], h[4], h[5], h[6], h[7] = 0x60, byte(len(msg)>>8), byte(len(msg)), protoICMPv6, 255
		copy(h[8:24], src.AsSlice())
		copy(h[24:40], allNodes.AsSlice())
		return append(f, msg...)
	}
	withLLA := &ndp.NeighborAdvertisement{Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: holder}}}
	if mac, ok := holderOf(frame(withLLA, net.HardwareAddr{2, 0, 0, 0, 0, 9}), ip); !ok || mac.String() != holder.String() {
		t.Errorf("with option: %v %v", mac, ok)
	}
	bare := &ndp.NeighborAdvertisement{TargetAddress: ip}
	if mac, ok := holderOf(frame(bare, holder), ip); !ok || mac.String() != holder.String() {
		t.Errorf("without option: %v %v", mac, ok)
	}
	other := &ndp.NeighborAdvertisement{TargetAddress: netip.MustParseAddr("fd00:233::101")}
	if _, ok := holderOf(frame(other, holder), ip); ok {
		t.Error("advertisement for another address counted")
	}
	f := frame(withLLA, holder)
	f[ethHdrLen+7] = 64 // forwarded by a router: not from the link
	if _, ok := holderOf(f, ip); ok {
		t.Error("advertisement with hop limit 64 counted")
	}
	for n := 0; n < len(f); n++ {
		holderOf(f[:n], ip) // truncated frames must not panic
	}
}
