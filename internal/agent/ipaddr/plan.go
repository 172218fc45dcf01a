package ipaddr

import (
	"fmt"
	"net/netip"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent/addr"
)

// target is the resource argument, "IP[/prefix[/iface[/broadcast]]]".
type target struct {
	Raw       string
	IP        netip.Addr
	Bits      int    // -1: take it from the interface's subnet
	Iface     string // base interface ("" = find it); an ":N" alias is dropped
	Alias     string // the dropped alias, for a message
	Broadcast netip.Addr
}

// parseTarget reads the IPaddr argument the way Heartbeat's wrapper does.
func parseTarget(s string) (target, error) {
	t := target{Raw: s}
	first, _, _ := strings.Cut(s, "/")
	if a, err := netip.ParseAddr(first); err == nil && a.Is6() && !a.Is4In6() {
		return t, fmt.Errorf("%s is an IPv6 address: IPv6 is not supported by IPaddr (as in Heartbeat); use the IPv6addr resource", first)
	}
	// Heartbeat's wrapper reads a third field that starts with a digit as
	// the broadcast address with no interface ("10.0.0.5/24/10.0.0.255");
	// ParseIPSpec would take it for an interface name.
	fields := strings.Split(s, "/")
	if len(fields) == 3 && fields[2] != "" && fields[2][0] >= '0' && fields[2][0] <= '9' {
		spec, err := haresources.ParseIPSpec(fields[0] + "/" + fields[1])
		if err != nil {
			return t, err
		}
		bc, err := netip.ParseAddr(fields[2])
		if err != nil || !bc.Is4() {
			return t, fmt.Errorf("third field %q starts with a digit, so it is read as the broadcast address (as Heartbeat does), but it is not an IPv4 address", fields[2])
		}
		t.IP, t.Bits, t.Broadcast = spec.Addr, spec.Bits, bc
		return t, nil
	}
	spec, err := haresources.ParseIPSpec(s)
	if err != nil {
		return t, err
	}
	t.IP, t.Bits, t.Broadcast = spec.Addr, spec.Bits, spec.Broadcast
	// Heartbeat's IPaddr strips an alias ("eth0:1" → "eth0") and picks the
	// first free alias itself.
	t.Iface, t.Alias, _ = strings.Cut(spec.Iface, ":")
	return t, nil
}

// place decides the interface, prefix, broadcast and label for t, like
// Heartbeat's findif: without an interface, the one whose own (primary)
// IPv4 subnet contains the address, most specific subnet first; without a
// prefix, that subnet's.
func place(t target, links []addr.Link, addrs []addr.IfAddr) (addr.Placement, error) {
	var p addr.Placement
	byName := map[string]addr.Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	match := func(iface string) (addr.IfAddr, error) {
		return addr.BestSubnet(t.IP, t.IP.String(), iface, links, addrs)
	}

	bits := t.Bits
	if t.Iface != "" {
		l, ok := byName[t.Iface]
		if !ok {
			return p, fmt.Errorf("interface %s not found (from %q)", t.Iface, t.Raw)
		}
		p.Iface, p.Index = l.Name, l.Index
		if bits < 0 {
			a, err := match(t.Iface)
			if err == addr.ErrNoSubnet {
				return p, fmt.Errorf("cannot work out the prefix length of %s: no address of %s is in a subnet containing it; write %s/PREFIX/%s", t.IP, t.Iface, t.IP, t.Iface)
			}
			if err != nil {
				return p, err
			}
			bits = a.Prefix.Bits()
		}
	} else {
		a, err := match("")
		if err == addr.ErrNoSubnet {
			return p, fmt.Errorf("no interface has an IPv4 subnet containing %s; name it: %s/PREFIX/IFACE", t.IP, t.IP)
		}
		if err != nil {
			return p, err
		}
		p.Iface, p.Index = a.Iface, a.Index
		if bits < 0 {
			bits = a.Prefix.Bits()
		}
	}
	p.Prefix = netip.PrefixFrom(t.IP, bits)
	p.Broadcast = t.Broadcast
	if !p.Broadcast.IsValid() {
		p.Broadcast = broadcastOf(p.Prefix)
	}
	p.Label = freeLabel(p.Iface, addrs)
	return p, nil
}

// broadcastOf is the all-ones host address of p, as `ip addr add … brd +`
// computes it; /31 and /32 have none.
func broadcastOf(p netip.Prefix) netip.Addr {
	if p.Bits() > 30 {
		return netip.Addr{}
	}
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// maxLabel is IFNAMSIZ-1: the kernel refuses longer IFA_LABELs.
const maxLabel = 15

// freeLabel returns Heartbeat's alias label iface:N with the smallest free
// N, so `ifconfig` and scripts that grep for eth0:0 keep working. If even
// iface:0 is too long for the kernel, it returns "" (no label).
func freeLabel(iface string, addrs []addr.IfAddr) string {
	used := map[string]bool{}
	for _, a := range addrs {
		used[a.Label] = true
	}
	for n := 0; n < 512; n++ { // Heartbeat's own limit of aliases
		l := fmt.Sprintf("%s:%d", iface, n)
		if len(l) > maxLabel {
			return ""
		}
		if !used[l] {
			return l
		}
	}
	return ""
}
