package script

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"heartbeatd/haresources"
)

// StartFailure is returned by StartGroup when a resource failed to start.
// By then the group has been released again (Release holds what went wrong
// with that, e.g. a *StopFailure). Heartbeat follows this with
// `hb_standby local|foreign` 30 s later; that is the caller's decision.
type StartFailure struct {
	Group    string // the group key
	Resource string // the resource token as written in haresources
	ExitCode int    // -1 if the script did not run to completion
	Err      error  // why it did not run to completion, if so
	Release  error  // from stopping the group again, nil if that succeeded
}

func (e *StartFailure) Error() string {
	msg := fmt.Sprintf("resource group %s: start of %s failed", e.Group, e.Resource)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	} else {
		msg += fmt.Sprintf(": exit code %d", e.ExitCode)
	}
	if e.Release != nil {
		msg += "; releasing the group again failed: " + e.Release.Error()
	}
	return msg
}

func (e *StartFailure) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Err, e.Release} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// StopFailure means a resource could not be stopped and may still be
// running: its stop failed on every try and its status did not say stopped.
// Heartbeat reboots the node at this point ("Resource STOP failure. Reboot
// required!") because the peer must not take over a resource that is still
// active here. This package never reboots; the caller decides, and must not
// treat the group as released.
type StopFailure struct {
	Group    string
	Resource string
	Attempts int   // stop runs made
	ExitCode int   // of the last stop run; -1 if it did not complete
	Err      error // why the last stop did not complete, if so
	// StatusErr is set when the final status check itself failed, in which
	// case the resource is assumed running.
	StatusErr error
}

func (e *StopFailure) Error() string {
	msg := fmt.Sprintf("resource group %s: stop of %s failed %d times", e.Group, e.Resource, e.Attempts)
	if e.Err != nil {
		msg += " (last: " + e.Err.Error() + ")"
	} else {
		msg += fmt.Sprintf(" (last exit code %d)", e.ExitCode)
	}
	if e.StatusErr != nil {
		return msg + " and its status is unknown (" + e.StatusErr.Error() + "): assuming it is still running"
	}
	return msg + " and its status says running"
}

func (e *StopFailure) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Err, e.StatusErr} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// IsRunning runs `<script> [args…] status` and returns Heartbeat's verdict.
// err is non-nil when the script could not be run to completion; running
// is then meaningless and callers must decide what "unknown" means.
func (r *Runner) IsRunning(ctx context.Context, res haresources.Resource) (running bool, err error) {
	out := r.Run(ctx, res, "status")
	if out.Err != nil {
		return false, fmt.Errorf("status of %s: %w", token(res), out.Err)
	}
	return out.Running, nil
}

// StartGroup acquires g as ResourceManager's acquireresourcegroup does:
// left to right, each resource whose status says running is left alone,
// the others are started. If one fails, the whole group is released again
// (right to left, as StopGroup) and a *StartFailure is returned. env is
// added to the environment of the start runs (e.g. HA_TAKEOVER_FROM).
func (r *Runner) StartGroup(ctx context.Context, g haresources.Group, env ...string) error {
	r.log(EntityResourceManager, LevelInfo, "Acquiring resource group: "+groupLine(g))
	for _, res := range g.Resources {
		running, err := r.IsRunning(ctx, res)
		if err == nil && running {
			continue
		}
		var fail *StartFailure
		if err != nil {
			// Heartbeat has no timeouts and would go on to start; we cannot
			// tell whether it is already up, and starting a second copy is
			// the one thing worse than not starting it.
			r.logRunError(err)
			fail = &StartFailure{Group: g.Key, Resource: token(res), ExitCode: -1, Err: err}
		} else if out := r.doScript(ctx, res, "start", env); out.Failed() {
			fail = &StartFailure{Group: g.Key, Resource: token(res), ExitCode: out.ExitCode, Err: out.Err}
		}
		if fail != nil {
			r.log(EntityResourceManager, LevelCrit, "Giving up resources due to failure of "+token(res))
			fail.Release = r.StopGroup(ctx, g)
			return fail
		}
	}
	return nil
}

