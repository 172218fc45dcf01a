// Package addr is what the IPaddr and IPv6addr agents share: the kernel's
// address table over rtnetlink, where an address goes (findif's rule, for
// either family), and the background announcer that sends the rest of a
// takeover's announcement and the periodic refresh (tail.go,
// announcer.go). What differs between the families, the frames (ARP for
// IPv4, neighbour discovery for IPv6) and the argument syntax, stays in
// each agent.
package addr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// Family is an address family, as rtnetlink numbers it.
type Family uint8

const (
	IPv4 Family = unix.AF_INET
	IPv6 Family = unix.AF_INET6
)

// FamilyOf is the family of ip.
func FamilyOf(ip netip.Addr) Family {
	if ip.Is4() {
		return IPv4
	}
	return IPv6
}

func (f Family) String() string {
	if f == IPv4 {
		return "IPv4"
	}
	return "IPv6"
}

// Valid reports whether ip is a service address of family f: IPv4 proper,
// or IPv6 with neither an IPv4-mapped form nor a zone.
func (f Family) Valid(ip netip.Addr) bool {
	if f == IPv4 {
		return ip.Is4()
	}
	return ip.Is6() && !ip.Is4In6() && ip.Zone() == ""
}

// Link is one network interface as the kernel reports it.
type Link struct {
	Index int
	Name  string
	Up    bool // administratively up (IFF_UP)
	// Running is IFF_RUNNING: operationally up (RFC 2863 operstate up or
	// unknown), so carrier present. Read over netlink, like the rest, so
	// it is the namespace's own view (sysfs may be another namespace's).
	Running bool
	Loop    bool
	MAC     net.HardwareAddr
}

// IfAddr is one address of an interface.
type IfAddr struct {
	Index     int
	Iface     string
	Prefix    netip.Prefix // the address with its prefix length
	Broadcast netip.Addr   // IPv4 only
	Label     string       // IPv4 only
	// Secondary (IPv4) addresses are aliases inside a subnet another
	// address of the interface already covers; findif ignores them, so a
	// VIP we added earlier never decides where the next VIP goes.
	Secondary bool
	// Flags (IPv6) are the IFA_F_* flags (tentative, dadfailed, nodad, ...).
	Flags uint32
}

// Placement is where and how an address goes.
type Placement struct {
	Iface     string
	Index     int
	Prefix    netip.Prefix
	Broadcast netip.Addr // IPv4; invalid: none (/31, /32, IPv6)
	Label     string     // IPv4; "" when iface:N would not fit IFNAMSIZ
}

// Kernel is the address table of the network namespace we run in.
type Kernel struct {
	conn *rtnetlink.Conn
}

// Dial opens rtnetlink in the calling thread's network namespace.
func Dial() (*Kernel, error) {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	return &Kernel{conn: c}, nil
}

func (k *Kernel) Close() error { return k.conn.Close() }

// Links lists the interfaces. net.Interfaces reads them over netlink on the
// calling thread, so it sees the same namespace as k.
func (k *Kernel) Links() ([]Link, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make([]Link, 0, len(ifs))
	for _, i := range ifs {
		out = append(out, Link{Index: i.Index, Name: i.Name, MAC: i.HardwareAddr,
			Up: i.Flags&net.FlagUp != 0, Running: i.Flags&net.FlagRunning != 0, Loop: i.Flags&net.FlagLoopback != 0})
	}
	return out, nil
}

