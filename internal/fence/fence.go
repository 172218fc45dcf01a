// Package fence drives fence (STONITH) devices: cluster-glue's stonith
// plugins through its `stonith` program, as Heartbeat 3.0.6 did through the
// same library, and fence-agents programs (fence_ipmilan, fence_virsh, ...)
// through their key=value standard input. It is shell-side: it runs
// programs and reports what happened; deciding when to fence is the cores'.
//
// Every operation runs in its own process group under a deadline (the
// context's, or Runner.Timeout), and a group that overruns gets SIGTERM and
// then SIGKILL, so a hung power switch cannot hold the caller. The result is
// typed (ok, failed with an exit code, timed out, not installed), with the
// program's output bounded for the log. Parameters never appear in a Result:
// they usually hold a device password.
package fence

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"heartbeatd/internal/config"
)

// Default locations (Debian's cluster-glue and fence-agents packages).
const (
	DefaultStonith   = "/usr/sbin/stonith"
	DefaultPluginDir = "/usr/lib/stonith/plugins"
	DefaultAgentDir  = "/usr/sbin"
	// DefaultMaxOutput bounds what is kept of each of stdout and stderr.
	DefaultMaxOutput = 64 * 1024
	// DefaultKillGrace is the time between SIGTERM and SIGKILL: long enough
	// for an agent to log out of a device that accepts one session at a
	// time, so the next attempt is not locked out.
	DefaultKillGrace = 2 * time.Second
	// reapGrace is how long a SIGKILLed group may take to die before the
	// operation is given up on (a process stuck in the kernel).
	reapGrace = 5 * time.Second
)

// Runner runs fence operations. The zero value uses the default paths and
// config.DefaultFenceTimeout; tests point the paths at other programs.
type Runner struct {
	// Stonith is cluster-glue's stonith program.
	Stonith string
	// PluginDir holds cluster-glue's plugins: stonith2/TYPE.so and
	// external/NAME. It is only used to tell "not installed" apart from a
	// failure; the stonith program finds the plugins itself.
	PluginDir string
	// AgentDir holds the fence_AGENT programs.
	AgentDir string
	// Timeout bounds an operation whose context has no deadline.
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL on a timeout.
	KillGrace time.Duration
	// MaxOutput bounds what is kept of stdout and of stderr.
	MaxOutput int

	mu   sync.Mutex
	meta map[string]*Metadata // agent metadata by program path
}

func (r *Runner) stonith() string   { return or(r.Stonith, DefaultStonith) }
func (r *Runner) pluginDir() string { return or(r.PluginDir, DefaultPluginDir) }
func (r *Runner) agentDir() string  { return or(r.AgentDir, DefaultAgentDir) }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// std is the Runner behind the package-level functions.
var std Runner

// Reset fences node with dev using the default Runner.
func Reset(ctx context.Context, dev config.FenceDevice, node string) Result {
	return std.Reset(ctx, dev, node)
}

// Status checks dev using the default Runner.
func Status(ctx context.Context, dev config.FenceDevice) Result {
	return std.Status(ctx, dev)
}

// Params lists a plugin's or agent's parameters using the default Runner.
func Params(ctx context.Context, kind config.FenceKind, typ string) ([]Param, Result) {
	return std.Params(ctx, kind, typ)
}

// Reset fences node with dev: for a stonith plugin
// `stonith -t TYPE -p "PARAMS" -T reset NODE` (or -F FILE); for a fence
// agent, the agent with action=reboot (off for agents that cannot reboot)
// and the node's name as its plug, port or nodename parameter (see
// Metadata.HostParam). Heartbeat's rule applies: OK means the device
// reported the node reset; anything else means it may still be running.
func (r *Runner) Reset(ctx context.Context, dev config.FenceDevice, node string) Result {
	if err := checkNode(node); err != nil {
		return Result{Outcome: Failed, RC: -1, Command: dev.String(), Err: err}
	}
	ctx, cancel := r.deadline(ctx)
	defer cancel()
	if dev.Kind != config.FenceAgent {
		return r.stonithOp(ctx, dev, "-T", "reset", node)
	}
	meta, res := r.Metadata(ctx, dev.Type)
	if meta == nil {
		return res
	}
	action := meta.ResetAction()
	if action == "" {
		return Result{Outcome: Failed, RC: -1, Command: dev.Type,
			Err: fmt.Errorf("%s can neither reboot nor power off (its metadata lists neither action)", dev.Type)}
	}
	return r.agentOp(ctx, dev, meta, action, node)
}

// checkNode refuses a node name that the stonith program would read as an
// option or a name=value parameter, or that would add a line to an agent's
// standard input.
func checkNode(node string) error {
	if node == "" || node[0] == '-' || len(node) >= 100 || strings.ContainsAny(node, "= \t\r\n\v\f\x00") {
		return fmt.Errorf("%q is not a node name that can be fenced", node)
	}
	return nil
}

// Status checks that dev answers: `stonith ... -S`, or the agent's monitor
// action (status where it has no monitor). It does not check any node.
func (r *Runner) Status(ctx context.Context, dev config.FenceDevice) Result {
	ctx, cancel := r.deadline(ctx)
	defer cancel()
	if dev.Kind != config.FenceAgent {
		return r.stonithOp(ctx, dev, "-S")
	}
	meta, res := r.Metadata(ctx, dev.Type)
	if meta == nil {
		return res
	}
	action := meta.StatusAction()
	if action == "" {
		return Result{Outcome: Failed, RC: -1, Command: dev.Type,
			Err: fmt.Errorf("%s has no monitor or status action", dev.Type)}
	}
	return r.agentOp(ctx, dev, meta, action, "")
}

