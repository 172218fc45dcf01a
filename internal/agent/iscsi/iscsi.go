// Package iscsi holds the built-in iSCSI target agents:
//
//   - iscsitarget: the whole target service, as Heartbeat v1 clusters use
//     the distribution's init script (`... drbddisk::iscsi.target.0
//     iscsitarget` in haresources, seed 002). With IET it runs ietd on
//     /etc/iet/ietd.conf; with tgt it runs tgtd and loads targets.conf.
//   - iSCSITarget::IQN[::PORTALS[::TID[::INITIATORS]]] and
//     iSCSILogicalUnit::IQN::LUN::PATH: one target or one LUN, created and
//     deleted with tgtadm or ietadm, with the command lines of
//     resource-agents' iSCSITarget and iSCSILogicalUnit.
//
// The back end is IET when ietadm or ietd is installed, else tgt; the
// environment variable ISCSI_IMPLEMENTATION=iet|tgt, or a first argument
// `iet` or `tgt` to iscsitarget, chooses explicitly.
//
// monitor (heartbeatd's) is stricter than status: "running" only when
// everything is exported and serving (iscsitarget: every configured target
// with at least one LUN; iSCSITarget: the target present, tgtd ready or
// ietd alive; iSCSILogicalUnit: the LUN exporting its path, which still
// exists); "stopped" (exit 7) when absent; "failed: REASON" (exit 1)
// otherwise.
//
// Status never trusts a daemon alone: a target counts as running only when
// the target subsystem lists it, and a partial state (some of the
// configured targets exported, or IET's kernel still holding targets after
// ietd died) prints "may be running", because initiators can still write
// through whatever is left, and the peer must not export the same disk.
package iscsi

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"heartbeatd/internal/agent"
)

func init() {
	agent.Register("iscsitarget", ServiceMain)
	agent.Register("iSCSITarget", TargetMain)
	agent.Register("iSCSILogicalUnit", LogicalUnitMain)
}

// ServiceMain is the iscsitarget entry point: [iet|tgt] start|stop|status|monitor.
func ServiceMain(args []string, io agent.IO) int { return New(io.Getenv).Service(args, io) }

// TargetMain is the iSCSITarget entry point.
func TargetMain(args []string, io agent.IO) int { return New(io.Getenv).Target(args, io) }

// LogicalUnitMain is the iSCSILogicalUnit entry point.
func LogicalUnitMain(args []string, io agent.IO) int { return New(io.Getenv).LogicalUnit(args, io) }

// Result is what one program run produced.
type Result = agent.CommandResult

// Runner runs a program to completion. err is set only when it could not
// be run at all (not found, not executable).
type Runner func(name string, args ...string) (Result, error)

// Config is what the agents read from the environment; every path and
// program is overridable so tests can run a private tgtd or the fakes.
type Config struct {
	// Impl is ISCSI_IMPLEMENTATION: "iet", "tgt" or "" (detect).
	Impl string

	// Tgtadm, Tgtd, TgtAdmin are $TGTADM, $TGTD, $TGT_ADMIN (default the
	// names in PATH).
	Tgtadm, Tgtd, TgtAdmin string
	// ControlPort is $TGT_CONTROL_PORT: tgtd's management port, passed as
	// -C to every tgt program (tgtd listens on /var/run/tgtd/socket.N).
	// 0, the default, is the system tgtd. tgtd itself refuses values
	// above 32767 ("out of range"), so ConfigFromEnv does too, before a
	// takeover depends on it.
	ControlPort int
	// LLD is $TGT_LLD, the tgt low-level driver (default "iscsi").
	LLD string
	// TgtConf is $TGT_CONF, the targets.conf iscsitarget loads (default
	// /etc/tgt/targets.conf).
	TgtConf string
	// TgtdPortal is $TGT_ISCSI_PORTAL: if set, tgtd is started with
	// `--iscsi portal=VALUE` (default: tgtd's own, 0.0.0.0:3260).
	TgtdPortal string

	// Ietadm, Ietd are $IETADM, $IETD (default names in PATH).
	Ietadm, Ietd string
	// IetConf is $IET_CONF (default /etc/iet/ietd.conf, which seed 002
	// makes a symlink into the replicated file system).
	IetConf string
	// IetProc is $IET_PROC, the directory of the IET kernel module's
	// volume and session files (default /proc/net/iet).
	IetProc string
	// IetdPidfile is $IETD_PIDFILE (default /var/run/ietd.pid, where ietd
	// writes its pid).
	IetdPidfile string
	// Modprobe is $MODPROBE (default "modprobe"), used to load iscsi_trgt.
	Modprobe string
}

