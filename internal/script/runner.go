// Package script runs Heartbeat R1 resource scripts the way Heartbeat's
// ResourceManager does: `<script> [args…] start|stop|status`, one op at a
// time, status judged from the output text, in its own process group with
// a timeout. It is the shell around the node core: it forks processes and
// waits, so it takes a clock.Clock for every wait that matters to
// behaviour, and decides no policy (what comes before and after an op,
// retries, rebooting: internal/grouprun and the resource manager).
package script

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/level"
)

// Logger receives every line this package logs. entity is the program tag
// Heartbeat would use ("ResourceManager", or the script's name for its
// output); level is Heartbeat's spelling: "CRIT", "ERROR", "WARN", "info",
// "debug".
type Logger interface {
	Log(entity string, lv level.Level, text string)
}

// Heartbeat's level words, as they appear in its log lines.
const (
	LevelCrit  = level.Crit
	LevelError = level.Error
	LevelWarn  = level.Warn
	LevelInfo  = level.Info
	LevelDebug = level.Debug
)

// EntityResourceManager is the tag of the group-operation log lines, as in
// Heartbeat's `ResourceManager(default)[pid]: info: Acquiring resource group`.
const EntityResourceManager = "ResourceManager"

// Defaults for the zero values of Runner's fields.
const (
	DefaultKillGrace = 5 * time.Second // SIGTERM to SIGKILL
	DefaultReapGrace = 5 * time.Second // SIGKILL to giving up on the process
	// drainDelay bounds how long Run waits, after the script has exited, for
	// its output pipes to close. A start script that leaves a daemon holding
	// them open must not hang the resource manager.
	drainDelay = 200 * time.Millisecond
	readChunk  = 32 << 10
)

// Runner runs resource scripts. The zero value is usable: default dirs, no
// timeout, real clock, no logging. A Runner is safe for concurrent use if
// its fields are not changed meanwhile.
type Runner struct {
	// Dirs are searched in order for the script by haresources.Resolver
	// (the resolver `heartbeatd check` uses too). Default
	// haresources.DefaultDirs.
	Dirs []string
	// Env is added to the scripts' environment, later entries winning; see
	// Environment for what Heartbeat provides. The daemon's own environment
	// is NOT passed on: scripts see baseEnv plus Env, nothing else.
	Env []string
	// Timeout per script run; 0 means none, as in Heartbeat, which waits
	// for ever. On timeout the script's whole process group gets SIGTERM,
	// then SIGKILL after KillGrace; ReapGrace bounds the wait after that.
	Timeout   time.Duration
	KillGrace time.Duration // default DefaultKillGrace
	// MonitorTimeout bounds a monitor op (ha.cf monitor_timeout) in
	// addition to Timeout; 0 = Timeout only.
	MonitorTimeout time.Duration
	// ReapGrace is how long the script may take to die after SIGKILL.
	// A process blocked in the kernel (a hung umount or NFS call, D state)
	// does not die of SIGKILL until the kernel lets go of it, which may be
	// never; past ReapGrace the run ends with an *UnkillableError and the
	// process is reaped in the background, with a log line when it goes.
	// Default DefaultReapGrace.
	ReapGrace time.Duration
	// Clock paces timeouts and the kill and reap graces. Default
	// clock.Real.
	Clock  clock.Clock
	Log    Logger
	Output OutputLimits
	// Spares, if set, runs the ops of heartbeatd's own agents in helpers
	// started in advance instead of forking the wrapper.
	Spares *Spares
}

// Result is what one script run produced.
type Result struct {
	// Path is the script found; empty if lookup failed.
	Path string
	// Args are the arguments passed before the action.
	Args []string
	// ExitCode is the exit status; 128+N if killed by signal N (as a shell
	// reports it); -1 if the script never ran.
	ExitCode int
	// Output holds stdout and stderr lines in arrival order, sanitised and
	// bounded by OutputLimits (a marker line stands for omitted lines).
	Output       []string
	OmittedLines int
	// Running is Heartbeat's status verdict (see Status) over the complete
	// stdout, however long; it is what matters for a "status" call.
	Running bool
	// TimedOut is set when Runner.Timeout ended the run.
	TimedOut bool
	// Err is set when the script could not be run to completion: not found,
	// exec failure, timeout, context end. A script that ran and exited
	// non-zero has Err == nil and ExitCode != 0. A script that would not
	// die when killed has an *UnkillableError here (errors.Is
	// ErrUnkillable).
	Err error
}

