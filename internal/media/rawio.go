package media

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Heartbeat traffic is a handful of small datagrams per keepalive, and on an
// idle cluster the daemon's CPU is almost all the cost of waking up for
// them, not of handling them. The UDP media therefore do their socket calls
// the cheap way:
//
//   - Readiness still comes from Go's netpoller (syscall.RawConn), so a
//     reader blocks without holding a thread.
//   - The recvfrom and sendto themselves are raw system calls with
//     MSG_DONTWAIT. They never block, so they need not tell the scheduler
//     they might (net.UDPConn's calls do, and each such call wakes the
//     runtime's monitor thread when it sleeps: two or three extra thread
//     wake-ups per packet, measured with strace, for nothing).
//   - A send that would block fails at once instead of parking the daemon's
//     main loop on a full socket buffer: a late keepalive is worse than a
//     dropped one, and the next keepalive comes soon.

// rawReader reads datagrams that are already queued on a socket, waiting on
// the netpoller while none is. Its closure and buffers are made once: an
// idle daemon receives a few dozen packets a second, and allocating a
// closure and an address for each only made garbage. One reader goroutine
// owns it.
type rawReader struct {
	rc    syscall.RawConn
	buf   []byte
	n     int
	from  unix.RawSockaddrInet4
	errno syscall.Errno
	try   func(fd uintptr) bool
}

func newRawReader(rc syscall.RawConn) *rawReader {
	r := &rawReader{rc: rc}
	r.try = r.recv
	return r
}

func (r *rawReader) recv(fd uintptr) bool {
	for {
		flen := uint32(unsafe.Sizeof(r.from))
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(&r.buf[0])), uintptr(len(r.buf)), unix.MSG_DONTWAIT,
			uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&flen)))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			// Nothing queued. Only now may we wait: the netpoller
			// is edge-triggered, so waiting with a datagram still
			// queued could wait for the next one.
			return false
		}
		r.n, r.errno = int(n), e
		return true
	}
}

// read reads one datagram into buf. It fails with the connection's error
// once the socket is closed.
func (r *rawReader) read(buf []byte) (int, netip.AddrPort, error) {
	r.buf, r.from = buf, unix.RawSockaddrInet4{}
	err := r.rc.Read(r.try)
	r.buf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if r.errno != 0 {
		return 0, netip.AddrPort{}, fmt.Errorf("recvfrom: %w", r.errno)
	}
	var from netip.AddrPort
	if r.from.Family == unix.AF_INET {
		p := (*[2]byte)(unsafe.Pointer(&r.from.Port)) // network byte order
		from = netip.AddrPortFrom(netip.AddrFrom4(r.from.Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return r.n, from, nil
}

// rawWriter sends datagrams to one address without ever blocking (see
// above), with no allocation per send. The mutex only guards its scratch
// fields: the daemon sends from its main loop alone.
type rawWriter struct {
	mu    sync.Mutex
	rc    syscall.RawConn
	dst   *unix.RawSockaddrInet4
	pkt   []byte
	errno syscall.Errno
	try   func(fd uintptr) bool
}

func newRawWriter(rc syscall.RawConn, dst *unix.RawSockaddrInet4) *rawWriter {
	w := &rawWriter{rc: rc, dst: dst}
	w.try = w.sendto
	return w
}

func (w *rawWriter) sendto(fd uintptr) bool {
	var p unsafe.Pointer
	if len(w.pkt) > 0 {
		p = unsafe.Pointer(&w.pkt[0])
	}
	_, _, w.errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(p), uintptr(len(w.pkt)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, uintptr(unsafe.Pointer(w.dst)), unsafe.Sizeof(*w.dst))
	return true
}

func (w *rawWriter) send(pkt []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pkt = pkt
	err := w.rc.Write(w.try)
	w.pkt = nil
	if err != nil {
		return err
	}
	if w.errno != 0 {
		d := w.dst.Addr
		return fmt.Errorf("sendto %d.%d.%d.%d: %w", d[0], d[1], d[2], d[3], w.errno)
	}
	return nil
}

// rawSockaddr is addr in the kernel's layout, for rawWriter.
func rawSockaddr(addr *net.UDPAddr) (*unix.RawSockaddrInet4, error) {
	ip := addr.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("%s is not an IPv4 address", addr.IP)
	}
	sa := &unix.RawSockaddrInet4{Family: unix.AF_INET}
	copy(sa.Addr[:], ip)
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(addr.Port>>8), byte(addr.Port)
	return sa, nil
}
