package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"heartbeatd/internal/clstatus"
	"heartbeatd/internal/control"
	"heartbeatd/internal/node"
)

type adminCall struct {
	req   control.Request
	reply chan control.Response
}

// handleAdmin runs on the control server's goroutine: it hands the request
// to the main loop (the only goroutine that may touch the cores) and waits.
func (d *Daemon) handleAdmin(ctx context.Context, req control.Request) control.Response {
	call := adminCall{req: req, reply: make(chan control.Response, 1)}
	select {
	case d.admin <- call:
	case <-ctx.Done():
		return control.Response{Stderr: "heartbeatd is busy\n", Code: clstatus.Timeout}
	}
	select {
	case r := <-call.reply:
		return r
	case <-ctx.Done():
		return control.Response{Stderr: "no answer from heartbeatd in time\n", Code: clstatus.Timeout}
	}
}

func (d *Daemon) adminCall(c adminCall) {
	switch c.req.Cmd {
	case "cl_status":
		r := clstatus.Run(c.req.Args, d.snapshot())
		c.reply <- control.Response{Stdout: r.Stdout, Stderr: r.Stderr, Code: r.Code}
	case "cleanup":
		if len(c.req.Args) != 1 {
			c.reply <- control.Response{Stderr: "cleanup needs one group key\n", Code: 2}
			return
		}
		if _, ok := d.groups[c.req.Args[0]]; !ok {
			c.reply <- control.Response{Stderr: fmt.Sprintf("no resource group %q in haresources\n", c.req.Args[0]), Code: 1}
			return
		}
		d.step(node.Admin{ID: d.await(c), Cmd: "cleanup", Set: c.req.Args[0]})
	case "standby", "takeover":
		if d.stopping {
			c.reply <- control.Response{Stderr: "heartbeatd is shutting down\n", Code: 1}
			return
		}
		set := "all"
		if len(c.req.Args) > 0 {
			set = c.req.Args[0]
		}
		d.step(node.Admin{ID: d.await(c), Cmd: c.req.Cmd, Set: set})
	case "outdate":
		d.outdateRequest(c)
	case "reload":
		if d.stopping {
			c.reply <- control.Response{Stderr: "heartbeatd is shutting down\n", Code: 1}
			return
		}
		r := d.reload("heartbeatd reload")
		resp := control.Response{}
		if !r.ok {
			resp.Stderr, resp.Code = "configuration invalid, the running one is kept:\n"+r.errors+"\n", 1
		} else {
			resp.Stdout = "applied: " + r.applied + "\n"
			for _, x := range r.restart {
				resp.Stderr += "needs restart: " + x + "\n"
			}
		}
		c.reply <- resp
	default:
		c.reply <- control.Response{Stderr: fmt.Sprintf("unknown command %q\n", c.req.Cmd), Code: 11}
	}
}

// await keeps an admin call until the node answers it; the ID names it.
func (d *Daemon) await(c adminCall) uint64 {
	d.callID++
	d.calls[d.callID] = c
	return d.callID
}

// answer replies to the admin call the node answered.
func (d *Daemon) answer(id uint64, resp control.Response) {
	c, ok := d.calls[id]
	if !ok {
		return
	}
	delete(d.calls, id)
	c.reply <- resp
}

// replyAdmin answers a standby, takeover or cleanup command.
func (d *Daemon) replyAdmin(r node.AdminReply) {
	text := r.Text
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	resp := control.Response{}
	if r.OK {
		resp.Stdout = text
	} else {
		resp.Stderr, resp.Code = text, 1
	}
	d.answer(r.ID, resp)
}

// snapshot is the state cl_status may ask about. Heartbeat's node and link
// walks return them in reverse configuration order; scripts that parse
// `listnodes` output may depend on it, so we keep it.
func (d *Daemon) snapshot() *clstatus.Snapshot {
	s := &clstatus.Snapshot{
		Version: Version, Local: d.local, RscStatus: d.node.RM().RscStatus(),
		Deadtime: int(d.cfg.Deadtime.Milliseconds()), Keepalive: int(d.cfg.Keepalive.Milliseconds()),
		Params: d.params(),
	}
	now := d.clock.Now()
	for _, f := range d.node.RM().FailedStarts() {
		fs := clstatus.FailedStart{Key: f.Key, Attempts: f.Attempts, Max: f.Max, GaveUp: f.GaveUp}
		if !f.Next.IsZero() {
			fs.NextIn = max(f.Next.Sub(now), time.Second)
		}
		s.FailedStarts = append(s.FailedStarts, fs)
	}
	mem := d.node.Membership()
	nodes := mem.Nodes()
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		cn := clstatus.Node{Name: n.Name, Status: n.Status, Type: "normal"}
		links := mem.Links(n.Name)
		for j := len(links) - 1; j >= 0; j-- {
			cn.Links = append(cn.Links, clstatus.Link{Name: links[j].Name, Status: links[j].Status})
		}
		s.Nodes = append(s.Nodes, cn)
	}
	return s
}

// params answers hbparameter: values as written in ha.cf; derived timing
// values Heartbeat reports in milliseconds.
func (d *Daemon) params() map[string]string {
	p := map[string]string{"hbversion": Version}
	for _, dir := range d.cfg.Directives {
		if _, seen := p[dir.Name]; !seen && len(dir.Args) > 0 {
			p[dir.Name] = strings.Join(dir.Args, " ")
		}
	}
	for name, v := range map[string]int64{
		"keepalive": d.cfg.Keepalive.Milliseconds(), "deadtime": d.cfg.Deadtime.Milliseconds(),
		"warntime": d.cfg.Warntime.Milliseconds(), "initdead": d.cfg.Initdead.Milliseconds(),
	} {
		if _, ok := p[name]; !ok {
			p[name] = fmt.Sprintf("%dms", v)
		}
	}
	if _, ok := p["auto_failback"]; !ok {
		p["auto_failback"] = d.cfg.AutoFailback
	}
	return p
}