// ErrUnkillable is matched (errors.Is) by the error of a run whose script
// was killed and did not die: see UnkillableError.
var ErrUnkillable = errors.New("process does not die of SIGKILL")

// UnkillableError is Result.Err when a script overran (timeout or end of
// the context), was sent SIGKILL, and was still not dead ReapGrace later.
// Whatever it was doing is stuck in the kernel and may still be under way:
// for a stop, the resource must be taken as still active, and only a reboot
// clears it. The process is reaped in the background and its end logged.
type UnkillableError struct {
	Path  string        // the script
	Op    string        // start, stop, status
	Pid   int           // the script's process, leader of its group
	Grace time.Duration // waited after SIGKILL
	Cause error         // why it was killed: the timeout, or the context's error
}

func (e *UnkillableError) Error() string {
	return fmt.Sprintf("%s %s: %v; process group %d killed, but process %d is still there %v after SIGKILL (blocked in the kernel?)",
		e.Path, e.Op, e.Cause, e.Pid, e.Pid, e.Grace)
}

// Unwrap gives ErrUnkillable and the cause, so errors.Is finds either
// (context.DeadlineExceeded for a context that timed out).
func (e *UnkillableError) Unwrap() []error { return []error{ErrUnkillable, e.Cause} }

// Failed reports whether the run counts as a failure for start or stop.
func (r Result) Failed() bool { return r.Err != nil || r.ExitCode != 0 }

// Locate finds script the way ResourceManager's scriptpath does, through
// haresources.Resolver over Dirs: the first of Dirs holding a regular file
// (symlinks followed) that we may execute. Every failure is a
// *haresources.ScriptError.
func (r *Runner) Locate(script string) (string, error) {
	return haresources.Resolver{Dirs: r.Dirs}.Path(script)
}

// ScriptArgs are the arguments Heartbeat passes for res, before the action.
// ResourceManager expands them unquoted, so blanks inside an argument split
// it and empty arguments vanish; we do the same (but never glob).
func ScriptArgs(res haresources.Resource) []string {
	var out []string
	for _, a := range res.Args {
		out = append(out, strings.Fields(a)...)
	}
	return out
}

// Run runs `<script> [args…] <op>` directly (no shell) in its own process
// group, with the output captured, logged at debug level under the script's
// name, and judged by Status.
func (r *Runner) Run(ctx context.Context, res haresources.Resource, op string) Result {
	return r.RunEnv(ctx, res, op, nil)
}

