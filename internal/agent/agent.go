// Package agent holds heartbeatd's built-in resource agents (IPaddr,
// Filesystem, drbddisk, iscsitarget, SCST, ...). Each is reachable as
// `heartbeatd resource NAME ARGS... start|stop|status|monitor` and, through a two-line
// wrapper in /etc/ha.d/resource.d/NAME, exactly where Heartbeat's own scripts
// live, with Heartbeat's script contract (spec §6.2):
//
//   - the operation is the last argument;
//   - start and stop are idempotent: starting a running resource and stopping
//     a stopped one succeed;
//   - status prints "running" or "stopped" (ResourceManager judges the text,
//     not the exit code), and "may be running" when unsure, so that an
//     unknown state counts as running and the peer does not start it too;
//   - a failure exits non-zero with a message that says what to fix;
//   - monitor (heartbeatd's, for resource monitoring) is stricter than
//     status: it prints "running" and exits 0 only when the resource is
//     present AND healthy (IPaddr: address held and link up; Filesystem:
//     mounted and writable; drbddisk: Primary; iSCSI and SCST targets:
//     still configured and serving, with their LUNs); "stopped" with exit
//     7 (LSB "not running") when it is simply absent; "failed: REASON"
//     with exit 1 when it is present but unhealthy, or its state cannot be
//     read. REASON is fixed wording (details go to stderr), so no name can
//     make the status rule read it as running. status keeps its
//     presence-only meaning: it decides before a start, and after a failed
//     stop, whether a shared disk may still be in use here, and a stricter
//     status would let the peer take over a disk this node still writes.
package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// IO is what an agent may touch of its process: output streams and the
// environment. Tests pass buffers and a map.
type IO struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Settle, when set, ends the op for the daemon now, with code as its
	// exit code, while the agent goes on: what it prints afterwards is
	// still logged, but the daemon's next step (the group's next resource)
	// no longer waits for it. For work after the outcome is certain that
	// only informs, such as the takeover's listen for the old holder of an
	// address. The agent must still return the same code, and soon: what
	// follows Settle is bounded by the script timeout. Only a standby
	// helper sets it; through the wrapper the op ends at the exit, as
	// Heartbeat's do.
	Settle func(code int)
}

// Settled calls Settle if it is set.
func (io IO) Settled(code int) {
	if io.Settle != nil {
		io.Settle(code)
	}
}

// OS is the IO of the real process.
func OS() IO { return IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

// Printf writes a line to stdout (the executor logs it under the agent's tag).
func (io IO) Printf(format string, args ...any) {
	fmt.Fprintf(io.Stdout, format+"\n", args...)
}

// Errorf writes an error line to stderr.
func (io IO) Errorf(format string, args ...any) {
	fmt.Fprintf(io.Stderr, "ERROR: "+format+"\n", args...)
}

// Func runs one agent: args are the resource arguments followed by the
// operation. It returns the exit code.
type Func func(args []string, io IO) int

var registry = map[string]Func{}

// Register makes an agent reachable by name (called from init functions).
func Register(name string, f Func) { registry[name] = f }

// Lookup returns the agent called name.
func Lookup(name string) (Func, bool) { f, ok := registry[name]; return f, ok }

// startChecks names the agents whose start does the status check itself:
// see MarkStartChecks.
var startChecks = map[string]bool{}

// MarkStartChecks records that agent name's start does everything
// ResourceManager's "status before start" is for: it reads the state the
// status would read, and when the resource is already running it succeeds
// without starting a second copy, whatever the status would have said
// "running" about. For such an agent, status followed by start is the
// start alone (plus, for an address, one more announcement), and the
// daemon skips the status on the takeover's path (daemon/exec.go).
func MarkStartChecks(name string) { startChecks[name] = true }

// StartChecks reports whether MarkStartChecks was called for name.
func StartChecks(name string) bool { return startChecks[name] }

// Names lists the registered agents.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Exit codes, LSB style.
const (
	OK           = 0
	Failed       = 1
	BadArgs      = 2
	NotInstalled = 5
	// NotRunning is LSB's (and OCF's) "not running", what monitor exits
	// with for an absent resource.
	NotRunning = 7
)

// SplitOp separates the operation (last argument) from the resource
// arguments and checks it is one of ops.
func SplitOp(args []string, ops ...string) (rargs []string, op string, err error) {
	if len(args) == 0 {
		return nil, "", fmt.Errorf("no operation given (want one of %s)", strings.Join(ops, "|"))
	}
	op = args[len(args)-1]
	for _, o := range ops {
		if o == op {
			return args[:len(args)-1], op, nil
		}
	}
	return nil, "", fmt.Errorf("unknown operation %q (want one of %s)", op, strings.Join(ops, "|"))
}

// Exit codes of status, LSB style (as the stock scripts use them);
// Heartbeat judges the printed word, not these.
const (
	StatusRunning = 0
	StatusStopped = 3
	StatusUnknown = 4
)

// CommandResult is what a helper program (drbdadm, tgtadm, ...) produced.
type CommandResult struct {
	Stdout, Stderr string
	Code           int
}

// Text is the program's whole output, for error messages.
func (r CommandResult) Text() string { return strings.TrimSpace(r.Stdout + "\n" + r.Stderr) }

// RunCommand runs a program to completion without a shell. err is set only
// when it could not be run at all; a non-zero exit is Code (128 when it
// was killed by a signal).
func RunCommand(name string, args ...string) (CommandResult, error) {
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := CommandResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
		if res.Code < 0 {
			res.Code = 128
		}
	default:
		return res, err
	}
	return res, nil
}

