package addr

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrNoSubnet: no address's subnet (IPv6: prefix) contains the address.
var ErrNoSubnet = errors.New("no subnet contains the address")

// BestSubnet is Heartbeat's findif rule, which its IPaddr and IPv6addr
// (scan_if) both follow: the address of interface iface ("" = any but the
// loopback interface) whose subnet contains ip, the most specific one
// winning, secondary addresses and ip itself left out. Two interfaces
// tied is an error that tells the admin to name one; spell is ip as the
// resource argument must write it.
func BestSubnet(ip netip.Addr, spell, iface string, links []Link, addrs []IfAddr) (IfAddr, error) {
	loop := map[string]bool{}
	for _, l := range links {
		loop[l.Name] = l.Loop
	}
	var best []IfAddr
	for _, a := range addrs {
		if a.Secondary || a.Prefix.Addr() == ip || !a.Prefix.Masked().Contains(ip) {
			continue
		}
		if iface != "" && a.Iface != iface {
			continue
		}
		if iface == "" && loop[a.Iface] {
			continue
		}
		switch {
		case len(best) == 0 || a.Prefix.Bits() > best[0].Prefix.Bits():
			best = []IfAddr{a}
		case a.Prefix.Bits() == best[0].Prefix.Bits() && a.Iface != best[0].Iface:
			best = append(best, a)
		}
	}
	switch {
	case len(best) == 0:
		return IfAddr{}, ErrNoSubnet
	case len(best) > 1:
		return IfAddr{}, fmt.Errorf("%s is inside %s on %s and %s on %s; name the interface: %s/%d/%s",
			ip, best[0].Prefix.Masked(), best[0].Iface, best[1].Prefix.Masked(), best[1].Iface,
			spell, best[0].Prefix.Bits(), best[0].Iface)
	}
	return best[0], nil
}
