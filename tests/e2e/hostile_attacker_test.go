//go:build netns

package e2e

// The attacker of the hostile-peer tests (issue 12): one more namespace on
// the lab's bridges that records the cluster's heartbeat traffic the way
// tcpdump would (an AF_PACKET socket per interface) and puts datagrams back
// on the wire from its own address. The bcast medium trusts no sender
// address, only the packet's MAC, so a replay from another machine of the
// segment is exactly what a real attacker could do.

import (
	binenc "encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/wire"
	"heartbeatd/tests/netlab"
)

// attacker is a namespace with one interface on each bridge of the lab.
type attacker struct {
	t     *testing.T
	ns    *netlab.Node
	links []*attackLink
}

// attackLink is the attacker's interface on one bridge.
type attackLink struct {
	name    string // eth1, eth2: the name the nodes use for that bridge too
	ifindex int
	bcast   netip.Addr
	fd      int // UDP socket bound to the interface, broadcast allowed
}

// addAttacker connects namespace "evil" to both bridges as host number host.
func (c *cluster) addAttacker(host int) *attacker {
	c.t.Helper()
	a := &attacker{t: c.t, ns: c.lab.AddNode("evil")}
	for i, name := range []string{"eth1", "eth2"} {
		a.ns.Connect(c.br[i], name, c.br[i].Addr(host).String())
		b := c.br[i].Subnet.Addr().As4()
		b[3] = 255
		l := &attackLink{name: name, bcast: netip.AddrFrom4(b), fd: -1}
		// Sockets belong to the namespace they were created in, for life.
		err := a.ns.Do(func() error {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			l.ifindex = ifi.Index
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			l.fd = fd
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
				return err
			}
			return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name)
		})
		if err != nil {
			c.t.Fatalf("attacker socket on %s: %v", name, err)
		}
		a.links = append(a.links, l)
	}
	c.t.Cleanup(func() {
		for _, l := range a.links {
			if l.fd >= 0 {
				unix.Close(l.fd)
			}
		}
	})
	return a
}

func (a *attacker) link(name string) *attackLink {
	for _, l := range a.links {
		if l.name == name {
			return l
		}
	}
	a.t.Fatalf("attacker has no link %s", name)
	return nil
}

// sendOn broadcasts one datagram to udpport 694 on link name.
func (a *attacker) sendOn(name string, payload []byte) error {
	l := a.link(name)
	to := &unix.SockaddrInet4{Port: 694, Addr: l.bcast.As4()}
	for {
		err := unix.Sendto(l.fd, payload, 0, to)
		if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		return err
	}
}