// EnvTakeoverFrom is set in a start's environment, to the peer's name, when
// the daemon takes the group over from a peer declared dead whose node may
// still be up (its daemon crashed or hung) and still hold the group's
// resources. Agents use it where a safety check for a normal start would
// refuse the takeover: IPaddr skips its duplicate-address probe. It is
// heartbeatd's own variable; stock scripts ignore it.
const EnvTakeoverFrom = "HA_TAKEOVER_FROM"

// EnvDaemonPID is the pid of the heartbeatd daemon that runs the script.
// A background helper that outlives the script (IPaddr's gratuitous ARP
// tail) stops once that daemon is gone: after a crash the peer takes the
// address over, and announcing it from here would pull clients back.
const EnvDaemonPID = "HEARTBEATD_PID"

// EnvReleaseTo is set in a stop's environment, to the peer's name, when the
// group is released because the peer keeps running it (a healed
// partition). IPaddr then points the neighbours at the address's remaining
// holder, which may not announce it itself.
const EnvReleaseTo = "HA_RELEASE_TO"

// Entry is one agent's command line under Heartbeat's script contract,
// `NAME ARGS... start|stop|status|monitor`: the parsing of the arguments
// into S, and what each operation does with them. Its Run is the
// boilerplate every agent shares.
type Entry[S any] struct {
	Name  string // in messages: "Filesystem"
	Usage string // the usage line, after "usage: "
	// Parse turns the resource arguments into the agent's spec; its error
	// says which argument is wrong.
	Parse func(args []string) (S, error)
	// Prepare, when set, runs after Parse with the operation, for what
	// depends on it (iSCSI: which back end is installed, and which
	// arguments that back end refuses). It may complete spec; done means
	// the operation ends here with code.
	Prepare             func(spec *S, op string, io IO) (code int, done bool)
	Start, Stop, Status func(spec S, io IO) int
	// Monitor is the health check (package comment); nil leaves the
	// operation out.
	Monitor func(spec S, io IO) int
}

// Split separates the operation from the resource arguments and parses
// them: what Run does before dispatching.
func (e Entry[S]) Split(args []string) (spec S, op string, err error) {
	ops := []string{"start", "stop", "status"}
	if e.Monitor != nil {
		ops = append(ops, "monitor")
	}
	rargs, op, err := SplitOp(args, ops...)
	if err == nil {
		spec, err = e.Parse(rargs)
	}
	return spec, op, err
}

// Run parses args and runs the operation. A bad command line exits BadArgs
// with the reason and the usage line.
func (e Entry[S]) Run(args []string, io IO) int {
	spec, op, err := e.Split(args)
	if err != nil {
		// An error that already names the agent ("IPaddr 10.0.0.5/33:
		// ...") is not prefixed again.
		if msg := err.Error(); strings.HasPrefix(msg, e.Name+" ") {
			io.Errorf("%s", msg)
		} else {
			io.Errorf("%s: %s", e.Name, msg)
		}
		io.Errorf("usage: %s", e.Usage)
		return BadArgs
	}
	if e.Prepare != nil {
		if code, done := e.Prepare(&spec, op, io); done {
			return code
		}
	}
	switch op {
	case "start":
		return e.Start(spec, io)
	case "stop":
		return e.Stop(spec, io)
	case "monitor":
		return e.Monitor(spec, io)
	}
	return e.Status(spec, io)
}

// Healthy ends a monitor whose resource is present and healthy.
func Healthy(io IO) int {
	io.Printf("running")
	return OK
}

// Absent ends a monitor whose resource is not here at all.
func Absent(io IO) int {
	io.Printf("stopped")
	return NotRunning
}

// Unhealthy ends a monitor whose resource is present but not working, or
// whose state cannot be read: "failed: REASON" on stdout, exit Failed.
// REASON is the agent's fixed wording; detail (names, paths, the
// underlying error; may be "") goes to stderr. A reason the status rule
// would read as running (it contains "running" or "OK") is replaced, so
// that a failure can never pass for health.
func Unhealthy(io IO, who, reason, detail string) int {
	if detail != "" {
		io.Errorf("%s: %s: %s", who, reason, detail)
	}
	if l := strings.ToLower(reason); strings.Contains(l, "running") || strings.Contains(reason, "OK") {
		reason = "unhealthy"
	}
	io.Printf("failed: %s", reason)
	return Failed
}

// EnvARPRefresh carries ha.cf's arp_refresh (heartbeatd's extension) to
// the address agents, in milliseconds; unset or 0 means off. While IPaddr
// or IPv6addr holds an address, its background announcer then re-sends one
// gratuitous ARP (unsolicited neighbour advertisement) every interval, so
// that a router or switch whose entry was flushed or overwritten finds the
// holder again (keepalived's garp_master_refresh).
const EnvARPRefresh = "HA_ARP_REFRESH_MS"