// Params lists the parameters a device of kind and type takes, for
// validation: a stonith plugin's names from `stonith -t TYPE -n`, in the
// order -p and -F take them (each is required); an agent's from its
// metadata. The Result says why the list is missing.
func (r *Runner) Params(ctx context.Context, kind config.FenceKind, typ string) ([]Param, Result) {
	ctx, cancel := r.deadline(ctx)
	defer cancel()
	if kind == config.FenceAgent {
		meta, res := r.Metadata(ctx, typ)
		if meta == nil {
			return nil, res
		}
		return meta.Params, res
	}
	if res, missing := r.pluginMissing(typ); missing {
		return nil, res
	}
	res := r.run(ctx, call{path: r.stonith(), args: []string{"-t", typ, "-n"}, shown: "stonith -t " + typ + " -n"})
	if res.Outcome == Failed && res.RC == sOOPS {
		// "Invalid device type" (logged to syslog, not to us).
		res.Outcome = NotInstalled
		res.Err = fmt.Errorf("stonith plugin %s is not installed (stonith -L lists the installed ones)", typ)
	}
	if !res.OK() {
		return nil, res
	}
	var out []Param
	for _, name := range strings.Fields(res.Stdout) {
		out = append(out, Param{Name: name, Required: true})
	}
	return out, res
}

// deadline applies Timeout when ctx has no deadline of its own.
func (r *Runner) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	t := r.Timeout
	if t <= 0 {
		t = config.DefaultFenceTimeout
	}
	return context.WithTimeout(ctx, t)
}

// stonithOp runs cluster-glue's stonith for dev with the operation's
// arguments. The parameters are shown as a count only.
func (r *Runner) stonithOp(ctx context.Context, dev config.FenceDevice, op ...string) Result {
	if res, missing := r.pluginMissing(dev.Type); missing {
		return res
	}
	args := []string{"-t", dev.Type}
	shown := "stonith -t " + dev.Type
	if dev.Kind == config.FenceStonithFile {
		args = append(args, "-F", dev.File)
		shown += " -F " + shownFile(dev.File)
	} else {
		args = append(args, "-p", dev.Params)
		shown += fmt.Sprintf(" -p (%d values)", len(strings.Fields(dev.Params)))
	}
	args = append(args, op...)
	shown += " " + strings.Join(op, " ")
	res := r.run(ctx, call{path: r.stonith(), args: args, shown: shown, stonith: true})
	return res
}

// shownFile is a stonith CONFIGFILE as findings and log lines show it. A
// value with blanks or '=' is not a file name but the device's parameters
// written where the file belongs ("stonith apcmaster 10.0.0.3 apc
// PASSWORD"), so only its place is named.
func shownFile(path string) string {
	if strings.ContainsAny(path, "= \t\v\f") {
		return "(the value after TYPE, not shown: it looks like parameters, which may hold a password)"
	}
	return path
}

// pluginMissing tells whether a cluster-glue plugin is absent, by its file:
// the stonith program says nothing useful about it (external/NAME for a
// missing NAME lists no parameters and succeeds). Types of other plugin
// families are left to the stonith program.
func (r *Runner) pluginMissing(typ string) (Result, bool) {
	var path string
	dir, name, sub := strings.Cut(typ, "/")
	switch {
	case !sub:
		path = filepath.Join(r.pluginDir(), "stonith2", typ+".so")
	case dir == "external":
		path = filepath.Join(r.pluginDir(), "external", name)
	default:
		return Result{}, false
	}
	shown := "stonith -t " + typ
	if _, err := os.Stat(r.stonith()); err != nil {
		return Result{Outcome: NotInstalled, RC: -1, Command: shown,
			Err: fmt.Errorf("cluster-glue's stonith program is missing: %w", err)}, true
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return Result{Outcome: NotInstalled, RC: -1, Command: shown,
			Err: fmt.Errorf("stonith plugin %s is not installed (no %s)", typ, path)}, true
	case sub && fi.Mode()&0o111 == 0:
		return Result{Outcome: NotInstalled, RC: -1, Command: shown,
			Err: fmt.Errorf("stonith plugin %s: %s is not executable", typ, path)}, true
	case sub && fi.Mode()&0o022 != 0:
		// cluster-glue's external.c ignores such a script (with a log line).
		return Result{Outcome: NotInstalled, RC: -1, Command: shown,
			Err: fmt.Errorf("stonith plugin %s: %s is writable by group or others, so cluster-glue ignores it", typ, path)}, true
	}
	return Result{}, false
}

// agentOp runs a fence agent with dev's parameters, the action, and the
// target node (if any) as the agent's host parameter, all on stdin.
func (r *Runner) agentOp(ctx context.Context, dev config.FenceDevice, meta *Metadata, action, node string) Result {
	var in strings.Builder
	for _, a := range dev.Args {
		fmt.Fprintf(&in, "%s=%s\n", a.Key, a.Value)
	}
	fmt.Fprintf(&in, "action=%s\n", action)
	shown := fmt.Sprintf("%s action=%s", dev.Type, action)
	if node != "" {
		if key := meta.HostParam(dev); key != "" {
			fmt.Fprintf(&in, "%s=%s\n", key, node)
			shown += fmt.Sprintf(" %s=%s", key, node)
		}
	}
	if n := len(dev.Args); n > 0 {
		shown += fmt.Sprintf(" (+%d values on stdin)", n)
	}
	res := r.run(ctx, call{path: filepath.Join(r.agentDir(), dev.Type), stdin: in.String(), shown: shown})
	if res.Outcome == Failed && action == "status" && res.RC == 2 {
		// fence-agents' status exits 2 for "the plug is off": the device
		// answered, which is all a device check asks.
		res.Outcome = OK
	}
	return res
}
