package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ifaceState is what a UDP medium needs to know about its interface.
type ifaceState struct {
	index int
	addr  net.IP // primary IPv4 address (SIOCGIFADDR, as Heartbeat)
	brd   net.IP // configured broadcast address (SIOCGIFBRDADDR), bcast only
}

// lookupIface reads the interface as Heartbeat does (by ioctl on its name),
// turning each reason it can not carry heartbeats into a readable error.
//
// It runs every few seconds per link (Link.supervise), so it asks only the
// ioctls it needs instead of net.InterfaceByName, which dumps every
// interface of the system over netlink.
func lookupIface(name string, wantBrd bool) (ifaceState, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ifaceState{}, fmt.Errorf("interface %s: socket for ioctl: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return ifaceState{}, fmt.Errorf("interface %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return ifaceState{}, fmt.Errorf("interface %s not found", name)
		}
		return ifaceState{}, fmt.Errorf("interface %s: reading its index: %w", name, err)
	}
	index := int(ifr.Uint32())
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return ifaceState{}, fmt.Errorf("interface %s: reading its flags: %w", name, err)
	}
	if ifr.Uint16()&unix.IFF_UP == 0 {
		return ifaceState{}, fmt.Errorf("interface %s is down", name)
	}
	get := func(req uint, what string) (net.IP, error) {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", name, err)
		}
		if err := unix.IoctlIfreq(fd, req, ifr); err != nil {
			if errors.Is(err, unix.EADDRNOTAVAIL) {
				return nil, fmt.Errorf("interface %s has no IPv4 address", name)
			}
			return nil, fmt.Errorf("interface %s: reading %s: %w", name, what, err)
		}
		b, err := ifr.Inet4Addr()
		if err != nil {
			return nil, fmt.Errorf("interface %s: %s: %w", name, what, err)
		}
		return net.IP(b).To4(), nil
	}
	st := ifaceState{index: index}
	if st.addr, err = get(unix.SIOCGIFADDR, "address"); err != nil {
		return ifaceState{}, err
	}
	if wantBrd {
		if st.brd, err = get(unix.SIOCGIFBRDADDR, "broadcast address"); err != nil {
			return ifaceState{}, err
		}
		if st.brd.IsUnspecified() {
			// Heartbeat would send to 0.0.0.0 here and reach nobody,
			// silently (the pitfall of the Heartbeat lab's first run).
			// Saying so is kinder than sending into the void.
			return ifaceState{}, fmt.Errorf("interface %s has no broadcast address (add its address with \"brd +\")", name)
		}
	}
	return st, nil
}

// sameIface is the part of ifaceState the sockets depend on: SO_BINDTODEVICE
// holds the ifindex, bcast the broadcast address, mcast the local address.
func sameIface(a, b ifaceState) error {
	if a.index != b.index {
		return fmt.Errorf("interface re-created (ifindex %d, was %d)", b.index, a.index)
	}
	if !a.addr.Equal(b.addr) {
		return fmt.Errorf("address changed to %s (was %s)", b.addr, a.addr)
	}
	if !a.brd.Equal(b.brd) {
		return fmt.Errorf("broadcast address changed to %s (was %s)", b.brd, a.brd)
	}
	return nil
}

// listenUDP opens a UDP socket with options set before bind.
func listenUDP(addr string, opts func(fd int) error) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = opts(int(fd)) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// sockopts applies integer socket options, naming the one that failed.
type sockopt struct {
	level, opt, value int
	name              string
}

func setopts(fd int, ifname string, opts ...sockopt) error {
	if ifname != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
			return fmt.Errorf("SO_BINDTODEVICE %s: %w", ifname, err)
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	return nil
}

