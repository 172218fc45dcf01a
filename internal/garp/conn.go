package garp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/packet"
)

// Conn is an ARP packet socket bound to one interface. Like every socket it
// belongs for life to the network namespace it was opened in.
type Conn struct {
	ifi *net.Interface
	pc  *packet.Conn
}

// Open binds an ARP packet socket to the interface called name. It needs
// CAP_NET_RAW.
func Open(name string) (*Conn, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	return OpenInterface(ifi)
}

// OpenInterface is Open for an interface the caller has looked up already
// (its Index, Name and HardwareAddr are used): a takeover's IPaddr has the
// kernel's table in hand, and each lookup is another netlink dump.
func OpenInterface(ifi *net.Interface) (*Conn, error) {
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %s has no Ethernet MAC address (%q); gratuitous ARP needs one", ifi.Name, ifi.HardwareAddr)
	}
	pc, err := packet.Listen(ifi, packet.Raw, EtherTypeARP, nil)
	if err != nil {
		return nil, fmt.Errorf("interface %s: open ARP packet socket: %w", ifi.Name, err)
	}
	return &Conn{ifi: ifi, pc: pc}, nil
}

// MAC is the interface's hardware address: the sender of everything we send.
func (c *Conn) MAC() net.HardwareAddr { return c.ifi.HardwareAddr }

// Interface is the interface the socket is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// Close releases the socket.
func (c *Conn) Close() error { return c.pc.Close() }

// WriteFrame sends one complete Ethernet frame to the broadcast address.
func (c *Conn) WriteFrame(frame []byte) error {
	if _, err := c.pc.WriteTo(frame, &packet.Addr{HardwareAddr: broadcastMAC}); err != nil {
		return fmt.Errorf("send on %s: %w", c.ifi.Name, err)
	}
	return nil
}

// ReadPacket waits until deadline for the next ARP frame and decodes it.
// Malformed frames are skipped (they are someone else's business), so the
// only errors are the socket's, including os.ErrDeadlineExceeded.
func (c *Conn) ReadPacket(deadline time.Time) (Packet, error) {
	if err := c.pc.SetReadDeadline(deadline); err != nil {
		return Packet{}, err
	}
	buf := make([]byte, 1514)
	for {
		n, _, err := c.pc.ReadFrom(buf)
		if err != nil {
			return Packet{}, err
		}
		if p, err := Parse(buf[:n]); err == nil {
			return p, nil
		}
	}
}

// Conflict describes another station using an address we want.
type Conflict struct {
	MAC net.HardwareAddr
	Via Packet
}

func (c *Conflict) Error() string {
	return fmt.Sprintf("%s is in use by %s (ARP %s seen)", c.Via.SenderIP, c.MAC, c.Via.Op)
}

// DetectConflict sends ARP probes for ip (RFC 5227 §2.1.1, sender IP
// 0.0.0.0) and listens for wait: every ARP frame whose sender IP is ip and
// whose sender MAC is not ours means another station holds the address. It
// returns a *Conflict then, nil when nobody answered. Probes go out at the
// start and halfway through, so one lost frame does not hide a holder.
//
// This is split-brain protection: when the heartbeat links are cut but the
// service segment is not, the peer still answers for the address, and two
// nodes announcing it would make the segment flap between them.
func (c *Conn) DetectConflict(ip netip.Addr, wait time.Duration) error {
	start := time.Now()
	end := start.Add(wait)
	second := start.Add(wait / 2)
	if err := c.SendProbe(ip); err != nil {
		return err
	}
	cf, err := c.AwaitHolder(ip, second)
	if err != nil || cf != nil {
		return conflictErr(cf, err)
	}
	if err := c.SendProbe(ip); err != nil {
		return err
	}
	return conflictErr(c.AwaitHolder(ip, end))
}

func conflictErr(cf *Conflict, err error) error {
	if err != nil {
		return err
	}
	if cf != nil {
		return cf
	}
	return nil
}

// SendProbe sends one ARP probe for ip (sender IP 0.0.0.0) without waiting
// for an answer; AwaitHolder collects it.
func (c *Conn) SendProbe(ip netip.Addr) error {
	probe, err := Probe(c.MAC(), ip)
	if err != nil {
		return err
	}
	if err := c.WriteFrame(probe); err != nil {
		return fmt.Errorf("ARP probe: %w", err)
	}
	return nil
}

// AwaitHolder reads ARP frames until deadline and returns the first one
// sent by another station claiming ip (as its sender IP), or nil when
// none came in time. Frames queued before the call count too, so a probe
// sent earlier is answered here even if the answer arrived meanwhile.
func (c *Conn) AwaitHolder(ip netip.Addr, deadline time.Time) (*Conflict, error) {
	own := c.MAC().String()
	for {
		p, err := c.ReadPacket(deadline)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("ARP probe on %s: read: %w", c.ifi.Name, err)
		}
		if p.SenderIP == ip && p.SenderMAC.String() != own {
			return &Conflict{MAC: p.SenderMAC, Via: p}, nil
		}
	}
}
