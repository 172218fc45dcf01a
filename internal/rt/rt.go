// Package rt makes heartbeatd's keepalive loop behave like Heartbeat's
// soft-realtime processes (spec §7 realtime, rtprio, memreserve): memory
// locked so a swapped-out daemon never misses a keepalive, and its threads
// at a realtime priority so a busy machine cannot starve it. Both
// answer the "No local heartbeat" / "returning after partition" reports of
// heavily loaded clusters (Linux-HA FAQ, Heavy_Load).
package rt

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
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
	Scheduled bool  // the process's threads run at SCHED_FIFO
	SchedErr  error // why they do not
	Priority  int
	Threads   int // threads raised
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

// Enable locks all current and future memory and puts every thread of the
// process at SCHED_FIFO priority prio (DefaultPriority when prio <= 0), as
// Heartbeat puts its whole processes there.
//
// Why every thread and not one locked to the main loop: a goroutine locked
// to its thread makes the Go scheduler hand the processor back and forth
// between threads at every channel operation of that goroutine (two futex
// wake-ups per received packet, measured), and that hand-off was most of an
// idle daemon's CPU. Unlocked, the loop runs on whichever thread holds the
// processor, so all of them must be raised. The runtime starts threads
// later too, and SCHED_RESET_ON_FORK (needed so that resource scripts do not
// run at realtime priority) makes those start at normal priority:
// RaiseThreads, called periodically, raises them.
//
// MCL_ONFAULT matters for Go: the runtime reserves large address ranges up
// front, and without it MCL_FUTURE would fault all of them in.
func Enable(prio int) Result {
	prio = clampPriority(prio)
	r := Result{Priority: prio}
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		if errors.Is(err, unix.EINVAL) {
			// Kernels before 4.4 do not know MCL_ONFAULT.
			err = unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
		}
		r.LockErr = err
	}
	r.Locked = r.LockErr == nil
	r.Threads, r.SchedErr = RaiseThreads(prio)
	r.Scheduled = r.SchedErr == nil
	return r
}

func clampPriority(prio int) int {
	if prio <= 0 {
		return DefaultPriority
	}
	return min(prio, MaxPriority)
}

// RaiseThreads puts every thread of the process that is not yet there at
// SCHED_FIFO priority prio, with SCHED_RESET_ON_FORK. It returns how many it
// changed. A thread that exits meanwhile is not an error.
func RaiseThreads(prio int) (int, error) {
	tids, err := threads()
	if err != nil {
		return 0, err
	}
	return raise(tids, prio)
}

func raise(tids []int, prio int) (int, error) {
	prio = clampPriority(prio)
	attr := unix.SchedAttr{
		Size:     uint32(unsafe.Sizeof(unix.SchedAttr{})),
		Policy:   unix.SCHED_FIFO,
		Flags:    unix.SCHED_FLAG_RESET_ON_FORK,
		Priority: uint32(prio),
	}
	n := 0
	for _, tid := range tids {
		if pol, p, err := Policy(tid); err == nil && pol == unix.SCHED_FIFO && p == prio {
			continue
		}
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// Disable undoes Enable: every thread back to normal scheduling, memory
// unlocked.
func Disable() error {
	tids, err := threads()
	if err != nil {
		return err
	}
	attr := unix.SchedAttr{Size: uint32(unsafe.Sizeof(unix.SchedAttr{})), Policy: unix.SCHED_NORMAL}
	for _, tid := range tids {
		if serr := unix.SchedSetAttr(tid, &attr, 0); serr != nil && !errors.Is(serr, unix.ESRCH) && err == nil {
			err = serr
		}
	}
	if uerr := unix.Munlockall(); err == nil {
		err = uerr
	}
	return err
}

// threads lists the process's thread ids.
func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("listing threads: %w", err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
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

// Start applies ha.cf's realtime/rtprio when enabled, and returns the
// lines to log: a refusal (no CAP_SYS_NICE / CAP_IPC_LOCK, RLIMIT_RTPRIO /
// RLIMIT_MEMLOCK too low) is one warning per cause, and the daemon runs
// on, as Heartbeat does.
func Start(enabled bool, prio int) (r Result, warnings []string, info string) {
	if !enabled {
		return Result{}, nil, ""
	}
	r = Enable(prio)
	if r.Scheduled {
		info = fmt.Sprintf("realtime: all %d threads at SCHED_FIFO priority %d, memory locked: %v", r.Threads, r.Priority, r.Locked)
	}
	return r, r.Warnings(), info
}

// RaiseNew brings threads the Go runtime started since the last call to
// r's priority (Enable says why they start without it); nothing when r
// did not schedule the process. It runs every few seconds, so it asks the
// kernel about a thread's policy only the first time it sees the thread:
// an idle daemon's listing then costs four system calls, not two per
// thread.
func (r Result) RaiseNew() error {
	if !r.Scheduled {
		return nil
	}
	tids, err := threads()
	if err != nil {
		return err
	}
	known.Lock()
	defer known.Unlock()
	if known.prio != r.Priority {
		known.tids, known.prio = map[int]bool{}, r.Priority
	}
	var fresh []int
	seen := make(map[int]bool, len(tids))
	for _, tid := range tids {
		if !known.tids[tid] {
			fresh = append(fresh, tid)
		}
		seen[tid] = true
	}
	if _, err := raise(fresh, r.Priority); err != nil {
		return err
	}
	// Threads that exited are forgotten, so a reused id is asked again.
	known.tids = seen
	return nil
}

// known holds the threads RaiseNew has raised or found raised.
var known struct {
	sync.Mutex
	tids map[int]bool
	prio int
}

// LoadAvg is /proc/loadavg's line, for the status messages' ld field; ""
// when unreadable.
//
// The file stays open and is read again from its start each time: one
// pread per call instead of the eight system calls of os.ReadFile.
func LoadAvg() string {
	loadavg.Lock()
	defer loadavg.Unlock()
	if loadavg.f == nil {
		f, err := os.Open("/proc/loadavg")
		if err != nil {
			return ""
		}
		loadavg.f = f
	}
	var buf [128]byte
	n, err := loadavg.f.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		loadavg.f.Close()
		loadavg.f = nil
		return ""
	}
	return strings.TrimSpace(string(buf[:n]))
}

var loadavg struct {
	sync.Mutex
	f *os.File
}
