package ipaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// link is one network interface as the kernel reports it.
type link struct {
	Index int
	Name  string
	Up    bool // administratively up (IFF_UP)
	Loop  bool
}

// ifAddr is one IPv4 address of an interface.
type ifAddr struct {
	Index     int
	Iface     string
	Prefix    netip.Prefix // the address with its prefix length
	Broadcast netip.Addr
	Label     string
	// Secondary addresses are aliases inside a subnet another address of
	// the interface already covers; findif ignores them, so a VIP we added
	// earlier never decides where the next VIP goes.
	Secondary bool
}

// kernel is the address table of the network namespace we run in.
type kernel struct {
	conn *rtnetlink.Conn
}

func dialKernel() (*kernel, error) {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	return &kernel{conn: c}, nil
}

func (k *kernel) Close() error { return k.conn.Close() }

// links lists the interfaces. net.Interfaces reads them over netlink on the
// calling thread, so it sees the same namespace as k.
func (k *kernel) links() ([]link, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make([]link, 0, len(ifs))
	for _, i := range ifs {
		out = append(out, link{Index: i.Index, Name: i.Name,
			Up: i.Flags&net.FlagUp != 0, Loop: i.Flags&net.FlagLoopback != 0})
	}
	return out, nil
}

// addrs lists every IPv4 address, with names from links.
func (k *kernel) addrs(links []link) ([]ifAddr, error) {
	msgs, err := k.conn.Address.List()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	var out []ifAddr
	for _, m := range msgs {
		if m.Family != unix.AF_INET || m.Attributes == nil {
			continue
		}
		// IFA_LOCAL is the address itself; IFA_ADDRESS differs from it
		// only on point-to-point links (where it is the peer).
		ip := m.Attributes.Local
		if ip == nil {
			ip = m.Attributes.Address
		}
		a, ok := netip.AddrFromSlice(ip.To4())
		if !ok || m.PrefixLength > 32 {
			continue
		}
		e := ifAddr{Index: int(m.Index), Iface: names[int(m.Index)],
			Prefix: netip.PrefixFrom(a, int(m.PrefixLength)), Label: m.Attributes.Label,
			Secondary: m.Flags&unix.IFA_F_SECONDARY != 0 || m.Attributes.Flags&unix.IFA_F_SECONDARY != 0}
		if b, ok := netip.AddrFromSlice(m.Attributes.Broadcast.To4()); ok {
			e.Broadcast = b
		}
		out = append(out, e)
	}
	return out, nil
}

// add configures p.
func (k *kernel) add(p placement) error {
	ip := net.IP(p.Prefix.Addr().AsSlice())
	attrs := &rtnetlink.AddressAttributes{Address: ip, Local: ip, Label: p.Label}
	if p.Broadcast.IsValid() {
		attrs.Broadcast = net.IP(p.Broadcast.AsSlice())
	}
	err := k.conn.Address.New(&rtnetlink.AddressMessage{
		Family: unix.AF_INET, PrefixLength: uint8(p.Prefix.Bits()), Scope: unix.RT_SCOPE_UNIVERSE,
		Index: uint32(p.Index), Attributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", p.Prefix, p.Iface, err)
	}
	return nil
}

// del removes a.
func (k *kernel) del(a ifAddr) error {
	ip := net.IP(a.Prefix.Addr().AsSlice())
	err := k.conn.Address.Delete(&rtnetlink.AddressMessage{
		Family: unix.AF_INET, PrefixLength: uint8(a.Prefix.Bits()), Index: uint32(a.Index),
		Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip},
	})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s from %s: %w", a.Prefix, a.Iface, err)
	}
	return nil
}

// holds reports whether ip is configured on the interface with index idx
// (any index when idx is 0).
func (k *kernel) holds(ip netip.Addr, idx int) (bool, error) {
	as, err := k.addrs(nil)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.Prefix.Addr() == ip && (idx == 0 || a.Index == idx) {
			return true, nil
		}
	}
	return false, nil
}
