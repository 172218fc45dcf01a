// Command floor is the resource bench's yardstick (idleOnce in tests/e2e/bench_runs_test.go):
// it puts on the wire what an idle heartbeatd node does, and nothing else.
// Every keepalive it broadcasts one datagram of a status message's size on
// each link, and every fifth keepalive one more of an ack's size (an idle
// node acks every tenth message of each of the two senders it hears); it
// reads and drops whatever arrives. It uses heartbeatd's own media layer, its
// kind of alarm and its phase-locking to the peer, one processor, and the
// realtime scheduling of `realtime on`.
//
// What it costs is what any daemon that keeps the same packets going pays
// to the kernel and to the Go runtime; the bench prints it beside heartbeatd
// and Heartbeat, so that what heartbeatd spends on the protocol itself is
// the difference, not a guess.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/media"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rt"
)

func main() {
	keepalive := flag.Duration("keepalive", 100*time.Millisecond, "interval between sends")
	port := flag.Int("port", 694, "UDP port")
	links := flag.String("bcast", "eth1,eth2", "interfaces, comma-separated")
	realtime := flag.Bool("realtime", true, "SCHED_FIFO and locked memory, as realtime on")
	flag.Parse()
	runtime.GOMAXPROCS(1)
	if err := run(*keepalive, *port, strings.Split(*links, ","), *realtime); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(keepalive time.Duration, port int, ifaces []string, realtime bool) error {
	if realtime {
		if r := rt.Enable(0); !r.Scheduled {
			return fmt.Errorf("realtime: %v", r.Warnings())
		}
	}
	recv := make(chan media.Packet, 64)
	var ls []*media.Link
	for _, ifc := range ifaces {
		l, err := media.Open(media.Spec{Kind: media.KindBcast, Interface: ifc, Port: port}, recv, nil)
		if err != nil {
			return err
		}
		defer l.Close()
		ls = append(ls, l)
	}
	alarm, err := newAlarm()
	if err != nil {
		return err
	}
	status, ack := make([]byte, 306), make([]byte, 250)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	n, lastSweep := 0, time.Now()
	send := func(now time.Time) time.Time {
		for _, l := range ls {
			l.Send(status)
			if n%5 == 0 {
				l.Send(ack)
			}
		}
		n++
		// As heartbeatd does: threads the runtime starts later get the
		// realtime priority too.
		if realtime && now.Sub(lastSweep) >= 5*time.Second {
			rt.RaiseThreads(0)
			lastSweep = now
		}
		return now.Add(keepalive)
	}
	next := send(time.Now())
	for {
		if err := alarm.set(time.Until(next)); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-recv:
			// The same phase-locking as heartbeatd's (membership's
			// followPeer), or the floor would wake twice as often.
			if now := time.Now(); next.Sub(now) <= keepalive/2 {
				next = send(now).Add(membership.FollowSlack(keepalive))
			}
		case <-alarm.c:
			if now := time.Now(); !now.Before(next) {
				next = send(now)
			}
		}
	}
}

// alarm is a timerfd read through the netpoller, as heartbeatd's main loop
// alarm (a Go timer would also wake the runtime's monitor thread).
type alarm struct {
	c  chan struct{}
	fd int
}

func newAlarm() (*alarm, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	rc, err := os.NewFile(uintptr(fd), "timerfd").SyscallConn()
	if err != nil {
		return nil, err
	}
	a := &alarm{c: make(chan struct{}, 1), fd: fd}
	go func() {
		var buf [8]byte
		read := func(fd uintptr) bool {
			_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), 8)
			return e != unix.EAGAIN
		}
		for rc.Read(read) == nil {
			select {
			case a.c <- struct{}{}:
			default:
			}
		}
	}()
	return a, nil
}

func (a *alarm) set(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(int64(d), 1))}
	_, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(a.fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	if e != 0 {
		return fmt.Errorf("timerfd_settime: %w", e)
	}
	return nil
}
