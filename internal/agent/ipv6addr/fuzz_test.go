package ipv6addr

import (
	"fmt"
	"strings"
	"testing"

	"heartbeatd/haresources"
)

// FuzzParseArgs drives IPv6addr's command line (address arguments and
// operation) from haresources tokens, including the pieces ResourceManager
// makes of an address written with "::". Whatever parses must come out the
// same after being written back as an argument (in the form without "::"
// that haresources can carry), must be a unicast IPv6 address with a sane
// prefix, and must be placeable without a panic; whatever fails must name
// what is wrong: the operation, the count, or the address argument.
//
// About 15 s on two cores.
// fuzz-execs: 200000
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"2001:db8:0:0:0:0:0:5", "2001:db8:0:0:0:0:0:5/64", "2001:db8:0:0:0:0:0:5/64/eth0",
		"fd00:233:0:0:0:0:0:100//eth1", "fd00:233::100/0", "fe80::1/64/eth1", "fe80::1", "10.0.0.5",
		"::ffff:10.0.0.5", "2001:db8::5%eth0", "2001:db8::5/eth0", "2001:db8::5/64/eth0/x", "ff02::1", "::",
	} {
		f.Add(s, "start", uint8(1))
	}
	f.Add("2001:db8:0:0:0:0:0:5", "status", uint8(1))
	f.Add("2001:db8", "start", uint8(2)) // "2001:db8::2001:db8": an address again
	f.Add("fd00::1", "monitor", uint8(1))
	f.Add("fd00::1", "restart", uint8(1))
	f.Add("fd00::1", "stop", uint8(0))
	f.Fuzz(func(t *testing.T, addr, op string, n uint8) {
		var args []string
		for range n % 4 {
			args = append(args, addr)
		}
		args = append(args, op)
		spec, gotOp, err := parseArgs(args)
		validOp := op == "start" || op == "stop" || op == "status" || op == "monitor"
		if err != nil {
			msg := err.Error()
			var want []string
			switch {
			case !validOp:
				want = []string{fmt.Sprintf("%q", op)}
			case len(args) != 2:
				want = []string{fmt.Sprintf("got %d", len(args)-1), `contains "::"`}
			default:
				want = []string{"IPv6addr argument " + fmt.Sprintf("%q", addr)}
				if len(addr) > 60 {
					want = []string{"IPv6addr argument " + fmt.Sprintf("%q", addr[:60])}
				}
			}
			for _, w := range want {
				if strings.Contains(msg, w) {
					return
				}
			}
			t.Fatalf("%q: error %q names none of %q", args, msg, want)
		}
		if !validOp || gotOp != op || len(args) != 2 {
			t.Fatalf("%q accepted as operation %q", args, gotOp)
		}
		a := spec.Addr
		if !a.Is6() || a.Is4In6() || a.Zone() != "" || a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() ||
			spec.Bits < -1 || spec.Bits == 0 || spec.Bits > 128 || strings.ContainsAny(spec.Iface, ":/ ") ||
			(a.IsLinkLocalUnicast() && spec.Iface == "") {
			t.Fatalf("%q accepted as %+v", addr, spec)
		}
		w := spec.String()
		if strings.Contains(w, "::") {
			t.Fatalf("%q written back as %q, which haresources would split", addr, w)
		}
		again, err := haresources.ParseIPv6Spec(w)
		if err != nil || again != spec {
			t.Fatalf("%q parsed as %+v, written back as %q parsed as %+v, %v", addr, spec, w, again, err)
		}
		links, addrs := labTables()
		_, _ = place(spec, links, addrs) // must not panic
	})
}
