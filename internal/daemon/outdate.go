package daemon

import (
	"context"
	"os/exec"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/control"
	"heartbeatd/internal/node"
)

// The drbd-peer-outdater protocol is the node's (internal/node/outdate.go);
// the shell only carries the admin call to it and back, and runs drbdadm
// when the peer asks us to outdate our disk.

func (d *Daemon) replyOutdate(r node.OutdateReply) {
	resp := control.Text(false, r.Code, r.Text)
	resp.Code = r.Code // DRBD's fence-peer code, 0 included
	d.calls.Answer(r.ID, resp)
}

// runOutdate runs `drbdadm outdate RES` for the peer, bounded in time, and
// reports the result to the loop.
func (d *Daemon) runOutdate(a node.RunOutdate) {
	go func() {
		ctx, cancel := clock.WithTimeout(context.Background(), d.clock, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, d.drbdadm(), "outdate", a.Resource)
		out, err := cmd.CombinedOutput()
		exit := 0
		if err != nil {
			exit = -1
			if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
				exit = ee.ExitCode()
			}
		}
		// The node trims and logs the output with the exit status.
		d.outdateResults <- node.CommandDone{Origin: a.Origin, Resource: a.Resource, Exit: exit, Output: string(out)}
	}()
}

func (d *Daemon) drbdadm() string {
	if p := d.opts.Drbdadm; p != "" {
		return p
	}
	return "drbdadm"
}
