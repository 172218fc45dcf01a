package script

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/clock"
)

// OpMonitor is heartbeatd's periodic health check of a running resource
// (ha.cf monitor_interval). Heartbeat's scripts and init scripts know no
// such op, so it runs as:
//   - monitor, for the built-in agents that implement it (they check more
//     than presence: an address on a link that is up, a filesystem that is
//     mounted and writable, a DRBD device that is Primary);
//   - status, for every other script.
//
// Both are judged by Heartbeat's status rule: only "running" is healthy.
const OpMonitor = "monitor"

// monitorAgents are the built-in agents with a monitor op (agent.Entry's
// Monitor set).
var monitorAgents = map[string]bool{"IPaddr": true, "IPaddr2": true, "IPv6addr": true, "drbddisk": true, "Filesystem": true}

// wrapperLine is the exec line of heartbeatd's resource.d wrappers.
var wrapperLine = regexp.MustCompile(`(?m)^exec "\$\{HEARTBEATD:-[^"}]*\}" resource ([A-Za-z0-9_.-]+) "\$@"\s*$`)

// BuiltinAgent names the built-in agent a resource script hands over to,
// when the script is one of heartbeatd's wrappers; "" otherwise (an init
// script, a Heartbeat script, an admin's own).
func BuiltinAgent(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 512)) // a wrapper is two short lines
	if !bytes.HasPrefix(head, []byte("#!/bin/sh\n")) {
		return ""
	}
	m := wrapperLine.FindSubmatch(head)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// monitorOp is the op a monitor of res runs (see OpMonitor).
func (r *Runner) monitorOp(res haresources.Resource) string {
	path, err := r.Locate(res.Script)
	if err == nil && monitorAgents[BuiltinAgent(path)] {
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
