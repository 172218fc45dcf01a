package ipaddr

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseArgs drives IPaddr's command line (address argument and
// operation) from haresources tokens and the stock wrapper's usage. Whatever
// parses must come out the same after being written back as an argument,
// and whatever fails must name what is wrong: the operation, the count, or
// the address argument.
//
// About 10 s on two cores.
// fuzz-execs: 200000
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"10.201.0.100", "10.201.0.100/24/eth1", "10.0.0.5/255.255.255.0/eth0/10.0.0.255",
		"10.0.0.5/24/10.0.0.127", "10.0.0.5/24/eth0:1", "10.11.55.50/8/eth0",
		"192.168.85.3/24/eth0/192.168.85.255", "fd00::1", "10.0.0.5//eth0", "10.0.0.5/eth0",
	} {
		f.Add(s, "start", uint8(1))
	}
	f.Add("10.0.0.5", "status", uint8(1))
	f.Add("10.0.0.5", "monitor", uint8(2))
	f.Add("10.0.0.5", "restart", uint8(1))
	f.Add("10.0.0.5", "stop", uint8(0))
	f.Fuzz(func(t *testing.T, addr, op string, n uint8) {
		var args []string
		for range n % 4 {
			args = append(args, addr)
		}
		args = append(args, op)
		tg, gotOp, err := parseArgs(args)
		validOp := op == "start" || op == "stop" || op == "status" || op == "monitor"
		if err != nil {
			msg := err.Error()
			var want string
			switch {
			case !validOp:
				want = strconv.Quote(op)
			case len(args) != 2:
				want = fmt.Sprintf("got %d", len(args)-1)
			default:
				want = "IPaddr " + addr + ": "
			}
			if !strings.Contains(msg, want) {
				t.Fatalf("%q: error %q does not name %s", args, msg, want)
			}
			return
		}
		if !validOp || gotOp != op || len(args) != 2 {
			t.Fatalf("%q accepted as operation %q", args, gotOp)
		}
		again, err := parseTarget(render(tg))
		if err != nil {
			t.Fatalf("%q parsed, but written back as %q: %v", addr, render(tg), err)
		}
		again.Raw = tg.Raw
		if again != tg {
			t.Fatalf("%q parsed as %+v, written back as %q parsed as %+v", addr, tg, render(tg), again)
		}
	})
}

// render writes a target back as an IPaddr argument.
func render(t target) string {
	s := t.IP.String()
	if t.Bits >= 0 {
		s += "/" + strconv.Itoa(t.Bits)
	}
	if t.Iface != "" {
		s += "/" + t.Iface
		if t.Alias != "" {
			s += ":" + t.Alias
		}
	}
	if t.Broadcast.IsValid() {
		s += "/" + t.Broadcast.String()
	}
	return s
}
