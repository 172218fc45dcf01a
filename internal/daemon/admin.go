package daemon

import (
	"fmt"
	"time"

	"heartbeatd/internal/clstatus"
	"heartbeatd/internal/control"
	"heartbeatd/internal/node"
	"heartbeatd/internal/status"
)

// adminCall carries out one control-socket request on the main loop. What
// changes state goes to the node, which answers later (AdminReply,
// OutdateReply); the call is parked until then.
func (d *Daemon) adminCall(c control.Pending) {
	args := c.Req.Args
	switch c.Req.Cmd {
	case "cl_status":
		r := clstatus.Run(args, clstatus.Build(Version, d.local, d.cfg, d.node.Membership(), d.node.RM(), d.clock.Now()))
		c.Reply(control.Response{Stdout: r.Stdout, Stderr: r.Stderr, Code: r.Code})
	case "status": // heartbeatd status: the client renders the JSON
		c.Reply(control.Response{Stdout: status.Build(Version, d.node, d.clock.Now()).JSON()})
	case "cleanup":
		if len(args) != 1 {
			c.Reply(control.Text(false, 2, "cleanup needs one group key"))
		} else if _, ok := d.hares.Group(args[0]); !ok {
			c.Reply(control.Text(false, 1, fmt.Sprintf("no resource group %q in haresources", args[0])))
		} else {
			d.step(node.Admin{ID: d.calls.Park(c), Cmd: node.CmdCleanup, Set: args[0]})
		}
	case "standby", "takeover":
		set := "all"
		if len(args) > 0 {
			set = args[0]
		}
		if d.refuseWhileStopping(c) {
			return
		}
		d.step(node.Admin{ID: d.calls.Park(c), Cmd: node.AdminCmd(c.Req.Cmd), Set: set})
	case "outdate":
		// drbd-peer-outdater: the protocol is the node's (node/outdate.go).
		env := c.Req.Env
		timeout, _ := time.ParseDuration(env["timeout"])
		d.step(node.OutdateRequest{ID: d.calls.Park(c), Resource: env["resource"], Peer: env["peer"], Timeout: timeout})
	case "reload":
		if d.refuseWhileStopping(c) {
			return
		}
		r := d.reload("heartbeatd reload")
		if !r.ok {
			c.Reply(control.Text(false, 1, "configuration invalid, the running one is kept:\n"+r.errors))
			return
		}
		resp := control.Text(true, 0, "applied: "+r.applied)
		for _, x := range r.restart {
			resp.Stderr += "needs restart: " + x + "\n"
		}
		for _, x := range r.refused {
			resp.Stderr += "refused: " + x + "\n"
			resp.Code = 1
		}
		c.Reply(resp)
	default:
		c.Reply(control.Text(false, 11, fmt.Sprintf("unknown command %q", c.Req.Cmd)))
	}
}

func (d *Daemon) refuseWhileStopping(c control.Pending) bool {
	if d.stopping {
		c.Reply(control.Text(false, 1, "heartbeatd is shutting down"))
	}
	return d.stopping
}
