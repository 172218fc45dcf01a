package ipv6addr

import (
	"errors"
	"fmt"
	"net/netip"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent/addr"
)

// parseArgs reads the agent's command line: the address argument and the
// operation. An error is the whole message for the admin.
func parseArgs(args []string) (haresources.IPv6Spec, string, error) { return entry.Split(args) }

// parseSpecArgs reads the address argument (which ResourceManager may have
// split at "::").
func parseSpecArgs(rargs []string) (haresources.IPv6Spec, error) {
	if len(rargs) == 0 {
		return haresources.IPv6Spec{}, errors.New("want exactly one address argument, got 0")
	}
	return haresources.ParseIPv6addrArgs(rargs)
}

// place decides the interface and prefix length for t, as Heartbeat's
// IPv6addr does (scan_if): without an interface, the one that has an
// address whose prefix contains t.Addr, the most specific prefix winning;
// without a prefix length, that prefix's. Every interface has fe80::/64,
// so a link-local service address needs its interface named (the parser
// insists), and the loopback interface never takes a service address.
func place(t haresources.IPv6Spec, links []addr.Link, addrs []addr.IfAddr) (addr.Placement, error) {
	var p addr.Placement
	byName := map[string]addr.Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	match := func(iface string) (addr.IfAddr, error) {
		return addr.BestSubnet(t.Addr, haresources.NoDoubleColon(t.Addr), iface, links, addrs)
	}

	bits := t.Bits
	if t.Iface != "" {
		l, ok := byName[t.Iface]
		if !ok {
			return p, fmt.Errorf("interface %s not found", t.Iface)
		}
		if l.Loop {
			return p, fmt.Errorf("interface %s is the loopback interface: neighbours cannot reach an address there", t.Iface)
		}
		p.Iface, p.Index = l.Name, l.Index
		if bits < 0 {
			a, err := match(t.Iface)
			if errors.Is(err, addr.ErrNoSubnet) {
				return p, fmt.Errorf("cannot work out the prefix length of %s: no address of %s is in a prefix containing it; write %s/PREFIX/%s",
					t.Addr, t.Iface, haresources.NoDoubleColon(t.Addr), t.Iface)
			}
			if err != nil {
				return p, err
			}
			bits = a.Prefix.Bits()
		}
	} else {
		a, err := match("")
		if errors.Is(err, addr.ErrNoSubnet) {
			return p, fmt.Errorf("no interface has an IPv6 prefix containing %s; name it: %s/PREFIX/IFACE", t.Addr, haresources.NoDoubleColon(t.Addr))
		}
		if err != nil {
			return p, err
		}
		p.Iface, p.Index = a.Iface, a.Index
		if bits < 0 {
			bits = a.Prefix.Bits()
		}
	}
	p.Prefix = netip.PrefixFrom(t.Addr, bits)
	return p, nil
}
