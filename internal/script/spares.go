package script

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
)

// Spares keeps a few `heartbeatd resource --standby` helpers started in
// advance, so that an op of a built-in agent (a resource.d wrapper of
// heartbeatd's own, see BuiltinAgent) costs no fork and exec of /bin/sh and
// of a fresh heartbeatd on the takeover's critical path: the runner hands
// the op to a waiting helper and from then on treats it exactly as the
// script's process (its own process group, the same pipes, timeout, kill
// and unkillable handling, output judging). Each helper runs one op and
// exits, so isolation is as with the wrapper: a crash or a call stuck in
// the kernel stays in its process. In process would be cheaper still, but
// a goroutine stuck in a netlink or mount call cannot be killed, and a Go
// runtime fatal error in an agent would take the daemon down.
//
// Helpers taken are replaced once no op has run in one for refillQuiet (a
// takeover's status and start, back to back with a little of the core's
// work between them, should not share two CPUs with the start of new Go
// processes), or at once when an op found none left and forked; a helper found
// dead, or started from a binary that has since been replaced (a package
// upgrade), is discarded and that op forks as before. Helpers hold nothing
// but their pipes: one whose daemon is gone reads EOF and exits.
type Spares struct {
	bin  string
	size int

	clk clock.Clock

	mu       sync.Mutex
	idle     []*spare
	pending  int // being started
	inFlight int // ops running in taken helpers
	closed   bool
	later    clock.Timer // the refill armed by done, if any
}

// refillQuiet is how long the pool waits, after the last op in a helper
// ended, before it starts replacements. A takeover runs the status and then
// the start of its first resource a few hundred microseconds apart; starting
// a Go process in between would compete with the start for the CPU.
const refillQuiet = 200 * time.Millisecond

// DefaultSpares covers the status then the start of a takeover's first
// resource. Each idle helper costs about 3 MB of PSS (the Go runtime and
// the binary's package init) and no CPU; ops beyond the pool, such as a
// second group taken over in parallel, fork as before.
const DefaultSpares = 2

type spare struct {
	cmd            *exec.Cmd
	req            *os.File // the write end of its stdin
	stdout, stderr *os.File // read ends
	report         *os.File // read end of its reportFD: the exit code
	bin            binID    // the binary it was started from
}

// reportFD is the helper's descriptor for its exit code (agent.Request's
// Report): exec.Cmd's first ExtraFiles entry.
const reportFD = 3

// binID identifies the contents of the binary a helper runs.
type binID struct {
	dev, ino    uint64
	size, mtime int64
}

func statBin(path string) (binID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return binID{}, err
	}
	return binID{uint64(st.Dev), st.Ino, st.Size, st.Mtim.Nano()}, nil
}

// NewSpares keeps size helpers of the heartbeatd binary bin ready (0:
// DefaultSpares), until ctx ends; then the idle ones are stopped and
// reaped, and none is started any more (ops fork as before).
func NewSpares(ctx context.Context, bin string, size int) *Spares {
	if size <= 0 {
		size = DefaultSpares
	}
	s := &Spares{bin: bin, size: size, clk: clock.Real{}}
	s.refill()
	context.AfterFunc(ctx, s.Close)
	return s
}

// Close stops and reaps the idle helpers; later takes find none.
func (s *Spares) Close() {
	s.mu.Lock()
	s.closed = true
	if s.later != nil {
		s.later.Stop()
	}
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, sp := range idle {
		s.discard(sp)
	}
}

// Idle is how many helpers wait now (for tests and metrics).
func (s *Spares) Idle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idle)
}

// wrapperRE is the exact text of heartbeatd's resource.d wrappers. Only a
// file that says exactly this runs its agent in a helper: an admin who
// replaced the wrapper with a script of their own gets that script run.
var wrapperRE = regexp.MustCompile(`\A#!/bin/sh\nexec "\$\{HEARTBEATD:-/usr/sbin/heartbeatd\}" resource ([A-Za-z0-9][A-Za-z0-9_.-]*) "\$@"\n?\z`)

