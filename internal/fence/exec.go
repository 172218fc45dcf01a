package fence

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// call is one program run.
type call struct {
	path  string
	args  []string
	stdin string // "" = /dev/null
	// shown is the command for the log, without parameter values.
	shown string
	// stonith marks cluster-glue's stonith (its exit codes are S_*).
	stonith bool
}

// run runs c in its own process group until it exits or ctx ends; then the
// group gets SIGTERM and, KillGrace later, SIGKILL. It never waits for a
// process the kernel will not let die: after reapGrace it reports the
// operation as timed out and reaps the process in the background.
func (r *Runner) run(ctx context.Context, c call) (res Result) {
	res = Result{Command: c.shown, RC: -1, stonith: c.stonith}
	limit := r.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	stdout, stderr := &capBuffer{max: limit}, &capBuffer{max: limit}
	cmd := &exec.Cmd{
		Path:   c.path,
		Args:   append([]string{c.path}, c.args...),
		Dir:    "/",
		Stdout: stdout,
		Stderr: stderr,
		// Something the program left behind may keep the pipes open; the
		// output is then cut off a second after the program exited.
		WaitDelay:   time.Second,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if c.stdin != "" {
		cmd.Stdin = strings.NewReader(c.stdin)
	}
	start := time.Now()
	defer func() {
		res.Elapsed = time.Since(start)
		res.Stdout, res.Stderr = stdout.String(), stderr.String()
		res.Truncated = stdout.truncated() || stderr.truncated()
	}()
	if err := cmd.Start(); err != nil {
		res.Outcome = Failed
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			res.Outcome = NotInstalled
		}
		res.Err = err
		return res
	}
	pid := cmd.Process.Pid

	// Learn of the exit without reaping: while the leader is an unreaped
	// zombie its pid cannot be reused, so signalling the group stays safe.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
	}()

	var cause error
	select {
	case <-exited:
	case <-ctx.Done():
		cause = ctx.Err()
		if !r.killGroup(pid, exited) {
			res.Outcome = TimedOut
			res.Err = fmt.Errorf("%w; process group %d survived SIGKILL for %v (stuck in the kernel?)", cause, pid, reapGrace)
			go cmd.Wait() // reaps it whenever the kernel lets go
			return res
		}
	}
	waitErr := cmd.Wait()
	if st := cmd.ProcessState; st != nil && st.Exited() {
		res.RC = st.ExitCode()
	}
	switch {
	case cause != nil:
		res.Outcome = TimedOut
		if errors.Is(cause, context.Canceled) {
			res.Outcome = Canceled
		}
		res.Err = fmt.Errorf("%w; process group %d killed", cause, pid)
		res.RC = -1
	case res.RC == 0:
		res.Outcome = OK
	case res.RC > 0:
		res.Outcome = Failed
		res.Err = fmt.Errorf("exit status %d", res.RC)
		if m := res.meaning(); m != "" {
			res.Err = fmt.Errorf("exit status %d (%s)", res.RC, m)
		}
	default:
		res.Outcome = Failed
		res.Err = waitErr
	}
	return res
}

// killGroup sends SIGTERM to the group, then SIGKILL after KillGrace (or
// at once when the leader has died, to end what it left behind). It
// reports whether the leader died within reapGrace of the SIGKILL.
func (r *Runner) killGroup(pid int, exited <-chan struct{}) bool {
	_ = unix.Kill(-pid, unix.SIGTERM)
	grace := r.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	t := time.NewTimer(grace)
	select {
	case <-exited:
	case <-t.C:
	}
	t.Stop()
	_ = unix.Kill(-pid, unix.SIGKILL)
	t = time.NewTimer(reapGrace)
	defer t.Stop()
	select {
	case <-exited:
		return true
	case <-t.C:
		return false
	}
}

// capBuffer keeps the first max bytes written to it and counts the rest.
type capBuffer struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - len(b.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		b.buf = append(b.buf, p[:room]...)
	}
	b.dropped += len(p) - room
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (b *capBuffer) truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped > 0
}
