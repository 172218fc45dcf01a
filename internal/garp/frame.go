// Package garp announces a service address on an Ethernet segment with
// gratuitous ARP, so that switches and neighbours move the address to the
// MAC of the node that has just taken it over (FIELD-NOTES rows 2, 3, 15).
//
// Frames are built by hand (Ethernet II + RFC 826 ARP for IPv4 over
// Ethernet) and sent on an AF_PACKET socket. Two forms exist and receivers
// differ in which one they honour, so by default every slot of a burst sends
// both, like kube-vip's alternation and `arping -U` followed by `arping -A`:
//
//   - request (op 1): sender IP = target IP = the address, target MAC
//     00:00:00:00:00:00. This is what Linux itself sends for arp_notify and
//     what RFC 5227 §2.3 calls an ARP Announcement. (`arping -U` puts
//     ff:ff:ff:ff:ff:ff in the target MAC; receivers ignore the field in a
//     request, so either is fine.)
//   - reply (op 2): sender IP = target IP = the address, target MAC = sender
//     MAC, exactly as `arping -A` sends it. Linux only treats a reply as
//     gratuitous (and so lets it override an entry updated less than
//     locktime ago) when target MAC equals sender MAC (arp_is_garp).
//
// Both go to the Ethernet broadcast address with the interface's own MAC as
// Ethernet source and ARP sender (resource-agents #1131: a GARP from the
// wrong MAC teaches neighbours the wrong thing). Frames are padded to the
// 60-byte Ethernet minimum: real NICs pad in hardware, but veth and some
// software bridges do not, and a runt can be dropped by strict switches.
package garp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// EtherTypeARP is the Ethernet type of ARP frames.
const EtherTypeARP = 0x0806

// FrameLen is the length of every frame we send: the 60-byte Ethernet
// minimum (without FCS). The ARP payload ends at byte 42; the rest is zero.
const FrameLen = 60

// arpEnd is where the ARP payload (14-byte Ethernet header + 28 bytes) ends.
const arpEnd = 42

// Op is the ARP operation code.
type Op uint16

const (
	OpRequest Op = 1
	OpReply   Op = 2
)

func (o Op) String() string {
	switch o {
	case OpRequest:
		return "request"
	case OpReply:
		return "reply"
	}
	return fmt.Sprintf("op%d", uint16(o))
}

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	zeroMAC      = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// BroadcastMAC returns ff:ff:ff:ff:ff:ff (a fresh copy).
func BroadcastMAC() net.HardwareAddr { return append(net.HardwareAddr(nil), broadcastMAC...) }

// Packet is one decoded ARP frame for IPv4 over Ethernet.
type Packet struct {
	EthDst, EthSrc net.HardwareAddr
	Op             Op
	SenderMAC      net.HardwareAddr
	SenderIP       netip.Addr
	TargetMAC      net.HardwareAddr
	TargetIP       netip.Addr
}

// Gratuitous builds the announcement of ip from mac in form op (OpRequest or
// OpReply, see the package doc for the exact fields).
func Gratuitous(op Op, mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if err := checkArgs(mac, ip); err != nil {
		return nil, err
	}
	p := Packet{EthDst: broadcastMAC, EthSrc: mac, Op: op, SenderMAC: mac, SenderIP: ip, TargetIP: ip}
	switch op {
	case OpRequest:
		p.TargetMAC = zeroMAC
	case OpReply:
		p.TargetMAC = mac
	default:
		return nil, fmt.Errorf("garp: unsupported ARP operation %d", uint16(op))
	}
	return p.marshal(), nil
}

// OnBehalf builds the announcement of ip for another station, holder, sent
// from our interface (Ethernet source from): the ARP fields are those of
// Gratuitous from holder, so neighbours point ip at holder, and switches
// still see the frame come from our own MAC on our own port. It is how a
// node that has just released an address moves the clients to the node
// that keeps it.
func OnBehalf(op Op, from, holder net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if err := checkArgs(from, ip); err != nil {
		return nil, err
	}
	f, err := Gratuitous(op, holder, ip)
	if err != nil {
		return nil, err
	}
	copy(f[6:12], from)
	return f, nil
}

