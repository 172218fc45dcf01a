package media

import (
	"fmt"
	"net"
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

// recvRaw reads one datagram that is already queued on the socket,
// waiting on the netpoller while none is. It fails with the connection's
// error once the socket is closed.
func recvRaw(rc syscall.RawConn, buf []byte) (int, *net.UDPAddr, error) {
	var (
		n     int
		from  unix.RawSockaddrInet4
		errno syscall.Errno
	)
	err := rc.Read(func(fd uintptr) bool {
		for {
			flen := uint32(unsafe.Sizeof(from))
			r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd,
				uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT,
				uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&flen)))
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				// Nothing queued. Only now may we wait: the netpoller
				// is edge-triggered, so waiting with a datagram still
				// queued could wait for the next one.
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, nil, err
	}
	if errno != 0 {
		return 0, nil, fmt.Errorf("recvfrom: %w", errno)
	}
	var addr *net.UDPAddr
	if from.Family == unix.AF_INET {
		p := (*[2]byte)(unsafe.Pointer(&from.Port)) // network byte order
		port := int(p[0])<<8 | int(p[1])
		addr = &net.UDPAddr{IP: net.IPv4(from.Addr[0], from.Addr[1], from.Addr[2], from.Addr[3]).To4(), Port: port}
	}
	return n, addr, nil
}

// sendRaw sends pkt to dst without ever blocking (see above).
func sendRaw(rc syscall.RawConn, pkt []byte, dst *unix.RawSockaddrInet4) error {
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		var p unsafe.Pointer
		if len(pkt) > 0 {
			p = unsafe.Pointer(&pkt[0])
		}
		_, _, errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(p), uintptr(len(pkt)),
			unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, uintptr(unsafe.Pointer(dst)), unsafe.Sizeof(*dst))
		return true
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return fmt.Errorf("sendto %d.%d.%d.%d: %w", dst.Addr[0], dst.Addr[1], dst.Addr[2], dst.Addr[3], errno)
	}
	return nil
}

// rawSockaddr is addr in the kernel's layout, for sendRaw.
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