// BuiltinAgent reports whether the script at path is one of heartbeatd's
// own wrappers, and which agent it execs.
func BuiltinAgent(path string) (string, bool) {
	// Plain system calls: os.Open would also try to register the file
	// with the poller, five more calls on a takeover's path.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	var buf [256]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil || n == len(buf) || !bytes.HasPrefix(buf[:n], []byte("#!/bin/sh\n")) {
		return "", false
	}
	m := wrapperRE.FindSubmatch(buf[:n])
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// take hands an op to a helper: the one the wrapper at path would exec
// (through $HEARTBEATD in env) must be this pool's binary, unchanged since
// the helper started. args are the wrapper's "$@". ok is false when the op
// must fork instead; nothing has run then.
func (s *Spares) take(path string, args, env []string) (*spare, bool) {
	name, ok := BuiltinAgent(path)
	if !ok || heartbeatdOf(env) != s.bin {
		return nil, false
	}
	req, err := agent.Request{Agent: name, Args: args, Env: env, Report: reportFD}.Encode()
	if err != nil {
		return nil, false
	}
	cur, err := statBin(s.bin)
	if err != nil {
		return nil, false
	}
	for {
		s.mu.Lock()
		if len(s.idle) == 0 {
			s.mu.Unlock()
			s.refill()
			return nil, false
		}
		sp := s.idle[0]
		s.idle = s.idle[1:]
		s.mu.Unlock()
		if sp.bin != cur || exited(sp.cmd.Process.Pid) {
			s.discard(sp)
			continue
		}
		// A helper that died since the check fails this write (EPIPE):
		// the request fits in the pipe, so it never blocks.
		_, err := sp.req.Write(req)
		if cerr := sp.req.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.discard(sp)
			continue
		}
		s.mu.Lock()
		s.inFlight++
		s.mu.Unlock()
		return sp, true
	}
}

// done is told when the op of a taken helper has ended: once none has run
// for refillQuiet, the pool is filled up again.
func (s *Spares) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if s.inFlight > 0 || s.closed {
		return
	}
	if s.later != nil {
		s.later.Stop()
	}
	s.later = s.clk.AfterFunc(refillQuiet, func() {
		s.mu.Lock()
		busy := s.inFlight > 0 // its done arms the refill again
		s.mu.Unlock()
		if !busy {
			s.refill()
		}
	})
}

// heartbeatdOf is the binary the wrappers exec under env.
func heartbeatdOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HEARTBEATD="); ok && v != "" {
			return v
		}
	}
	return "/usr/sbin/heartbeatd"
}

// exited reports whether pid (our child) has exited, without reaping it.
func exited(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != nil || info.Signo != 0
}

// refill starts helpers, in the background, until size are idle or being
// started.
func (s *Spares) refill() {
	s.mu.Lock()
	n := s.size - len(s.idle) - s.pending
	if s.closed || n <= 0 {
		s.mu.Unlock()
		return
	}
	s.pending += n
	s.mu.Unlock()
	go func() {
		for ; n > 0; n-- {
			sp, err := s.start()
			s.mu.Lock()
			s.pending--
			keep := err == nil && !s.closed
			if keep {
				s.idle = append(s.idle, sp)
			}
			s.mu.Unlock()
			if err == nil && !keep {
				s.discard(sp)
			}
			// A binary that cannot be started now leaves the pool short:
			// ops fork (and report why the wrapper fails), and the next
			// take tries again.
		}
	}()
}

// start starts one helper, in its own process group, waiting on its stdin.
func (s *Spares) start() (*spare, error) {
	id, err := statBin(s.bin)
	if err != nil {
		return nil, err
	}
	var fds [8]*os.File // stdin r/w, stdout r/w, stderr r/w, report r/w
	closeAll := func() {
		for _, f := range fds {
			if f != nil {
				f.Close()
			}
		}
	}
	for i := 0; i < len(fds); i += 2 {
		if fds[i], fds[i+1], err = os.Pipe(); err != nil {
			closeAll()
			return nil, err
		}
	}
	cmd := &exec.Cmd{
		Path:        s.bin,
		Args:        []string{s.bin, "resource", agent.StandbyFlag},
		Env:         baseEnv,
		Dir:         "/",
		Stdin:       fds[0],
		Stdout:      fds[3],
		Stderr:      fds[5],
		ExtraFiles:  []*os.File{fds[7]}, // reportFD
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	for _, i := range []int{0, 3, 5, 7} { // the child's ends
		fds[i].Close()
	}
	if err != nil {
		for _, i := range []int{1, 2, 4, 6} {
			fds[i].Close()
		}
		return nil, err
	}
	return &spare{cmd: cmd, req: fds[1], stdout: fds[2], stderr: fds[4], report: fds[6], bin: id}, nil
}

// discard ends a helper that ran nothing: it is killed with its group and
// reaped. Waiting blocked in a read, it dies at once.
func (s *Spares) discard(sp *spare) {
	sp.req.Close()
	_ = unix.Kill(-sp.cmd.Process.Pid, unix.SIGKILL)
	_ = sp.cmd.Wait()
	sp.stdout.Close()
	sp.stderr.Close()
	sp.report.Close()
}