// StopGroup releases g as ResourceManager's giveupresourcegroup does: right
// to left; a failing stop is retried StopRetries times RetryInterval apart.
// If it still fails, status decides: stopped means the script is merely not
// LSB-compliant (warn, go on); running, or unknown, ends the release with a
// *StopFailure and leaves the resources to its left alone (Heartbeat reboots
// at that point, it does not carry on).
func (r *Runner) StopGroup(ctx context.Context, g haresources.Group, env ...string) error {
	r.log(EntityResourceManager, LevelInfo, "Releasing resource group: "+groupLine(g))
	for i := len(g.Resources) - 1; i >= 0; i-- {
		res := g.Resources[i]
		out, attempts, err := r.stopWithRetries(ctx, res, env)
		if err != nil {
			return fmt.Errorf("resource group %s: stopping %s: %w", g.Key, token(res), err)
		}
		if !out.Failed() {
			continue
		}
		if isLocateError(out.Err) {
			// Nothing to stop with. Heartbeat ends up here too (its status
			// call runs nothing, prints nothing: stopped) and carries on;
			// treating it as a stop failure would turn a typo in
			// haresources into a reboot loop.
			r.log(EntityResourceManager, LevelWarn, "Treating "+token(res)+" as stopped: it has no resource script")
			continue
		}
		running, serr := r.IsRunning(ctx, res)
		if serr != nil || running {
			if serr != nil {
				r.logRunError(serr)
			}
			r.log(EntityResourceManager, LevelCrit, "Resource STOP failure. Reboot required!")
			return &StopFailure{Group: g.Key, Resource: token(res), Attempts: attempts,
				ExitCode: out.ExitCode, Err: out.Err, StatusErr: serr}
		}
		r.log(EntityResourceManager, LevelError, "Resource script for "+token(res)+" probably not LSB-compliant.")
		r.log(EntityResourceManager, LevelWarn, "it ("+token(res)+") MUST succeed on a stop when already stopped")
		r.log(EntityResourceManager, LevelWarn, "Machine reboot narrowly avoided!")
	}
	return nil
}

// stopWithRetries runs stop until it succeeds or the retries are used up.
// err is set only if ctx ended while waiting to retry.
func (r *Runner) stopWithRetries(ctx context.Context, res haresources.Resource, env []string) (Result, int, error) {
	max := r.StopRetries
	if max == 0 {
		max = DefaultStopRetries
	}
	interval := r.RetryInterval
	if interval <= 0 {
		interval = DefaultRetryInterval
	}
	out := r.doScript(ctx, res, "stop", env)
	attempts := 1
	// A missing script will not appear by waiting; no retries for it.
	for retries := 0; out.Failed() && !isLocateError(out.Err) && (max < 0 || retries < max); retries++ {
		if err := r.sleep(ctx, interval); err != nil {
			return out, attempts, err
		}
		r.log(EntityResourceManager, LevelInfo, "Retrying failed stop operation ["+token(res)+"]")
		out = r.doScript(ctx, res, "stop", env)
		attempts++
	}
	return out, attempts, nil
}

// doScript runs a start or stop with ResourceManager's log lines around it.
func (r *Runner) doScript(ctx context.Context, res haresources.Resource, op string, env []string) Result {
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

// isLocateError reports whether err says the resolver found no script to run.
func isLocateError(err error) bool {
	return errors.As(err, new(*haresources.ScriptError))
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-r.clock().After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// token is the resource as written in haresources, which is how Heartbeat
// names it in its messages.
func token(res haresources.Resource) string {
	if res.Raw != "" {
		return res.Raw
	}
	return strings.Join(append([]string{res.Script}, res.Args...), "::")
}

// groupLine is the haresources line as ResourceManager logs it: node, then
// the resources as written, single blanks.
func groupLine(g haresources.Group) string {
	parts := []string{g.Node}
	for _, res := range g.Resources {
		parts = append(parts, token(res))
	}
	return strings.Join(parts, " ")
}