// maxTgtControlPort is the largest value tgtd 1.0.x accepts for -C.
const maxTgtControlPort = 32767

// ConfigFromEnv reads the Config; a malformed TGT_CONTROL_PORT is an error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(name, def string) string {
		if getenv != nil {
			if v := getenv(name); v != "" {
				return v
			}
		}
		return def
	}
	c := Config{
		Impl:        env("ISCSI_IMPLEMENTATION", ""),
		Tgtadm:      env("TGTADM", "tgtadm"),
		Tgtd:        env("TGTD", "tgtd"),
		TgtAdmin:    env("TGT_ADMIN", "tgt-admin"),
		LLD:         env("TGT_LLD", "iscsi"),
		TgtConf:     env("TGT_CONF", "/etc/tgt/targets.conf"),
		TgtdPortal:  env("TGT_ISCSI_PORTAL", ""),
		Ietadm:      env("IETADM", "ietadm"),
		Ietd:        env("IETD", "ietd"),
		IetConf:     env("IET_CONF", "/etc/iet/ietd.conf"),
		IetProc:     env("IET_PROC", "/proc/net/iet"),
		IetdPidfile: env("IETD_PIDFILE", "/var/run/ietd.pid"),
		Modprobe:    env("MODPROBE", "modprobe"),
	}
	if p := env("TGT_CONTROL_PORT", ""); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > maxTgtControlPort {
			return c, fmt.Errorf("TGT_CONTROL_PORT %q: want a number from 0 to %d (tgtd -C refuses others)", p, maxTgtControlPort)
		}
		c.ControlPort = n
	}
	switch c.Impl {
	case "", "iet", "tgt":
	default:
		return c, fmt.Errorf("ISCSI_IMPLEMENTATION %q: want iet or tgt", c.Impl)
	}
	return c, nil
}

// Agent holds the configuration and what the agents touch of the system.
type Agent struct {
	Config
	// ConfigErr is a problem found reading the environment; every
	// operation reports it.
	ConfigErr error
	Run       Runner
	LookPath  func(string) (string, error)
	Sleep     func(time.Duration)
	Kill      func(pid int, sig syscall.Signal) error
	// ProcRoot is "/proc", where ietd's liveness is checked.
	ProcRoot string
	// WaitTries and Interval bound every wait for a daemon to come up or
	// go away, and the retries of a LUN deletion tgt refuses while the LUN
	// is in use.
	WaitTries int
	Interval  time.Duration
}

// New returns an Agent configured from the environment.
func New(getenv func(string) string) *Agent {
	c, err := ConfigFromEnv(getenv)
	return &Agent{
		Config:    c,
		ConfigErr: err,
		Run:       agent.RunCommand,
		LookPath:  exec.LookPath,
		Sleep:     time.Sleep,
		Kill:      syscall.Kill,
		ProcRoot:  "/proc",
		WaitTries: 50,
		Interval:  200 * time.Millisecond,
	}
}

// errNotInstalled marks failures that mean a program is missing, for exit
// code 5.
var errNotInstalled = errors.New("not installed")

