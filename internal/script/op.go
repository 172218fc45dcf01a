package script

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
)

// RunOp runs one op of a group's resource for the executor, with the
// lines Heartbeat's ResourceManager writes around it: "Running PATH ARGS
// OP" before a start or stop and "Return code N from PATH" after a failed
// one; why a script could not be run, for any op. What to do about the
// outcome (status before start, the release of a half-started group,
// stop retries) is decided by the node core (internal/grouprun), not here.
func (r *Runner) RunOp(ctx context.Context, res haresources.Resource, op string, env []string) Result {
	if op == OpMonitor {
		return r.runMonitor(ctx, res, env)
	}
	if op != "start" && op != "stop" {
		out := r.RunEnv(ctx, res, op, env)
		if out.Err != nil {
			r.logRunError(out.Err)
		}
		return out
	}
	path, err := r.Locate(res.Script)
	if err != nil {
		r.logRunError(err)
		return Result{ExitCode: -1, Args: ScriptArgs(res), Err: err}
	}
	// Heartbeat's line is "Running $spath $arg $2": two blanks if no args.
	cmdline := fmt.Sprintf("%s %s %s", path, strings.Join(ScriptArgs(res), " "), op)
	r.log(EntityResourceManager, LevelInfo, "Running "+cmdline)
	r.log(EntityResourceManager, LevelDebug, "Starting "+cmdline)
	out := r.RunEnv(ctx, res, op, env)
	if out.Err != nil {
		r.logRunError(out.Err)
		return out
	}
	r.log(EntityResourceManager, LevelDebug, fmt.Sprintf("%s done. RC=%d", cmdline, out.ExitCode))
	if out.ExitCode != 0 {
		r.log(EntityResourceManager, LevelError, fmt.Sprintf("Return code %d from %s", out.ExitCode, out.Path))
	}
	return out
}

// StartChecks reports whether res's start does ResourceManager's status
// check itself, so that the status run before it can be left out: res
// resolves to one of heartbeatd's own wrappers (BuiltinAgent), for an
// agent that says so (agent.MarkStartChecks). The script is resolved
// again at each call, as for a run: an admin who replaced the wrapper with
// a script of their own gets the status run again.
func (r *Runner) StartChecks(res haresources.Resource) bool {
	path, err := r.Locate(res.Script)
	if err != nil {
		return false
	}
	name, ok := BuiltinAgent(path)
	if !ok || !agent.StartChecks(name) {
		return false
	}
	r.log(EntityResourceManager, LevelDebug, fmt.Sprintf("%s %s: no status before start; %s's start checks for itself",
		path, strings.Join(ScriptArgs(res), " "), name))
	return true
}

// logRunError logs why a script could not be run, in Heartbeat's wording
// where Heartbeat has one.
func (r *Runner) logRunError(err error) {
	var serr *haresources.ScriptError
	if errors.As(err, &serr) {
		// Heartbeat's "Cannot locate resource script NAME", then our reasons.
		r.log(EntityResourceManager, LevelError, "Cannot"+strings.TrimPrefix(serr.Error(), "cannot"))
		return
	}
	r.log(EntityResourceManager, LevelError, err.Error())
}

// IsMissing reports whether a Result's Err says the resolver found no
// script to run.
func IsMissing(err error) bool {
	return errors.As(err, new(*haresources.ScriptError))
}

// IsRunning runs `<script> [args…] status` and returns Heartbeat's verdict.
// err is non-nil when the script could not be run to completion; running
// is then meaningless and callers must decide what "unknown" means.
func (r *Runner) IsRunning(ctx context.Context, res haresources.Resource) (running bool, err error) {
	out := r.Run(ctx, res, "status")
	if out.Err != nil {
		return false, fmt.Errorf("status of %s: %w", res.Script, out.Err)
	}
	return out.Running, nil
}
