package haresources

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseIPv6Spec(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		in   string
		want IPv6Spec
	}{
		{"2001:db8:0:0:0:0:0:5", IPv6Spec{Addr: a("2001:db8::5"), Bits: -1}},
		{"2001:db8:0:0:0:0:0:5/64", IPv6Spec{Addr: a("2001:db8::5"), Bits: 64}},
		{"2001:db8:0:0:0:0:0:5/64/eth0", IPv6Spec{Addr: a("2001:db8::5"), Bits: 64, Iface: "eth0"}},
		{"fd00:233::100/128/eth1", IPv6Spec{Addr: a("fd00:233::100"), Bits: 128, Iface: "eth1"}},
		// The wrapper reads ADDR//IF as "no prefix", and the OCF agent
		// reads a prefix of 0 as "no prefix".
		{"2001:db8:0:0:0:0:0:5//eth0", IPv6Spec{Addr: a("2001:db8::5"), Bits: -1, Iface: "eth0"}},
		{"2001:db8:0:0:0:0:0:5/0", IPv6Spec{Addr: a("2001:db8::5"), Bits: -1}},
		{"fe80:0:0:0:0:0:0:77/64/eth1", IPv6Spec{Addr: a("fe80::77"), Bits: 64, Iface: "eth1"}},
	} {
		got, err := ParseIPv6Spec(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty address"},
		{"10.0.0.5", "is an IPv4 address: use the IPaddr resource"},
		{"::ffff:10.0.0.5", "IPv4-mapped address: use the IPaddr resource for 10.0.0.5"},
		{"2001:db8::5%eth0", "a zone (%IFACE) is not allowed"},
		{"2001:db8::zz", "not a valid IPv6 address"},
		{"::", "cannot be a service address"},
		{"::1", "cannot be a service address"},
		{"ff02::1", "multicast"},
		{"fe80::77/64", "is link-local: name the interface"},
		{"2001:db8::5/129", "prefix length 129 out of range 0..128"},
		{"2001:db8::5/1000", `prefix length "1000" is not a number`},
		{"2001:db8::5/6a", `prefix length "6a" is not a number`},
		{"2001:db8::5/eth0", `second field "eth0" must be the prefix length; write 2001:db8::5//eth0`},
		{"2001:db8::5/", "empty prefix length"},
		{"2001:db8::5/64/", "not a valid interface name"},
		{"2001:db8::5/64/eth0:1", "no alias labels"},
		{"2001:db8::5/64/averyveryverylongname", "longer than 15"},
		{"2001:db8::5/64/eth0/x", "4 fields"},
	} {
		if _, err := ParseIPv6Spec(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// Heartbeat cuts a resource at every "::", so an address written with
// "::" reaches IPv6addr in pieces; the error gives the form that works.
func TestParseIPv6addrArgsDoubleColon(t *testing.T) {
	_, err := ParseIPv6addrArgs([]string{"2001:db8", "5/64/eth0"})
	want := `IPv6addr argument "2001:db8::5/64/eth0" contains "::", where Heartbeat splits resource arguments, so the script gets 2 arguments; ` +
		`write the address without "::": IPv6addr::2001:db8:0:0:0:0:0:5/64/eth0`
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
	if _, err := ParseIPv6addrArgs(nil); err == nil || !strings.Contains(err.Error(), "got 0") {
		t.Errorf("no argument: %v", err)
	}
	if _, err := ParseIPv6addrArgs([]string{"x", "y"}); err == nil || !strings.Contains(err.Error(), "takes one argument") {
		t.Errorf("two arguments that are no address: %v", err)
	}
	if _, err := ParseIPv6addrArgs([]string{"x"}); err == nil || !strings.HasPrefix(err.Error(), `IPv6addr argument "x": `) {
		t.Errorf("bad address: %v", err)
	}
	spec, err := ParseIPv6addrArgs([]string{"2001:db8:0:0:0:0:0:5/64/eth0"})
	if err != nil || spec.String() != "2001:db8:0:0:0:0:0:5/64/eth0" {
		t.Errorf("one argument: %+v %v", spec, err)
	}
}

func TestNoDoubleColon(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8::5": "2001:db8:0:0:0:0:0:5", "::5:0:0:1": "0:0:0:0:5:0:0:1", "fe80::": "fe80:0:0:0:0:0:0:0",
		"10.0.0.1": "10.0.0.1",
	} {
		if got := NoDoubleColon(netip.MustParseAddr(in)); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// haresources checks IPv6addr's argument as IPv6addr reads it, and one
// address in two groups is a conflict however it is written.
func TestParseIPv6addrResources(t *testing.T) {
	f, l := parseString(t, "node1 IPv6addr::2001:db8:0:0:0:0:0:5/64/eth0 httpd\n")
	if len(l) != 0 || len(f.Groups) != 1 || f.Groups[0].Resources[0].Args[0] != "2001:db8:0:0:0:0:0:5/64/eth0" {
		t.Fatalf("valid line: %+v %v", f.Groups, findingStrings(l))
	}
	_, l = parseString(t, "node1 IPv6addr::2001:db8::5/64/eth0\n")
	if len(l) != 1 || !strings.Contains(l[0].String(), "write the address without \"::\": IPv6addr::2001:db8:0:0:0:0:0:5/64/eth0") {
		t.Errorf("address with \"::\": %v", findingStrings(l))
	}
	_, l = parseString(t, "node1 IPv6addr::2001:db8:0:0:0:0:0:5/64/eth0\nnode2 IPv6addr::2001:0db8:0:0:0:0:0:05 smb\n")
	if len(l) != 1 || !strings.Contains(l[0].String(), "uses address \"2001:db8::5\"") {
		t.Errorf("one address in two groups: %v", findingStrings(l))
	}
	a := Group{Resources: []Resource{{Script: "IPv6addr", Args: []string{"2001:db8:0:0:0:0:0:5/64"}}}}
	b := Group{Resources: []Resource{{Script: "IPv6addr", Args: []string{"2001:db8:0:0:0:0:0:5//eth1"}}}}
	if !Shares(a, b) {
		t.Error("two IPv6addr resources with one address do not share")
	}
}
