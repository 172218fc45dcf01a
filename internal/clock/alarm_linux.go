package clock

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelAlarm is the real clock's Alarm: a timerfd read through Go's
// netpoller instead of a time.Timer. The difference is what wakes up. A Go
// timer also wakes the runtime's monitor thread (sysmon sleeps until the
// next timer), and arming one from the loop while another thread waits in
// the netpoller interrupts that wait; on an idle cluster those extra thread
// wake-ups were most of the daemon's CPU. A timerfd is just one more
// descriptor in the epoll set the runtime already waits on: one wake-up per
// alarm. Its system calls are raw for the same reason as the media's
// (internal/media/rawio.go): none of them blocks.
//
// Should the timerfd ever fail, the alarm falls back to a time.Timer for
// good: the daemon's loop must keep its keepalives going whatever the cost,
// because a daemon that stops while holding resources is a split brain in
// the making.
type kernelAlarm struct {
	c chan time.Time // receives once per expiry that the loop has not yet seen

	f        *os.File
	rc       syscall.RawConn
	fallback *time.Timer // non-nil once the timerfd failed

	// Reset's argument and result, and its closure made once; Reset is
	// called from the loop only.
	spec    unix.ItimerSpec
	errno   syscall.Errno
	settime func(fd uintptr)
}

// newKernelAlarm returns a working alarm; err says why it is on the
// fallback.
func newKernelAlarm() (*kernelAlarm, error) {
	w := &kernelAlarm{c: make(chan time.Time, 1)}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		w.fallBack()
		return w, fmt.Errorf("timerfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		w.fallBack()
		return w, fmt.Errorf("timerfd: %w", err)
	}
	w.f, w.rc = f, rc
	w.settime = func(fd uintptr) {
		_, _, w.errno = unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&w.spec)), 0, 0, 0)
	}
	go w.run()
	return w, nil
}

func (w *kernelAlarm) C() <-chan time.Time { return w.c }

func (w *kernelAlarm) fallBack() {
	if w.fallback == nil {
		w.fallback = time.AfterFunc(time.Hour, w.fire)
		w.fallback.Stop()
	}
}

func (w *kernelAlarm) fire() {
	select {
	case w.c <- time.Now():
	default: // one pending expiry is as good as two
	}
}

func (w *kernelAlarm) run() {
	var buf [8]byte // the expiry count, which the loop does not need
	// One closure for all reads, not one per alarm (no allocation per wake).
	read := func(fd uintptr) bool {
		_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		return e != unix.EAGAIN
	}
	for {
		err := w.rc.Read(read)
		if err != nil {
			return // closed
		}
		w.fire()
	}
}

func (w *kernelAlarm) Reset(d time.Duration) error {
	if w.fallback != nil {
		w.fallback.Reset(max(d, 0))
		return nil
	}
	if d <= 0 {
		d = 1 // a zero it_value would disarm the timer
	}
	w.spec = unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	err := w.rc.Control(w.settime)
	if err == nil && w.errno != 0 {
		err = w.errno
	}
	if err != nil {
		w.fallBack()
		w.fallback.Reset(d)
		return fmt.Errorf("timerfd_settime: %w (the loop goes on with a Go timer)", err)
	}
	return nil
}

func (w *kernelAlarm) Close() {
	if w.fallback != nil {
		w.fallback.Stop()
	}
	if w.f != nil {
		w.f.Close()
	}
}