// backend picks iet or tgt: explicit choice first, then what is installed.
func (a *Agent) backend(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if a.Impl != "" {
		return a.Impl, nil
	}
	for _, p := range []string{a.Ietadm, a.Ietd} {
		if _, err := a.LookPath(p); err == nil {
			return "iet", nil
		}
	}
	for _, p := range []string{a.Tgtadm, a.Tgtd} {
		if _, err := a.LookPath(p); err == nil {
			return "tgt", nil
		}
	}
	return "", fmt.Errorf("neither IET (ietd/ietadm) nor tgt (tgtd/tgtadm) is installed; install tgt (apt-get install tgt) or set ISCSI_IMPLEMENTATION: %w", errNotInstalled)
}

// run runs a program and turns "could not run it" into errNotInstalled.
func (a *Agent) run(name string, args ...string) (Result, error) {
	r, err := a.Run(name, args...)
	if err != nil {
		return r, fmt.Errorf("run %s: %v: %w", name, err, errNotInstalled)
	}
	return r, nil
}

// fail prints err and returns the exit code it deserves.
func fail(io agent.IO, who string, err error) int {
	io.Errorf("%s: %v", who, err)
	if errors.Is(err, errNotInstalled) {
		return agent.NotInstalled
	}
	return agent.Failed
}

// done ends start or stop: OK, or err printed with its exit code.
func done(io agent.IO, who string, err error) int {
	if err != nil {
		return fail(io, who, err)
	}
	return agent.OK
}

// state is a status verdict.
type state int

const (
	stopped state = iota
	running
	unknown
)

// prepare is the part of every operation that depends on it: the
// environment's errors, and the back end (explicit, or what is installed).
// be is "" when the operation ends here, with code: nothing installed is
// "stopped" to status and monitor (it exports nothing), an error to start
// and stop.
func (a *Agent) prepare(who, explicit, op string, io agent.IO) (be string, code int) {
	if a.ConfigErr != nil {
		io.Errorf("%s: %v", who, a.ConfigErr)
		return "", agent.BadArgs
	}
	be, err := a.backend(explicit)
	switch {
	case err == nil:
		return be, agent.OK
	case op == "status":
		return "", report(io, who, stopped, err.Error())
	case op == "monitor":
		fmt.Fprintf(io.Stderr, "%s: %v\n", who, err)
		return "", agent.Absent(io)
	}
	return "", fail(io, who, err)
}

// monitorReport answers monitor from a status verdict that is not
// "running": stopped is absent, unknown (partly there, or unreadable) a
// failure.
func monitorReport(io agent.IO, who string, s state, why string) int {
	if s == stopped {
		if why != "" {
			fmt.Fprintf(io.Stderr, "%s: %s\n", who, why)
		}
		return agent.Absent(io)
	}
	return agent.Unhealthy(io, who, "not fully exported", why)
}

// report prints the fixed status word (stdout) with why on stderr.
func report(io agent.IO, who string, s state, why string) int {
	if why != "" {
		fmt.Fprintf(io.Stderr, "%s: %s\n", who, why)
	}
	switch s {
	case running:
		io.Printf("running")
		return agent.StatusRunning
	case stopped:
		io.Printf("stopped")
		return agent.StatusStopped
	default:
		// Not "cannot determine status": Heartbeat's *[Nn][Oo][Tt]\
		// *[Rr]unning* glob would read "not ... running" as stopped.
		io.Printf("may be running")
		return agent.StatusUnknown
	}
}

// splitList splits a comma- or blank-separated list (haresources arguments
// cannot contain blanks, so commas are the usual form there).
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// validIQN is a loose check of an iSCSI name: the forms of RFC 3720
// (iqn., eui., naa.) and no characters that would split a command line.
func validIQN(s string) bool {
	if !(strings.HasPrefix(s, "iqn.") || strings.HasPrefix(s, "eui.") || strings.HasPrefix(s, "naa.")) || len(s) > 223 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == '\\' || r == '"' || r == '\'' || r > 126 {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fileExists distinguishes "no such file" from other stat errors.
func statErr(path string) error {
	_, err := os.Stat(path)
	return err
}