// RunEnv is Run with env added to the script's environment for this run
// only (after Env, so it wins).
func (r *Runner) RunEnv(ctx context.Context, res haresources.Resource, op string, env []string) Result {
	out := Result{ExitCode: -1, Args: ScriptArgs(res)}
	if op == "" || strings.ContainsRune(op, 0) {
		out.Err = fmt.Errorf("resource %s: invalid action %q", res.Script, op)
		return out
	}
	path, err := r.Locate(res.Script)
	if err != nil {
		out.Err = err
		return out
	}
	out.Path = path
	argv := append(append([]string{path}, out.Args...), op)

	entity := res.Script
	c := newCapture(r.Output, func(line string) {
		lv, text := outputLevel(line)
		r.log(entity, lv, text)
	})

	p, err := r.startProcess(argv, mergeEnv(mergeEnv(baseEnv, r.Env), env))
	if err != nil {
		out.Err = fmt.Errorf("run %s %s: %w", path, op, err)
		return out
	}
	if p.spare {
		defer r.Spares.done()
	}
	cmd, pid := p.cmd, p.cmd.Process.Pid
	c.read(p.stdout, p.stderr)

	// Learn of the exit without reaping: while the leader is an unreaped
	// zombie its pid cannot be reused, so signalling the group stays safe.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				return
			}
		}
	}()

	// A standby helper reports its agent's exit code before it exits (see
	// agent.Request.Report); a helper that dies without doing so (a crash)
	// is judged by its exit, as a script is.
	reported := make(chan report, 1)
	if p.report != nil {
		go func() {
			defer p.report.Close()
			// One write of one or two bytes: a pipe hands it over whole.
			var b [2]byte
			if n, _ := p.report.Read(b[:]); n >= 1 {
				reported <- report{code: int(b[0]), early: n == 2 && b[1] == agent.SettledEarly}
			}
		}()
	}

	clk := r.clock()
	var timeout <-chan time.Time
	if r.Timeout > 0 {
		timeout = clk.After(r.Timeout)
	}
	var cause error // why the script was killed
	select {
	case rep := <-reported:
		// The op is over; the process's exit, a millisecond of Go runtime
		// teardown, is waited for in the background. Its group is never
		// signalled again, so its pid being reused later is harmless.
		out.ExitCode = rep.code
		if rep.early {
			// The agent goes on for a while (agent.IO.Settle): its output
			// is logged as it comes, and it is killed if it overstays.
			c.settle(&out)
			go r.afterSettle(c, cmd, pid, exited, entity, path, op)
			return out
		}
		go func() { <-exited; _ = cmd.Wait() }()
		r.drain(c, entity, path, op)
		c.finish(&out)
		return out
	case <-exited:
	case <-timeout:
		out.TimedOut = true
		cause = fmt.Errorf("timed out after %v", r.Timeout)
	case <-ctx.Done():
		cause = ctx.Err()
	}
	reaped := true
	if cause != nil {
		if reaped = r.killGroup(pid, exited); reaped {
			out.Err = fmt.Errorf("%s %s: %w; process group %d killed", path, op, cause, pid)
		} else {
			out.Err = &UnkillableError{Path: path, Op: op, Pid: pid, Grace: r.reapGrace(), Cause: cause}
			r.reapLater(cmd, exited, path, op, clk.Now())
		}
	}

	// Only an exited script is waited for: cmd.Wait on one that did not
	// die of SIGKILL would block for as long as the kernel holds it.
	if reaped {
		waitErr := cmd.Wait()
		out.ExitCode = exitCode(cmd.ProcessState)
		if out.Err == nil && out.ExitCode < 0 {
			out.Err = fmt.Errorf("%s %s: %w", path, op, waitErr)
		}

		r.drain(c, entity, path, op)
	}
	// An unkillable script holds its pipes open: what it wrote before it
	// got stuck has been collected; the readers discard the rest.
	c.finish(&out)
	return out
}

// report is what a standby helper said on its report pipe.
type report struct {
	code  int
	early bool // agent.SettledEarly: the agent is still running
}

// afterSettle sees an agent that settled early to its end: it logs the
// rest of its output, kills its group if it is still there a Timeout
// after the settle (an agent that said it was done must not linger), and
// reaps it.
func (r *Runner) afterSettle(c *capture, cmd *exec.Cmd, pid int, exited <-chan struct{}, entity, path, op string) {
	clk := r.clock()
	var limit <-chan time.Time
	if r.Timeout > 0 {
		limit = clk.After(r.Timeout)
	}
	select {
	case <-exited:
	case <-limit:
		r.log(EntityResourceManager, LevelWarn, fmt.Sprintf("%s %s: still running %v after it reported its result; killing process group %d", path, op, r.Timeout, pid))
		if !r.killGroup(pid, exited) {
			r.reapLater(cmd, exited, path, op, clk.Now())
			return
		}
	}
	_ = cmd.Wait()
	r.drain(c, entity, path, op)
	c.finish(new(Result))
}

// drain waits, for at most drainDelay, for the output readers of a script
// that has ended to see EOF. The pipes are plain files, not cmd's own
// copies, so cmd.Wait never waits for them.
func (r *Runner) drain(c *capture, entity, path, op string) {
	drained := make(chan struct{})
	go func() { c.readers.Wait(); close(drained) }()
	drain := time.NewTimer(drainDelay)
	defer drain.Stop()
	select {
	case <-drained:
	case <-drain.C:
		// Something the script started still holds the pipes. The readers
		// keep draining and discarding so it never blocks on a full pipe.
		r.log(entity, LevelDebug, fmt.Sprintf("%s %s: output still open after exit; no longer collected", path, op))
	}
}