// Addrs lists every address of family f, with names from links.
func (k *Kernel) Addrs(f Family, links []Link) ([]IfAddr, error) {
	msgs, err := k.conn.Address.List()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	var out []IfAddr
	for _, m := range msgs {
		if m.Family != uint8(f) || m.Attributes == nil {
			continue
		}
		if f == IPv6 {
			if m.PrefixLength > 128 {
				continue
			}
			a, ok := netip.AddrFromSlice(m.Attributes.Address.To16())
			if !ok || a.Is4In6() {
				continue
			}
			out = append(out, IfAddr{Index: int(m.Index), Iface: names[int(m.Index)],
				Prefix: netip.PrefixFrom(a, int(m.PrefixLength)),
				Flags:  uint32(m.Flags) | m.Attributes.Flags})
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
		e := IfAddr{Index: int(m.Index), Iface: names[int(m.Index)],
			Prefix: netip.PrefixFrom(a, int(m.PrefixLength)), Label: m.Attributes.Label,
			Secondary: m.Flags&unix.IFA_F_SECONDARY != 0 || m.Attributes.Flags&unix.IFA_F_SECONDARY != 0}
		if b, ok := netip.AddrFromSlice(m.Attributes.Broadcast.To4()); ok {
			e.Broadcast = b
		}
		out = append(out, e)
	}
	return out, nil
}

// Add configures p. An IPv6 address goes in with IFA_F_NODAD: the kernel's
// own duplicate address detection would hold the address tentative,
// useless, for a second or more, and a takeover cannot wait for it; the
// agent probes before adding instead, as IPaddr does with ARP.
func (k *Kernel) Add(p Placement) error {
	ip := net.IP(p.Prefix.Addr().AsSlice())
	var err error
	if FamilyOf(p.Prefix.Addr()) == IPv6 {
		err = k.conn.Address.New(&rtnetlink.AddressMessage{
			Family: unix.AF_INET6, PrefixLength: uint8(p.Prefix.Bits()), Flags: unix.IFA_F_NODAD,
			Index: uint32(p.Index), Attributes: &rtnetlink.AddressAttributes{Address: ip, Flags: unix.IFA_F_NODAD},
		})
		if errors.Is(err, unix.EACCES) {
			return fmt.Errorf("add %s to %s: %w (is IPv6 off on %s? net.ipv6.conf.%s.disable_ipv6)", p.Prefix, p.Iface, err, p.Iface, p.Iface)
		}
	} else {
		attrs := &rtnetlink.AddressAttributes{Address: ip, Local: ip, Label: p.Label}
		if p.Broadcast.IsValid() {
			attrs.Broadcast = net.IP(p.Broadcast.AsSlice())
		}
		err = k.conn.Address.New(&rtnetlink.AddressMessage{
			Family: unix.AF_INET, PrefixLength: uint8(p.Prefix.Bits()), Scope: unix.RT_SCOPE_UNIVERSE,
			Index: uint32(p.Index), Attributes: attrs,
		})
	}
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", p.Prefix, p.Iface, err)
	}
	return nil
}

// Del removes a; the kernel finds it by address and prefix length. An
// address already gone is no error (nor, for IPv6, a vanished interface).
func (k *Kernel) Del(a IfAddr) error {
	ip := net.IP(a.Prefix.Addr().AsSlice())
	f := FamilyOf(a.Prefix.Addr())
	attrs := &rtnetlink.AddressAttributes{Address: ip}
	if f == IPv4 {
		attrs.Local = ip
	}
	err := k.conn.Address.Delete(&rtnetlink.AddressMessage{
		Family: uint8(f), PrefixLength: uint8(a.Prefix.Bits()), Index: uint32(a.Index), Attributes: attrs,
	})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && (f == IPv4 || !errors.Is(err, unix.ENODEV)) {
		return fmt.Errorf("remove %s from %s: %w", a.Prefix, a.Iface, err)
	}
	return nil
}

// Holds reports whether ip is configured on the interface with index idx
// (any index when idx is 0).
func (k *Kernel) Holds(ip netip.Addr, idx int) (bool, error) {
	as, err := k.Addrs(FamilyOf(ip), nil)
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

// Holders lists the addresses equal to ip, on whichever interface.
func Holders(ip netip.Addr, addrs []IfAddr) []IfAddr {
	var out []IfAddr
	for _, a := range addrs {
		if a.Prefix.Addr() == ip {
			out = append(out, a)
		}
	}
	return out
}

// Open dials the kernel and reads its interfaces and its addresses of
// family f: what every operation of an address agent starts from.
func Open(f Family) (*Kernel, []Link, []IfAddr, error) {
	k, err := Dial()
	if err != nil {
		return nil, nil, nil, err
	}
	links, err := k.Links()
	if err != nil {
		k.Close()
		return nil, nil, nil, err
	}
	addrs, err := k.Addrs(f, links)
	if err != nil {
		k.Close()
		return nil, nil, nil, err
	}
	return k, links, addrs, nil
}
