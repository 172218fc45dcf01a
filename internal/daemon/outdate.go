package daemon

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/control"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/wire"
)

// DRBD fence-peer exit codes (drbd_nl.c conn_try_outdate_peer) as dopd
// produces them (spec §9).
const (
	OutdateInconsistent = 3
	OutdateOutdated     = 4
	OutdateUnreachable  = 5
	OutdatePrimary      = 6
	OutdateError        = 20
	OutdateBusy         = 21
)

// OutdateCode maps the exit status of `drbdadm outdate RES` on the peer to
// the code the fence-peer handler returns, exactly as dopd does: 0 -> 4
// (outdated), 5 -> 3 (was inconsistent), 17 -> 6 (peer is primary), anything
// else, including death by signal, -> 20.
func OutdateCode(exit int) int {
	switch exit {
	case 0:
		return OutdateOutdated
	case 5:
		return OutdateInconsistent
	case 17:
		return OutdatePrimary
	}
	return OutdateError
}

// drbdResource is what a DRBD resource name may look like; anything else
// from a peer is refused before it reaches drbdadm's command line.
var drbdResource = regexp.MustCompile(`^[A-Za-z0-9_.:+-]{1,128}$`)

type outdateWait struct {
	call     adminCall
	peer     string
	deadline time.Time
}

type outdateDone struct {
	origin, res string
	code        int
	detail      string
}

// outdateRequest handles drbd-peer-outdater on this node: ask the peer, over
// every cluster link, to outdate its copy of res.
func (d *Daemon) outdateRequest(c adminCall) {
	env := c.req.Env
	res, peer := env["resource"], strings.ToLower(env["peer"])
	timeout, _ := time.ParseDuration(env["timeout"])
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	reply := func(code int, msg string) {
		c.reply <- control.Response{Stderr: msg, Code: code}
	}
	if !drbdResource.MatchString(res) {
		reply(OutdateError, fmt.Sprintf("invalid DRBD resource name %q\n", res))
		return
	}
	if peer == "" {
		// DRBD 9's drbdadm no longer exports DRBD_PEER; in a two-node
		// cluster the peer is the other node.
		peer = d.peer
	}
	if peer == d.local || !d.isNode(peer) {
		d.log.Logf(logging.Warn, "drbd peer %s was not found", peer)
		reply(OutdateUnreachable, fmt.Sprintf("drbd peer %s was not found\n", peer))
		return
	}
	if !d.nodeAlive(peer) {
		d.log.Logf(logging.Warn, "drbd peer %s is dead: cannot outdate %s", peer, res)
		reply(OutdateUnreachable, fmt.Sprintf("drbd peer %s is dead\n", peer))
		return
	}
	if _, busy := d.outdates[res]; busy {
		reply(OutdateBusy, fmt.Sprintf("an outdate request for %s is already running\n", res))
		return
	}
	d.outdateGen++
	m := wire.New("start_outdate")
	m.Set("src", d.local)
	m.Set("dop_res", res)
	m.Set("dest", peer)
	m.Set("from_id", "dopd")
	m.Set("to_id", "dopd")
	m.Set("client_gen", strconv.Itoa(d.outdateGen))
	d.outdates[res] = &outdateWait{call: c, peer: peer, deadline: d.clock.Now().Add(timeout)}
	d.log.Logf(logging.Info, "sending start_outdate message to %s for resource %s", peer, res)
	d.stepMem(membershipSend(m))
}

