// Package executor carries out the node's I/O actions for the daemon: one
// resource script op, `drbdadm outdate` for the peer, a STONITH reset. Each
// runs on a goroutine of its own and is reported as a node.Event on Done.
// It decides nothing: what runs when, in which order and after which
// failure is the node's (grouprun, node/outdate.go, rm).
package executor

import (
	"context"
	"errors"
	"os/exec"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/fence"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/node"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/script"
)

// Scripts runs one resource script op; script.Runner is the real one.
// Tests of the shell put executortest.Scripts here, so they fork no scripts.
type Scripts interface {
	RunOp(ctx context.Context, res haresources.Resource, op string, env []string) script.Result
	// StartChecks: res's start does the status check itself (see
	// script.Runner.StartChecks).
	StartChecks(res haresources.Resource) bool
}

// Executor carries out RunScript, RunOutdate and Fence actions.
type Executor struct {
	Scripts Scripts
	Fencer  *fence.Fencer
	Drbdadm string // the drbdadm program
	Clock   clock.Clock
	// Done receives every result; the daemon's loop reads it.
	Done chan node.Event
}

// announceTimeout bounds a re-announcement's start: it only sends
// gratuitous ARP, and nothing waits for it but the group's next op.
const announceTimeout = time.Minute

// Run runs one script op of a group run.
func (e *Executor) Run(r grouprun.Run) {
	if r.Kind == grouprun.Start && r.Op == grouprun.OpStatus && e.Scripts.StartChecks(r.Resource) {
		// The status before a start, for an agent whose start checks for
		// itself (heartbeatd's IPaddr: a held address is only announced
		// again): "stopped" is the answer that leads to exactly the start
		// the status would have led to. It costs a helper's round trip
		// (about a millisecond) on the takeover's path. Answered here, on
		// the loop's own goroutine, the loop reads it on its next turn
		// without sleeping; the buffer is never full in practice, and a
		// goroutine takes over if it is.
		d := node.ScriptDone{Result: grouprun.Result{ID: r.ID}}
		select {
		case e.Done <- d:
		default:
			go func() { e.Done <- d }()
		}
		return
	}
	env := runEnv(r)
	go func() {
		ctx := context.Background()
		if r.Kind == grouprun.Announce {
			var cancel context.CancelFunc
			ctx, cancel = clock.WithTimeout(ctx, e.Clock, announceTimeout)
			defer cancel()
		}
		out := e.Scripts.RunOp(ctx, r.Resource, string(r.Op), env)
		e.Done <- node.ScriptDone{Result: grouprun.Result{ID: r.ID, Exit: out.ExitCode, Running: out.Running,
			Missing: script.IsMissing(out.Err), Incomplete: out.Err != nil,
			Unkillable: errors.Is(out.Err, script.ErrUnkillable), Output: script.FirstLine(out)}}
	}()
}

// runEnv is what the node says about this run in the scripts' environment:
// whom a start takes over from (IPaddr then takes the address without the
// duplicate-address probe) and whom a stop hands over to.
func runEnv(r grouprun.Run) []string {
	var env []string
	if r.TakeoverFrom != "" {
		env = append(env, agent.EnvTakeoverFrom+"="+r.TakeoverFrom)
	}
	if r.ReleaseTo != "" {
		env = append(env, agent.EnvReleaseTo+"="+r.ReleaseTo)
	}
	return env
}

// Outdate runs `drbdadm outdate RES` for the peer, bounded in time; the
// node trims and logs its output with the exit status.
func (e *Executor) Outdate(a node.RunOutdate) {
	go func() {
		ctx, cancel := clock.WithTimeout(context.Background(), e.Clock, time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, e.Drbdadm, "outdate", a.Resource).CombinedOutput()
		exit := 0
		if err != nil {
			exit = -1
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.Exited() {
				exit = ee.ExitCode()
			}
		}
		e.Done <- node.CommandDone{Origin: a.Origin, Resource: a.Resource, Exit: exit, Output: string(out)}
	}()
}

// Fence resets a dead peer with this node's STONITH devices; the resource
// manager takes over only once it is told the reset succeeded.
func (e *Executor) Fence(peer string) {
	go func() {
		ok := e.Fencer.ResetNode(context.Background(), peer)
		e.Done <- node.FromRM(rm.FenceDone{Node: peer, OK: ok})
	}()
}