var (
	optReuseAddr = sockopt{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"}
	optReusePort = sockopt{unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT"}
	optBroadcast = sockopt{unix.SOL_SOCKET, unix.SO_BROADCAST, 1, "SO_BROADCAST"}
	optDontRoute = sockopt{unix.SOL_SOCKET, unix.SO_DONTROUTE, 1, "SO_DONTROUTE"}
	optLowDelay  = sockopt{unix.IPPROTO_IP, unix.IP_TOS, iptosLowDelay, "IP_TOS"}
)

// udpTransport is a send socket and a receive socket bound to one interface.
// The sockets are driven through their RawConns (rawio.go).
type udpTransport struct {
	spec  Spec
	iface ifaceState
	dst   *unix.RawSockaddrInet4
	w, r  *net.UDPConn
	out   *rawWriter
	in    *rawReader
}

func (t *udpTransport) send(pkt []byte) error {
	if len(pkt) > MaxPacket {
		return fmt.Errorf("message of %d bytes exceeds %d", len(pkt), MaxPacket)
	}
	return t.out.send(pkt)
}

func (t *udpTransport) read(buf []byte) (int, netip.AddrPort, error) {
	return t.in.read(buf)
}

func (t *udpTransport) check() error {
	now, err := lookupIface(t.spec.Interface, t.spec.Kind == KindBcast)
	if err != nil {
		return err
	}
	return sameIface(t.iface, now)
}

func (t *udpTransport) close() error {
	err := t.w.Close()
	if rerr := t.r.Close(); err == nil {
		err = rerr
	}
	return err
}

// openUDP makes both sockets or neither.
func openUDP(s Spec, st ifaceState, dst *net.UDPAddr, raddr string, wopts, ropts func(fd int) error) (*udpTransport, error) {
	w, err := listenUDP("0.0.0.0:0", wopts)
	if err != nil {
		return nil, fmt.Errorf("send socket: %w", err)
	}
	r, err := listenUDP(raddr, ropts)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("receive socket on %s: %w", raddr, err)
	}
	t := &udpTransport{spec: s, iface: st, w: w, r: r}
	var wc, rc syscall.RawConn
	if t.dst, err = rawSockaddr(dst); err == nil {
		if wc, err = w.SyscallConn(); err == nil {
			rc, err = r.SyscallConn()
		}
	}
	if err != nil {
		t.close()
		return nil, err
	}
	t.out, t.in = newRawWriter(wc, t.dst), newRawReader(rc)
	return t, nil
}

// openBcast: send from an ephemeral port to the interface's broadcast
// address, receive on 0.0.0.0:port; both sockets bound to the device so
// that several bcast media (eth1, eth2) share the port and each packet is
// attributed to the link it really arrived on.
func openBcast(s Spec, logf func(string, string, ...any)) (transport, error) {
	st, err := lookupIface(s.Interface, true)
	if err != nil {
		return nil, err
	}
	port := s.port()
	t, err := openUDP(s, st, &net.UDPAddr{IP: st.brd, Port: port}, net.JoinHostPort("0.0.0.0", strconv.Itoa(port)),
		func(fd int) error { return setopts(fd, s.Interface, optBroadcast, optDontRoute) },
		func(fd int) error { return setopts(fd, s.Interface, optReuseAddr) })
	if err != nil {
		return nil, err
	}
	logf(LevelInfo, "UDP Broadcast heartbeat started on port %d (%d) interface %s", port, port, s.Interface)
	return t, nil
}

// openUcast: like Heartbeat, SO_REUSEPORT as well so that one ucast line per
// peer on the same interface (clusters of 3+) can all listen.
func openUcast(s Spec, logf func(string, string, ...any)) (transport, error) {
	st, err := lookupIface(s.Interface, false)
	if err != nil {
		return nil, err
	}
	peer, err := net.ResolveIPAddr("ip4", s.Peer)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", s.Peer, err)
	}
	port := s.port()
	t, err := openUDP(s, st, &net.UDPAddr{IP: peer.IP, Port: port}, net.JoinHostPort("0.0.0.0", strconv.Itoa(port)),
		func(fd int) error { return setopts(fd, s.Interface, optReusePort, optLowDelay) },
		func(fd int) error { return setopts(fd, s.Interface, optReuseAddr, optReusePort) })
	if err != nil {
		return nil, err
	}
	logf(LevelInfo, "ucast: started on port %d interface %s to %s", port, s.Interface, peer.IP)
	return t, nil
}

// openMcast: receive socket bound to group:port and joined on the interface.
// Heartbeat leaves its mcast sockets unbound to the device; we bind them
// too, because otherwise two mcast media with the same group and port on
// two interfaces each receive both links' packets and report them under the
// wrong link name.
func openMcast(s Spec, logf func(string, string, ...any)) (transport, error) {
	st, err := lookupIface(s.Interface, false)
	if err != nil {
		return nil, err
	}
	group := net.ParseIP(s.Group).To4()
	port := s.port()
	loop := 0
	if s.Loop {
		loop = 1
	}
	mreq := &unix.IPMreqn{Ifindex: int32(st.index)}
	copy(mreq.Address[:], st.addr)
	copy(mreq.Multiaddr[:], group)
	t, err := openUDP(s, st, &net.UDPAddr{IP: group, Port: port}, net.JoinHostPort(s.Group, strconv.Itoa(port)),
		func(fd int) error {
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, mreq); err != nil {
				return fmt.Errorf("IP_MULTICAST_IF: %w", err)
			}
			return setopts(fd, s.Interface,
				sockopt{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, s.TTL, "IP_MULTICAST_TTL"},
				sockopt{unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, loop, "IP_MULTICAST_LOOP"})
		},
		func(fd int) error {
			if err := setopts(fd, s.Interface, optReuseAddr); err != nil {
				return err
			}
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
				return fmt.Errorf("join group %s on %s: %w", s.Group, s.Interface, err)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	logf(LevelInfo, "UDP multicast heartbeat started for group %s port %d interface %s (ttl=%d loop=%d)",
		s.Group, port, s.Interface, s.TTL, loop)
	return t, nil
}

// iptosLowDelay is IPTOS_LOWDELAY, which Heartbeat's ucast sets on its send
// socket (x/sys/unix does not define it).
const iptosLowDelay = 0x10