// outdateTick ends waits that ran out of time. A peer that is alive but did
// not answer is not "unreachable": answering 5 there would let DRBD assume
// the peer is down while it may be writing, so it gets 20 (DRBD keeps I/O
// frozen with resource-and-stonith and the admin is told why).
func (d *Daemon) outdateTick() {
	now := d.clock.Now()
	for res, w := range d.outdates {
		if now.Before(w.deadline) {
			continue
		}
		delete(d.outdates, res)
		if !d.nodeAlive(w.peer) {
			w.call.reply <- control.Response{Stderr: "drbd peer " + w.peer + " is dead\n", Code: OutdateUnreachable}
			continue
		}
		d.log.Logf(logging.Error, "no answer from %s to outdate %s in time; peer is alive, returning %d", w.peer, res, OutdateError)
		w.call.reply <- control.Response{Stderr: "peer " + w.peer + " is alive but did not answer in time\n", Code: OutdateError}
	}
}

// outdatePeerDead answers every wait on a peer that has just been declared
// dead: it cannot be reached on any link.
func (d *Daemon) outdatePeerDead(peer string) {
	for res, w := range d.outdates {
		if w.peer == peer {
			delete(d.outdates, res)
			w.call.reply <- control.Response{Stderr: "drbd peer " + peer + " died\n", Code: OutdateUnreachable}
		}
	}
}

// outdateMessage handles the two dopd message types from the wire.
func (d *Daemon) outdateMessage(m *wire.Message) {
	src := m.Value("src")
	if src == d.local {
		return // our own, looped back
	}
	switch m.Type() {
	case "outdate_rc":
		res := m.Value("dop_res")
		w, ok := d.outdates[res]
		if !ok || w.peer != src {
			return
		}
		delete(d.outdates, res)
		code, err := strconv.Atoi(m.Value("dop_value"))
		if err != nil {
			code = OutdateError
		}
		d.log.Logf(logging.Info, "%s answered outdate of %s with %d", src, res, code)
		w.call.reply <- control.Response{Code: code}
	case "start_outdate":
		res := m.Value("dop_res")
		if !drbdResource.MatchString(res) {
			d.log.Logf(logging.Error, "start_outdate from %s: invalid resource name %q", src, res)
			d.sendOutdateRC(src, res, OutdateError)
			return
		}
		d.log.Logf(logging.Info, "%s asks to outdate resource %s", src, res)
		go func() {
			ctx, cancel := clock.WithTimeout(context.Background(), d.clock, 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, d.drbdadm(), "outdate", res)
			out, err := cmd.CombinedOutput()
			exit := 0
			if err != nil {
				exit = -1
				if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
					exit = ee.ExitCode()
				}
			}
			d.outdateResults <- outdateDone{origin: src, res: res, code: OutdateCode(exit),
				detail: fmt.Sprintf("drbdadm outdate %s: exit %d: %s", res, exit, strings.TrimSpace(string(out)))}
		}()
	}
}

func (d *Daemon) outdateFinished(r outdateDone) {
	d.log.Logf(logging.Info, "%s; answering %d to %s", r.detail, r.code, r.origin)
	d.sendOutdateRC(r.origin, r.res, r.code)
}

func (d *Daemon) sendOutdateRC(dest, res string, code int) {
	m := wire.New("outdate_rc")
	m.Set("dop_value", strconv.Itoa(code))
	m.Set("dop_res", res)
	m.Set("src", d.local)
	m.Set("dest", dest)
	m.Set("from_id", "dopd")
	m.Set("to_id", "dopd")
	m.Set("client_gen", "1")
	d.stepMem(membershipSend(m))
}

func (d *Daemon) drbdadm() string {
	if p := d.opts.Drbdadm; p != "" {
		return p
	}
	return "drbdadm"
}

func (d *Daemon) isNode(name string) bool {
	for _, n := range d.cfg.Nodes {
		if n == name {
			return true
		}
	}
	return false
}

func (d *Daemon) nodeAlive(name string) bool {
	s := d.nodeStatus(name)
	return s == membership.StatusUp || s == membership.StatusActive
}

// nodeStatus is membership's status of node name ("" if unknown).
func (d *Daemon) nodeStatus(name string) string {
	for _, n := range d.mem.Nodes() {
		if n.Name == name {
			return n.Status
		}
	}
	return ""
}
