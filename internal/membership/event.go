package membership

import (
	"heartbeatd/internal/level"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// Event is an input to Table.Step. The shell produces them; the table never
// reads a socket or a clock itself.
type Event interface{ isEvent() }

// Start begins membership: the table sends status st=init (seq 1) and st=up
// twice, exactly as Heartbeat's master control process does at start-up, and
// advertises deadtime+2000 ms for the first 5 s.
type Start struct {
	// LoadAvg is the first line of /proc/loadavg, sent as "ld" (may be "").
	LoadAvg string
}

// Tick lets time pass. The table decides itself whether a keepalive, a dead
// check (on the DeadCheck grid), a retransmission request or a reqnodes
// retry is due; NextWake says when the next one will be, so the shell can
// tick only then (or at any finer pace: the outcome is the same).
type Tick struct {
	// LoadAvg refreshes the "ld" value; empty keeps the previous one.
	LoadAvg string
}

// Received is one message that arrived on a medium and passed
// authentication. Link is the medium name (e.g. "eth1"). The shell must also
// feed our own broadcasts back here: they arrive as duplicates and are what
// brings our own links up, as in Heartbeat.
type Received struct {
	Msg  *wire.Message
	Link string
}

// Send asks the table to send a cluster message on behalf of an upper layer
// (resource manager, dopd, a script's FIFO message). The table adds the
// standard fields, assigns a seq, keeps it for retransmission and loops it
// back to itself as Heartbeat does. Msg is not retained; it is cloned.
type Send struct {
	Msg *wire.Message
}

// Shutdown is the last step of a graceful stop (the upper layer has released
// every group): the table sends "t=shutdone st=dead". With Restart the table
// first advertises deadtime+30 s, as Heartbeat does when it is about to
// restart itself, so peers do not declare it dead while it re-executes.
type Shutdown struct {
	Restart bool
}

func (Start) isEvent()    {}
func (Tick) isEvent()     {}
func (Received) isEvent() {}
func (Send) isEvent()     {}
func (Shutdown) isEvent() {}

// Action is an output of Table.Step, to be carried out by the shell in order.
type Action interface{ isAction() }

// Transmit sends a complete message (all standard fields present, in
// Heartbeat's order) on every medium. The shell adds authentication when it
// encodes the message. While the links lose packets, a status or takeover
// message comes again, unchanged, in later Transmits a few milliseconds
// apart (redundancy.go); the shell sends each one like any other.
type Transmit struct {
	Msg *wire.Message
}

// Log is one log line. Level is one of CRIT, ERROR, WARN, notice, info,
// debug; Text is Heartbeat's exact wording so admins can grep for it.
type Log struct {
	Level level.Level
	Text  string
}

// NodeStatus reports a change of a peer's status (init, up, active, dead).
// Msg is the status message that caused it; for dead it is the synthetic
// "t=status st=dead src=N seq=1 ts=<now>" Heartbeat feeds to rc.d/status and
// to its API clients (never sent on the wire). The local node's own status is
// reported through LocalStatus and CommUp instead.
type NodeStatus struct {
	Node     string
	Old, New nodestatus.Status
	Msg      *wire.Message
}

// LinkStatus reports that a node's medium changed to "up" or "dead".
type LinkStatus struct {
	Node, Link string
	Status     nodestatus.Status
}

// Deliver hands an accepted, in-order message addressed to us (or to
// everybody) to the upper layers. Every type the membership layer does not
// consume is delivered: starting, resource, ask_resources, hb_takeover,
// ip-request, ip-request-resp, stonith, start_outdate, outdate_rc, ...
// Our own messages are delivered too, because Heartbeat loops every message it
// sends through its own receive path before putting it on the wire (rc.d
// ip-request-resp and hb_takeover run for our own messages); Msg's "src" tells
// the upper layer whose it is. Consumed, never delivered: status, reqnodes,
// repnodes, shutdone (see PeerShutdown) and every NS_ type.
type Deliver struct {
	Msg  *wire.Message
	Link string // "" for our own, looped-back messages
}

// CommUp is emitted once, when the local node goes active (after repnodes,
// or when no peer is alive). Upper layers start then (API clients, the
// resource manager's "starting").
type CommUp struct{}

// PeerShutdown reports a peer's "shutdone": it gave up all its resources and
// is about to stop. The peer's status messages continue for a moment; it is
// declared dead later by the normal timeout.
type PeerShutdown struct {
	Node string
}

// PeerRestarted reports a status with a higher generation: the peer's
// daemon restarted, so it may hold resources again (Heartbeat sets
// has_resources). Not emitted for the first generation ever seen.
type PeerRestarted struct {
	Node string
}

// PartitionHealed reports a peer that had been declared dead returning with
// the same generation (a partition or a stalled process). Heartbeat in R1 mode
// answers by giving up everything and restarting itself 2 s later; the upper
// layer decides.
type PartitionHealed struct {
	Node string
}

// Overheard is an accepted, in-order message from a peer that was addressed
// to another node (dest or destuuid names someone else). It is not
// delivered; it is reported so an upper layer can notice what the peer does
// — a legacy-mode peer that sends ip-request-resp to itself is taking a
// group without asking anyone.
type Overheard struct {
	Msg *wire.Message
}

// PersistPeer asks the shell to store, durably, the last generation and
// sequence number seen from a peer (state.SavePeers), and to hand the
// stored records back in Config.PeerRecords at the next start. Emitted when
// a peer is declared dead, sends shutdone, or is first seen in a new
// generation; Table.Records gives every peer's at a clean stop. With them a
// dead peer, or any peer after our own restart, is accepted again only
// with a newer generation or the same one and a higher seq: a recorded
// packet replayed later no longer brings it back (issue 12).
type PersistPeer struct {
	Node     string
	Gen, Seq uint64
	// Periodic: the record of a live peer, refreshed every PersistEvery
	// as its sequence numbers advance. Its loss in a machine crash only
	// falls back to the last durable record, so the shell may skip the
	// fsync; death, shutdone and a new generation are durable.
	Periodic bool
}

func (PersistPeer) isAction()     {}
func (Overheard) isAction()       {}
func (Transmit) isAction()        {}
func (Log) isAction()             {}
func (NodeStatus) isAction()      {}
func (LinkStatus) isAction()      {}
func (Deliver) isAction()         {}
func (CommUp) isAction()          {}
func (PeerShutdown) isAction()    {}
func (PeerRestarted) isAction()   {}
func (PartitionHealed) isAction() {}
