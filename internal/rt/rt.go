// Package rt makes heartbeatd's keepalive loop behave like Heartbeat's
// soft-realtime processes (spec §7 realtime, rtprio, memreserve): memory
// locked so a swapped-out daemon never misses a keepalive, and the loop's OS
// thread at a realtime priority so a busy machine cannot starve it. Both
// answer the "No local heartbeat" / "returning after partition" reports of
// heavily loaded clusters (Linux-HA FAQ, Heavy_Load).
package rt

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultPriority is Heartbeat's: hb_realtime_prio is -1 unless rtprio is
// set, and cl_make_realtime turns that into sched_get_priority_min, 1 on
// Linux. A low realtime priority is enough to beat every normal process
// while leaving room above for the kernel's own realtime threads.
const DefaultPriority = 1

// MaxPriority is the highest SCHED_FIFO priority on Linux.
const MaxPriority = 99

// Result says what Enable achieved. A refusal is not fatal: Heartbeat logs
// it and keeps running, and so do we.
type Result struct {
	Locked    bool  // mlockall succeeded
	LockErr   error // why it did not
	Scheduled bool  // the thread runs at SCHED_FIFO
	SchedErr  error // why it does not
	Priority  int
	TID       int // the thread that was raised
}

// Warnings renders the refusals as log lines, with the remedy for each:
// unprivileged daemons need CAP_IPC_LOCK / CAP_SYS_NICE or matching
// LimitMEMLOCK= / LimitRTPRIO= in their unit file.
func (r Result) Warnings() []string {
	var out []string
	if r.LockErr != nil {
		out = append(out, fmt.Sprintf("realtime: cannot lock memory (mlockall): %v; the daemon may be paged out under memory pressure (needs CAP_IPC_LOCK or LimitMEMLOCK=infinity)", r.LockErr))
	}
	if r.SchedErr != nil {
		out = append(out, fmt.Sprintf("realtime: cannot set SCHED_FIFO priority %d: %v; keepalives may be late under heavy load (needs CAP_SYS_NICE or LimitRTPRIO=%d)", r.Priority, r.SchedErr, r.Priority))
	}
	return out
}

// Enable locks all current and future memory and puts the calling
// goroutine's OS thread at SCHED_FIFO priority prio (DefaultPriority when
// prio <= 0). It locks the goroutine to its thread for good: call it from
// the goroutine that runs the keepalive loop, which must then never return
// the thread to the pool (runtime.UnlockOSThread is not called, so when the
// goroutine ends the thread is destroyed rather than reused at realtime).
//
// MCL_ONFAULT matters for Go: the runtime reserves large address ranges up
// front, and without it MCL_FUTURE would fault all of them in.
// SCHED_RESET_ON_FORK keeps the realtime policy from leaking into resource
// scripts or any thread cloned from this one.
func Enable(prio int) Result {
	if prio <= 0 {
		prio = DefaultPriority
	}
	if prio > MaxPriority {
		prio = MaxPriority
	}
	r := Result{Priority: prio}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		if errors.Is(err, unix.EINVAL) {
			// Kernels before 4.4 do not know MCL_ONFAULT.
			err = unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
		}
		r.LockErr = err
	}
	r.Locked = r.LockErr == nil
	runtime.LockOSThread()
	r.TID = unix.Gettid()
	attr := unix.SchedAttr{
		Size:     uint32(unsafe.Sizeof(unix.SchedAttr{})),
		Policy:   unix.SCHED_FIFO,
		Flags:    unix.SCHED_FLAG_RESET_ON_FORK,
		Priority: uint32(prio),
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		r.SchedErr = err
	}
	r.Scheduled = r.SchedErr == nil
	return r
}

// Disable undoes Enable on the calling thread (it must be the same locked
// thread): normal scheduling, memory unlocked.
func Disable() error {
	attr := unix.SchedAttr{Size: uint32(unsafe.Sizeof(unix.SchedAttr{})), Policy: unix.SCHED_NORMAL}
	err := unix.SchedSetAttr(0, &attr, 0)
	if uerr := unix.Munlockall(); err == nil {
		err = uerr
	}
	return err
}

// Policy returns the scheduling policy and priority of thread tid (0: the
// calling thread), for tests and the start-up log.
func Policy(tid int) (policy, prio int, err error) {
	a, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, 0, err
	}
	return int(a.Policy), int(a.Priority), nil
}
