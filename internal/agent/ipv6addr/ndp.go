package ipv6addr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

// allNodes is ff02::1, where unsolicited advertisements go (RFC 4861
// §7.2.6) and where a holder answers a duplicate address probe (§7.2.4).
var allNodes = netip.MustParseAddr("ff02::1")

// advertiser sends unsolicited neighbour advertisements for one address:
// the IPv6 counterpart of a gratuitous ARP. Override is set, so that a
// neighbour replaces the link-layer address it has for the target;
// Solicited is not (a receiver drops a solicited advertisement sent to a
// multicast address). The source is the address itself, as Linux sends its
// own, and the target link-layer address option carries our MAC.
type advertiser struct {
	c     *ndp.Conn
	msg   *ndp.NeighborAdvertisement
	mac   net.HardwareAddr
	index int // the interface's
}

// openAdvertiser binds an ICMPv6 socket to ip on the interface called
// iface; ip must be configured there.
func openAdvertiser(iface string, ip netip.Addr) (*advertiser, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %s has no Ethernet MAC address (%q); neighbour advertisements need one", iface, ifi.HardwareAddr)
	}
	c, _, err := ndp.Listen(ifi, ndp.Addr(ip.String()))
	if err != nil {
		return nil, fmt.Errorf("interface %s: open ICMPv6 socket on %s: %w", iface, ip, err)
	}
	return &advertiser{c: c, mac: ifi.HardwareAddr, index: ifi.Index, msg: &ndp.NeighborAdvertisement{
		Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}},
	}}, nil
}

func (a *advertiser) Close() error { return a.c.Close() }

// send sends one advertisement to all nodes.
func (a *advertiser) send() error {
	if err := a.c.WriteTo(a.msg, nil, allNodes); err != nil {
		return fmt.Errorf("send neighbour advertisement for %s: %w", a.msg.TargetAddress, err)
	}
	return nil
}

// Duplicate address detection. The address is added with IFA_F_NODAD (a
// takeover cannot wait a second for the kernel's own check), so start
// probes first, as IPaddr does with ARP: a Neighbor Solicitation for the
// address from the unspecified address to its solicited-node group (RFC
// 4862 §5.4.2). A station holding the address answers to all nodes. An
// ICMPv6 socket cannot send from "::" (the kernel picks a source), so the
// probe is a whole frame on a packet socket, which also sees the answer.

const (
	etherTypeIPv6 = 0x86dd
	ethHdrLen     = 14
	ip6HdrLen     = 40
	protoICMPv6   = 58
)

// conflict is another station answering for the address.
type conflict struct {
	MAC net.HardwareAddr
}

func (c *conflict) Error() string { return fmt.Sprintf("in use by %s", c.MAC) }

// prober sends duplicate address probes on one interface and reads the
// answers.
type prober struct {
	ifi *net.Interface
	pc  *packet.Conn
}

func openProber(iface string) (*prober, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", iface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %s has no Ethernet MAC address (%q)", iface, ifi.HardwareAddr)
	}
	pc, err := packet.Listen(ifi, packet.Raw, etherTypeIPv6, nil)
	if err != nil {
		return nil, fmt.Errorf("interface %s: open IPv6 packet socket: %w", iface, err)
	}
	return &prober{ifi: ifi, pc: pc}, nil
}

func (p *prober) Close() error { return p.pc.Close() }

// probeFrame builds the duplicate address probe for ip sent from mac.
func probeFrame(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	snm, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, err
	}
	icmp, err := ndp.MarshalMessageChecksum(&ndp.NeighborSolicitation{TargetAddress: ip}, netip.IPv6Unspecified(), snm)
	if err != nil {
		return nil, err
	}
	f := make([]byte, ethHdrLen+ip6HdrLen, ethHdrLen+ip6HdrLen+len(icmp))
	g := snm.As16()
	copy(f[0:6], []byte{0x33, 0x33, g[12], g[13], g[14], g[15]}) // RFC 2464 §7
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:14], etherTypeIPv6)
	h := f[ethHdrLen:]
	h[0] = 0x60 // version 6, traffic class and flow label 0
	binary.BigEndian.PutUint16(h[4:6], uint16(len(icmp)))
	h[6] = protoICMPv6
	h[7] = ndp.HopLimit
	// Source: the unspecified address (already zero).
	copy(h[24:40], snm.AsSlice())
	return append(f, icmp...), nil
}

// holderOf returns who a frame says holds ip: the sender of a Neighbor
// Advertisement for ip (its target link-layer address, or the Ethernet
// source when the option is missing). ok is false for any other frame.
func holderOf(frame []byte, ip netip.Addr) (mac net.HardwareAddr, ok bool) {
	if len(frame) < ethHdrLen+ip6HdrLen || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv6 {
		return nil, false
	}
	h := frame[ethHdrLen:]
	if h[0]>>4 != 6 || h[6] != protoICMPv6 || h[7] != ndp.HopLimit {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	if n > len(h)-ip6HdrLen {
		return nil, false
	}
	m, err := ndp.ParseMessage(h[ip6HdrLen : ip6HdrLen+n])
	if err != nil {
		return nil, false
	}
	na, isNA := m.(*ndp.NeighborAdvertisement)
	if !isNA || na.TargetAddress != ip {
		return nil, false
	}
	for _, o := range na.Options {
		if lla, isLLA := o.(*ndp.LinkLayerAddress); isLLA && lla.Direction == ndp.Target && len(lla.Addr) == 6 {
			return lla.Addr, true
		}
	}
	return net.HardwareAddr(append([]byte(nil), frame[6:12]...)), true
}

// sendProbe sends one duplicate address probe for ip.
func (p *prober) sendProbe(ip netip.Addr) error {
	f, err := probeFrame(p.ifi.HardwareAddr, ip)
	if err != nil {
		return err
	}
	if _, err := p.pc.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}); err != nil {
		return fmt.Errorf("send duplicate address probe on %s: %w", p.ifi.Name, err)
	}
	return nil
}

// awaitHolder reads frames until deadline and returns the first station
// other than us that advertises ip, or nil when none did in time.
func (p *prober) awaitHolder(ip netip.Addr, deadline time.Time) (*conflict, error) {
	if err := p.pc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	own := p.ifi.HardwareAddr.String()
	buf := make([]byte, 1514)
	for {
		n, _, err := p.pc.ReadFrom(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("duplicate address probe on %s: read: %w", p.ifi.Name, err)
		}
		if mac, ok := holderOf(buf[:n], ip); ok && mac.String() != own {
			return &conflict{MAC: mac}, nil
		}
	}
}

// detect probes for another holder of ip: probes at the start and halfway
// through wait, so that one lost frame does not hide a holder.
func (p *prober) detect(ip netip.Addr, wait time.Duration) (*conflict, error) {
	start := time.Now()
	if err := p.sendProbe(ip); err != nil {
		return nil, err
	}
	if c, err := p.awaitHolder(ip, start.Add(wait/2)); c != nil || err != nil {
		return c, err
	}
	if err := p.sendProbe(ip); err != nil {
		return nil, err
	}
	return p.awaitHolder(ip, start.Add(wait))
}
