package script

import (
	"context"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/clock"
)

// OpMonitor is heartbeatd's periodic health check of a running resource
// (ha.cf monitor_interval). Heartbeat's scripts and init scripts know no
// such op, so it runs as:
//   - monitor, for heartbeatd's own agents, which all implement it (they
//     check more than presence: an address on a link that is up, a
//     filesystem that is mounted and writable, a DRBD device that is
//     Primary, a target that still serves its LUNs);
//   - status, for every other script.
//
// Both are judged by Heartbeat's status rule: only "running" is healthy.
const OpMonitor = "monitor"

// monitorOp is the op a monitor of res runs (see OpMonitor).
func (r *Runner) monitorOp(res haresources.Resource) string {
	path, err := r.Locate(res.Script)
	if _, builtin := BuiltinAgent(path); err == nil && builtin {
		return OpMonitor
	}
	return "status"
}

// runMonitor runs a monitor within MonitorTimeout: a check that overruns
// is killed and reported incomplete, which counts as a failure.
func (r *Runner) runMonitor(ctx context.Context, res haresources.Resource, env []string) Result {
	if r.MonitorTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = clock.WithTimeout(ctx, r.clock(), r.MonitorTimeout)
		defer cancel()
	}
	out := r.RunEnv(ctx, res, r.monitorOp(res), env)
	if out.Err != nil {
		r.logRunError(out.Err)
	}
	return out
}

// FirstLine is a run's first line of output, for a one-line log message
// (a monitor's "failed: REASON"); at most 200 bytes.
func FirstLine(out Result) string {
	for _, l := range out.Output {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 200 {
				l = l[:200]
			}
			return l
		}
	}
	return ""
}