// process is one started script or taken helper, with the read ends of
// its pipes.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	report         *os.File // a helper's exit-code pipe; nil for a script
	spare          bool     // a helper from Spares
}

// startProcess starts argv in its own process group, with its stdout and
// stderr on pipes: a standby helper from Spares when argv[0] is a wrapper
// of a built-in agent, or a fork and exec.
func (r *Runner) startProcess(argv, env []string) (process, error) {
	if r.Spares != nil {
		if sp, ok := r.Spares.take(argv[0], argv[1:], env); ok {
			return process{sp.cmd, sp.stdout, sp.stderr, sp.report, true}, nil
		}
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return process{}, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutR.Close()
		stdoutW.Close()
		return process{}, err
	}
	cmd := &exec.Cmd{
		Path:        argv[0],
		Args:        argv,
		Env:         env,
		Dir:         "/",
		Stdout:      stdoutW,
		Stderr:      stderrW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		return process{}, err
	}
	return process{cmd: cmd, stdout: stdoutR, stderr: stderrR}, nil
}

// killGroup ends a script that overran: SIGTERM to its process group, then
// after KillGrace (or once the leader has died) SIGKILL to whatever is left
// of the group. Processes that moved to another group or session are out of
// reach, as with any init system that does not use cgroups. It reports
// whether the leader died within ReapGrace of the SIGKILL; a process
// blocked in the kernel may not die at all, and the resource manager must
// not wait for it for ever.
func (r *Runner) killGroup(pid int, exited <-chan struct{}) bool {
	_ = unix.Kill(-pid, unix.SIGTERM)
	grace := r.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	clk := r.clock()
	select {
	case <-exited:
	case <-clk.After(grace):
	}
	_ = unix.Kill(-pid, unix.SIGKILL)
	select {
	case <-exited:
		return true
	case <-clk.After(r.reapGrace()):
		return false
	}
}

func (r *Runner) reapGrace() time.Duration {
	if r.ReapGrace <= 0 {
		return DefaultReapGrace
	}
	return r.ReapGrace
}

// reapLater waits for a script that survived SIGKILL, reaps it so it does
// not stay a zombie, and logs once that it has gone, so the admin who saw
// the UnkillableError learns when the kernel let go of it.
func (r *Runner) reapLater(cmd *exec.Cmd, exited <-chan struct{}, path, op string, killed time.Time) {
	go func() {
		<-exited
		_ = cmd.Wait()
		r.log(EntityResourceManager, LevelWarn, fmt.Sprintf("%s %s: process %d, which survived SIGKILL, has exited at last (exit code %d, %v after it was given up on)",
			path, op, cmd.Process.Pid, exitCode(cmd.ProcessState), r.clock().Since(killed).Round(time.Millisecond)))
	}()
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode()
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return -1
}

func (r *Runner) clock() clock.Clock {
	if r.Clock == nil {
		return clock.Real{}
	}
	return r.Clock
}

func (r *Runner) log(entity string, lv level.Level, text string) {
	if r.Log != nil {
		r.Log.Log(entity, lv, text)
	}
}

// outputLevel is the log level of one line of a script's output. Most
// output is chatter and goes to the debug log, as in Heartbeat; a line that
// says it is an error or a warning ("ERROR: ...", "WARNING: ...", the
// prefixes of ocf_log and of heartbeatd's own agents) is logged at that
// level, so that the reason a start failed, or a takeover's note about a
// dead node that still answers for an address, reaches syslog. Stock OCF
// scripts log through ha_log themselves when HA_LOGFACILITY is set and then
// print nothing, so this does not double their lines.
func outputLevel(line string) (lv level.Level, text string) {
	for _, p := range [...]struct {
		prefix string
		level  level.Level
	}{
		{"ERROR: ", LevelError}, {"CRIT: ", LevelError},
		{"WARNING: ", LevelWarn}, {"WARN: ", LevelWarn},
	} {
		// The log line carries the level already: drop the prefix.
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.level, rest
		}
	}
	return LevelDebug, line
}
