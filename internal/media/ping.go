package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"heartbeatd/internal/wire"
)

// KindPing is a ping node (`ping HOST`, one medium per host) or a ping
// group (`ping_group NAME HOST...`, one medium for the group). Its Spec
// has Peer = the ping node's name and Hosts = the hosts, blank-separated.
const KindPing = "ping"

// PingStatus and PingInfo are the st and info fields of the message a
// ping medium sends (Heartbeat's PINGSTATUS and its plugin name).
const (
	PingStatus = "ping"
	PingInfo   = "ping"
)

// PingMessage is the message Heartbeat's ping plugin puts in an ICMP
// echo request: the status it wants to hear back from the ping node, as
// though the node had sent it (lib/plugins/HBcomm/ping.c, ping_write).
// ts is the ts of the local status the echo goes out with. The caller
// signs it; the echo reply brings it back byte for byte, and the daemon
// verifies it like any packet.
func PingMessage(node, ts string) *wire.Message {
	m := wire.New("NS_st")
	m.Set("st", PingStatus)
	m.Set("info", PingInfo)
	m.Set("src", node)
	m.Set("ts", ts)
	return m
}

// ICMP echo as RFC 792 lays it out: type, code, checksum, identifier,
// sequence number, then the data.
const (
	icmpEcho      = 8
	icmpEchoReply = 0
	icmpHeader    = 8
)

// pingIdents gives every ping medium of the process its own ICMP
// identifier: a raw ICMP socket sees every echo reply of the host, and
// the identifier is how each medium picks its own (with the source).
var pingIdents atomic.Uint32

// echoRequest is an ICMP echo request carrying payload.
func echoRequest(id, seq uint16, payload []byte) []byte {
	b := make([]byte, icmpHeader+len(payload))
	b[0] = icmpEcho
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[icmpHeader:], payload)
	binary.BigEndian.PutUint16(b[2:], icmpChecksum(b))
	return b
}

// echoReplyPayload returns the data of b if it is an echo reply with
// identifier id.
func echoReplyPayload(b []byte, id uint16) ([]byte, bool) {
	if len(b) < icmpHeader || b[0] != icmpEchoReply || b[1] != 0 || binary.BigEndian.Uint16(b[4:]) != id {
		return nil, false
	}
	return b[icmpHeader:], true
}

// icmpChecksum is the Internet checksum (RFC 1071).
func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// pingTransport is one raw ICMP socket pinging the hosts of one ping node.
type pingTransport struct {
	node  string
	conn  *net.IPConn
	hosts []netip.Addr
	ident uint16
	seq   atomic.Uint32
	keys  func() *wire.Keyring
}

// openPing resolves the hosts and opens the raw ICMP socket, as Heartbeat
// does (it needs CAP_NET_RAW, which the daemon has as root). A host that
// does not resolve now leaves the link down, retried like a missing
// interface.
func openPing(s Spec, keys func() *wire.Keyring, logf func(level, format string, args ...any)) (transport, error) {
	if keys == nil {
		return nil, errors.New("ping: no keyring to sign the echo payload with")
	}
	var hosts []netip.Addr
	for _, h := range strings.Fields(s.Hosts) {
		a, err := resolvePingHost(h)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, a)
	}
	c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("ping %s: can't open RAW socket: %w", s.Peer, err)
	}
	t := &pingTransport{node: s.Peer, conn: c.(*net.IPConn), hosts: hosts, keys: keys,
		ident: uint16(os.Getpid()) + uint16(pingIdents.Add(1))}
	logf(LevelInfo, "ping heartbeat started.")
	return t, nil
}

func resolvePingHost(h string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(h); err == nil {
		if !a.Is4() {
			return netip.Addr{}, fmt.Errorf("ping: %s is not an IPv4 address", h)
		}
		return a, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	as, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", h)
	if err != nil || len(as) == 0 {
		return netip.Addr{}, fmt.Errorf("ping: cannot resolve %s: %v", h, err)
	}
	return as[0].Unmap(), nil
}

// send is ping_write: packets other than our status are not sent at all;
// for a status, each host gets an echo request whose payload is the
// status the ping node should answer with, signed and carrying the ts of
// ours. It fails only when no host could be sent to.
func (t *pingTransport) send(pkt []byte) error {
	keys := t.keys()
	m, err := wire.Decode(pkt, keys)
	if err != nil {
		return fmt.Errorf("reading the packet to echo: %w", err)
	}
	ts, ok := m.Get("ts")
	if m.Type() != "status" || !ok {
		return nil
	}
	payload, err := keys.Seal(PingMessage(t.node, ts))
	if err != nil {
		return err
	}
	echo := echoRequest(t.ident, uint16(t.seq.Add(1)), payload)
	var first error
	sent := 0
	for _, h := range t.hosts {
		if _, err := t.conn.WriteToIP(echo, &net.IPAddr{IP: h.AsSlice()}); err != nil {
			if first == nil {
				first = fmt.Errorf("echo to %s: %w", h, err)
			}
			continue
		}
		sent++
	}
	if sent == 0 {
		return first
	}
	return nil
}

// read returns the payload of the next echo reply of one of our hosts
// with our identifier; anything else the raw socket sees reads as 0 bytes,
// which the receiver skips.
func (t *pingTransport) read(buf []byte) (int, netip.AddrPort, error) {
	n, from, err := t.conn.ReadFromIP(buf)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	src, _ := netip.AddrFromSlice(from.IP)
	src = src.Unmap()
	ours := false
	for _, h := range t.hosts {
		ours = ours || h == src
	}
	payload, ok := echoReplyPayload(buf[:n], t.ident)
	if !ours || !ok {
		return 0, netip.AddrPort{}, nil
	}
	return copy(buf, payload), netip.AddrPortFrom(src, 0), nil
}

// check: a ping medium has no interface to lose; the route to its hosts
// is what the echo replies test.
func (t *pingTransport) check() error { return nil }

func (t *pingTransport) close() error { return t.conn.Close() }