// Probe builds an RFC 5227 ARP probe for ip: a request from mac with sender
// IP 0.0.0.0, so that no neighbour learns anything from it, which every host
// that holds ip answers (Linux replies to such probes even with arp_ignore
// 0..2). It is how we find out, before taking an address, whether another
// node still uses it.
func Probe(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if err := checkArgs(mac, ip); err != nil {
		return nil, err
	}
	p := Packet{EthDst: broadcastMAC, EthSrc: mac, Op: OpRequest, SenderMAC: mac,
		SenderIP: netip.IPv4Unspecified(), TargetMAC: zeroMAC, TargetIP: ip}
	return p.marshal(), nil
}

func checkArgs(mac net.HardwareAddr, ip netip.Addr) error {
	if len(mac) != 6 {
		return fmt.Errorf("garp: hardware address %q is not a 6-byte Ethernet MAC", mac)
	}
	if !ip.Is4() {
		return fmt.Errorf("garp: %v is not an IPv4 address", ip)
	}
	return nil
}

// marshal writes p as a padded Ethernet frame. Fields are assumed valid.
func (p Packet) marshal() []byte {
	b := make([]byte, FrameLen)
	copy(b[0:6], p.EthDst)
	copy(b[6:12], p.EthSrc)
	binary.BigEndian.PutUint16(b[12:14], EtherTypeARP)
	binary.BigEndian.PutUint16(b[14:16], 1)      // htype: Ethernet
	binary.BigEndian.PutUint16(b[16:18], 0x0800) // ptype: IPv4
	b[18], b[19] = 6, 4                          // hlen, plen
	binary.BigEndian.PutUint16(b[20:22], uint16(p.Op))
	copy(b[22:28], p.SenderMAC)
	s := p.SenderIP.As4()
	copy(b[28:32], s[:])
	copy(b[32:38], p.TargetMAC)
	t := p.TargetIP.As4()
	copy(b[38:42], t[:])
	return b
}

// Parse decodes an Ethernet frame carrying ARP for IPv4 over Ethernet. The
// frame comes off the wire, so every field is checked; anything else (other
// hardware or protocol types, truncated frames) is an error, never a panic.
func Parse(b []byte) (Packet, error) {
	var p Packet
	if len(b) < arpEnd {
		return p, fmt.Errorf("garp: frame of %d bytes is shorter than an Ethernet ARP frame (%d)", len(b), arpEnd)
	}
	if et := binary.BigEndian.Uint16(b[12:14]); et != EtherTypeARP {
		return p, fmt.Errorf("garp: ethertype %#04x is not ARP", et)
	}
	if ht := binary.BigEndian.Uint16(b[14:16]); ht != 1 {
		return p, fmt.Errorf("garp: ARP hardware type %d is not Ethernet", ht)
	}
	if pt := binary.BigEndian.Uint16(b[16:18]); pt != 0x0800 {
		return p, fmt.Errorf("garp: ARP protocol type %#04x is not IPv4", pt)
	}
	if b[18] != 6 || b[19] != 4 {
		return p, fmt.Errorf("garp: ARP address lengths %d/%d, want 6/4", b[18], b[19])
	}
	mac := func(from int) net.HardwareAddr { return append(net.HardwareAddr(nil), b[from:from+6]...) }
	ip := func(from int) netip.Addr { return netip.AddrFrom4([4]byte(b[from : from+4])) }
	p.EthDst, p.EthSrc = mac(0), mac(6)
	p.Op = Op(binary.BigEndian.Uint16(b[20:22]))
	p.SenderMAC, p.SenderIP = mac(22), ip(28)
	p.TargetMAC, p.TargetIP = mac(32), ip(38)
	return p, nil
}

// IsGratuitous reports whether p announces ip in one of the two forms
// receivers honour (sender IP = target IP = ip; for a reply also target MAC
// = sender MAC, which Linux's arp_is_garp demands).
func (p Packet) IsGratuitous(ip netip.Addr) bool {
	if p.SenderIP != ip || p.TargetIP != ip {
		return false
	}
	switch p.Op {
	case OpRequest:
		return true
	case OpReply:
		return p.TargetMAC.String() == p.SenderMAC.String()
	}
	return false
}