// replay puts captured packets back on the link each was seen on, in
// capture order: back to back when paced is false, with their original
// spacing otherwise. It returns how many it sent. It may run on any
// goroutine (a failure is an Errorf).
func (a *attacker) replay(pkts []capPkt, paced bool) int {
	a.t.Helper()
	start := time.Now()
	for i, p := range pkts {
		if paced && i > 0 {
			if d := p.at.Sub(pkts[0].at) - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
		if err := a.sendOn(p.link, p.data); err != nil {
			a.t.Errorf("replay on %s: %v", p.link, err)
			return i
		}
	}
	return len(pkts)
}

// flood broadcasts pkts on link name as fast as the kernel takes them:
// sendmmsg(2), 256 datagrams per call.
func (a *attacker) flood(name string, pkts [][]byte) error {
	l := a.link(name)
	const batch = 256
	to := unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(694), Addr: l.bcast.As4()}
	hdrs := make([]unix.Mmsghdr, batch)
	iovs := make([]unix.Iovec, batch)
	for i := 0; i < len(pkts); {
		n := min(batch, len(pkts)-i)
		for j := 0; j < n; j++ {
			iovs[j] = unix.Iovec{Base: &pkts[i+j][0]}
			iovs[j].SetLen(len(pkts[i+j]))
			hdrs[j] = unix.Mmsghdr{}
			hdrs[j].Hdr.Name = (*byte)(unsafe.Pointer(&to))
			hdrs[j].Hdr.Namelen = unix.SizeofSockaddrInet4
			hdrs[j].Hdr.Iov = &iovs[j]
			hdrs[j].Hdr.SetIovlen(1)
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(l.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(n), 0, 0, 0)
		if errno != 0 {
			if errno == unix.ENOBUFS || errno == unix.EAGAIN || errno == unix.EINTR {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			return fmt.Errorf("sendmmsg on %s: %w", name, errno)
		}
		i += int(r)
	}
	runtime.KeepAlive(pkts)
	runtime.KeepAlive(&to)
	return nil
}

// capPkt is one heartbeat datagram seen by the attacker.
type capPkt struct {
	at   time.Time
	link string
	data []byte // the UDP payload, as sent

	// From the message, unverified (the attacker has no key).
	typ, src, dest string
	seq, gen       uint64 // 0 when absent
	msg            *wire.Message
}

func (p capPkt) String() string {
	s := fmt.Sprintf("%s %s src=%s", p.link, p.typ, p.src)
	if p.dest != "" {
		s += " dest=" + p.dest
	}
	if p.seq != 0 {
		s += fmt.Sprintf(" seq=%x", p.seq)
	}
	return s + fmt.Sprintf(" hg=%x", p.gen)
}

// capture records every UDP datagram to port 694 that arrives on the
// attacker's interfaces (not those it sends itself).
type capture struct {
	mu      sync.Mutex
	pkts    []capPkt
	stopped atomic.Bool
	wg      sync.WaitGroup
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// capture starts recording on every link of the attacker.
func (a *attacker) capture() *capture {
	a.t.Helper()
	cp := &capture{}
	for _, l := range a.links {
		var fd int
		err := a.ns.Do(func() error {
			var err error
			fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
			if err != nil {
				return err
			}
			return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: l.ifindex})
		})
		if err != nil {
			a.t.Fatalf("capture on %s: %v", l.name, err)
		}
		// Woken every 100 ms to notice stop; a big buffer so that a burst
		// of retransmissions is not lost while we parse.
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		cp.wg.Add(1)
		go cp.read(fd, l.name)
	}
	a.t.Cleanup(cp.stop)
	return cp
}

func (cp *capture) read(fd int, link string) {
	defer cp.wg.Done()
	defer unix.Close(fd)
	buf := make([]byte, 65536)
	for !cp.stopped.Load() {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		payload := udpPayload(buf[:n], 694)
		if payload == nil {
			continue
		}
		p := capPkt{at: time.Now(), link: link, data: append([]byte(nil), payload...)}
		p.parse()
		cp.mu.Lock()
		cp.pkts = append(cp.pkts, p)
		cp.mu.Unlock()
	}
}

func (cp *capture) stop() {
	cp.stopped.Store(true)
	cp.wg.Wait()
}

// packets returns what was recorded at or after since.
func (cp *capture) packets(since time.Time) []capPkt {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var out []capPkt
	for _, p := range cp.pkts {
		if !p.at.Before(since) {
			out = append(out, p)
		}
	}
	return out
}

// udpPayload returns the payload of an IPv4/UDP packet to port, or nil.
func udpPayload(ip []byte, port uint16) []byte {
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != unix.IPPROTO_UDP {
		return nil
	}
	if binenc.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
		return nil // a fragment: heartbeat packets are far smaller than the MTU
	}
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+8 {
		return nil
	}
	udp := ip[ihl:]
	if binenc.BigEndian.Uint16(udp[2:4]) != port {
		return nil
	}
	ulen := int(binenc.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return nil
	}
	return udp[8:ulen]
}

// parse fills in the fields read from the payload without authentication,
// as an attacker (or tcpdump -A) reads them.
func (p *capPkt) parse() {
	pk, err := wire.Parse(p.data)
	if err != nil {
		return
	}
	p.msg = pk.Msg
	p.typ, p.src, p.dest = pk.Msg.Value("t"), pk.Msg.Value("src"), pk.Msg.Value("dest")
	p.seq, _ = strconv.ParseUint(pk.Msg.Value("seq"), 16, 64)
	p.gen, _ = strconv.ParseUint(pk.Msg.Value("hg"), 16, 64)
}

// keepPkts returns the packets for which keep is true.
func keepPkts(pkts []capPkt, keep func(capPkt) bool) []capPkt {
	var out []capPkt
	for _, p := range pkts {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// fromNode keeps the packets whose src is node.
func fromNode(node string) func(capPkt) bool { return func(p capPkt) bool { return p.src == node } }

// forgedStatuses returns n status packets in Heartbeat's format, each with
// its own random-looking src name, signed with a key the cluster does not
// have (index 1, as the cluster's, so that the receiver computes the MAC
// and finds it wrong instead of rejecting an unknown index).
func forgedStatuses(t *testing.T, n int) [][]byte {
	t.Helper()
	key := wire.Key{Index: 1, Method: wire.MethodSHA1, Secret: []byte("not-the-cluster-key")}
	now := strconv.FormatInt(time.Now().Unix(), 16)
	out := make([][]byte, n)
	var uuid [16]byte
	for i := range out {
		m := wire.New("status")
		m.Set("st", "active")
		m.Set("dt", "258")
		m.Set("protocol", "1")
		// A different name each time: the failed-authentication table is
		// keyed by the (unverified) src, which is what a forger controls.
		m.Set("src", fmt.Sprintf("forged-%06x-%08x", i, uint32(i)*2654435761))
		binenc.BigEndian.PutUint64(uuid[:8], uint64(i)*0x9e3779b97f4a7c15)
		m.SetBinary("srcuuid", uuid[:])
		m.Set("seq", strconv.FormatUint(uint64(i+1), 16))
		m.Set("hg", "5")
		m.Set("ts", now)
		m.Set("ld", "0.00 0.00 0.00 1/100 1")
		m.Set("ttl", "3")
		b, err := wire.Encode(m, key, wire.WithInnerAuth)
		if err != nil {
			t.Fatalf("forge packet %d: %v", i, err)
		}
		out[i] = b
	}
	return out
}
