package node

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/level"
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

// defaultOutdateTimeout is how long a request waits for the peer when the
// caller gave no timeout (dopd's default).
const defaultOutdateTimeout = 60 * time.Second

type outdateState struct {
	waits map[string]*outdateWait // by resource: one request at a time each
	gen   int                     // client_gen of our requests
}

type outdateWait struct {
	id       uint64
	peer     string
	deadline time.Time
}

// onOutdateRequest asks the peer, over every cluster link, to outdate its
// copy of a DRBD resource.
func (n *Node) onOutdateRequest(e OutdateRequest) {
	res, peer := e.Resource, strings.ToLower(e.Peer)
	answer := func(code int, text string) { n.emit(OutdateReply{ID: e.ID, Code: code, Text: text}) }
	if !drbdResource.MatchString(res) {
		answer(OutdateError, "invalid DRBD resource name "+strconv.Quote(res))
		return
	}
	if peer == "" {
		// DRBD 9's drbdadm no longer exports DRBD_PEER; in a two-node
		// cluster the peer is the other node.
		peer = n.peer
	}
	if peer == n.local || !n.isNode(peer) {
		n.logf(level.Warn, "drbd peer %s was not found", peer)
		answer(OutdateUnreachable, "drbd peer "+peer+" was not found")
		return
	}
	if !n.alive(peer) {
		n.logf(level.Warn, "drbd peer %s is dead: cannot outdate %s", peer, res)
		answer(OutdateUnreachable, "drbd peer "+peer+" is dead")
		return
	}
	if _, busy := n.outdate.waits[res]; busy {
		answer(OutdateBusy, "an outdate request for "+res+" is already running")
		return
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = defaultOutdateTimeout
	}
	n.outdate.gen++
	m := wire.New("start_outdate")
	m.Set("src", n.local)
	m.Set("dop_res", res)
	m.Set("dest", peer)
	m.Set("from_id", "dopd")
	m.Set("to_id", "dopd")
	m.Set("client_gen", strconv.Itoa(n.outdate.gen))
	n.outdate.waits[res] = &outdateWait{id: e.ID, peer: peer, deadline: n.now.Add(timeout)}
	n.logf(level.Info, "sending start_outdate message to %s for resource %s", peer, res)
	n.send(m)
}

// outdateTick ends waits that ran out of time. A peer that is alive but did
// not answer is not "unreachable": answering 5 there would let DRBD assume
// the peer is down while it may be writing, so it gets 20 (DRBD keeps I/O
// frozen with resource-and-stonith and the admin is told why).
func (n *Node) outdateTick() {
	for res, w := range n.outdate.waits {
		if n.now.Before(w.deadline) {
			continue
		}
		delete(n.outdate.waits, res)
		if !n.alive(w.peer) {
			n.emit(OutdateReply{ID: w.id, Code: OutdateUnreachable, Text: "drbd peer " + w.peer + " is dead"})
			continue
		}
		n.logf(level.Error, "no answer from %s to outdate %s in time; peer is alive, returning %d", w.peer, res, OutdateError)
		n.emit(OutdateReply{ID: w.id, Code: OutdateError, Text: "peer " + w.peer + " is alive but did not answer in time"})
	}
}

// outdatePeerDead answers every wait on a peer that has just been declared
// dead: it cannot be reached on any link.
func (n *Node) outdatePeerDead(peer string) {
	for res, w := range n.outdate.waits {
		if w.peer == peer {
			delete(n.outdate.waits, res)
			n.emit(OutdateReply{ID: w.id, Code: OutdateUnreachable, Text: "drbd peer " + peer + " died"})
		}
	}
}

// outdateMessage handles the two dopd message types from the wire.
func (n *Node) outdateMessage(m *wire.Message) {
	src := m.Value("src")
	if src == n.local {
		return // our own, looped back
	}
	switch m.Type() {
	case "outdate_rc":
		res := m.Value("dop_res")
		w, ok := n.outdate.waits[res]
		if !ok || w.peer != src {
			return
		}
		delete(n.outdate.waits, res)
		code, err := strconv.Atoi(m.Value("dop_value"))
		if err != nil {
			code = OutdateError
		}
		n.logf(level.Info, "%s answered outdate of %s with %d", src, res, code)
		n.emit(OutdateReply{ID: w.id, Code: code})
	case "start_outdate":
		res := m.Value("dop_res")
		if !drbdResource.MatchString(res) {
			n.logf(level.Error, "start_outdate from %s: invalid resource name %q", src, res)
			n.sendOutdateRC(src, res, OutdateError)
			return
		}
		n.logf(level.Info, "%s asks to outdate resource %s", src, res)
		n.emit(RunOutdate{Origin: src, Resource: res})
	}
}

// onCommandDone answers the peer with what drbdadm said.
func (n *Node) onCommandDone(e CommandDone) {
	code := OutdateCode(e.Exit)
	n.logf(level.Info, "drbdadm outdate %s: exit %d: %s; answering %d to %s", e.Resource, e.Exit, strings.TrimSpace(e.Output), code, e.Origin)
	n.sendOutdateRC(e.Origin, e.Resource, code)
}

func (n *Node) sendOutdateRC(dest, res string, code int) {
	m := wire.New("outdate_rc")
	m.Set("dop_value", strconv.Itoa(code))
	m.Set("dop_res", res)
	m.Set("src", n.local)
	m.Set("dest", dest)
	m.Set("from_id", "dopd")
	m.Set("to_id", "dopd")
	m.Set("client_gen", "1")
	n.send(m)
}

func (n *Node) isNode(name string) bool {
	for _, x := range n.cfg.Membership.Nodes {
		if strings.EqualFold(x, name) {
			return true
		}
	}
	return false
}
