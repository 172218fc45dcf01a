// Package node is the local node's whole protocol as one pure state
// machine, the way etcd-raft's RawNode wraps raft: it owns the membership
// table, the resource manager and the small protocols around them (the
// drbd-peer-outdater exchange, the haresources digest, the legacy self-take
// rule, the re-announcement after a heal).
//
// The shell feeds it events with the current monotonic time and carries out
// the actions it returns, in order. Node does no I/O, starts no goroutines,
// holds no channels and never reads a clock. Its parts never call each
// other back: what one part produces for another goes through an internal
// queue that Step drains before it returns, so no part is re-entered while
// it is handling an event.
package node

import (
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/level"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// Config is what the node needs besides its two cores' own configurations.
type Config struct {
	// Membership and RM configure the two cores (membership.New, rm.New).
	Membership membership.Config
	RM         rm.Config
	// Haresources is the parsed file; its digest is compared with the
	// peer's, and its address resources are re-announced after a heal.
	Haresources *haresources.File
	// HaresourcesPath names the file in the mismatch log line.
	HaresourcesPath string
	// Runs sets the policy of running groups (stop retries, their
	// interval and budget); its Groups come from RM.Groups.
	Runs grouprun.Config
	// Monitor says which resources are monitored, how often (monitor.go).
	Monitor MonitorConfig
}

// Event is one input to Step.
type Event interface{ isEvent() }

// Start begins the protocol (membership's first status messages).
type Start struct{ LoadAvg string }

// Tick lets time pass; the shell sends it at NextWake at the latest.
type Tick struct{ LoadAvg string }

// Received is an authenticated message from a medium (also our own
// broadcasts, looped back, as membership expects).
type Received struct {
	Msg  *wire.Message
	Link string
}

// Admin is an admin command for the resource manager: standby, takeover
// (Set: all|local|foreign|failback) or cleanup (Set: a group key). Its
// answer is an AdminReply with the same ID.
type Admin struct {
	ID  uint64
	Cmd AdminCmd
	Set string
}

// AdminCmd is an admin command the resource manager carries out.
type AdminCmd = rm.AdminCmd

// The admin commands.
const (
	CmdStandby  = rm.CmdStandby  // hb_standby
	CmdTakeover = rm.CmdTakeover // hb_takeover
	CmdCleanup  = rm.CmdCleanup  // heartbeatd cleanup KEY
)

// OutdateRequest is drbd-peer-outdater on this node: ask the peer to
// outdate its copy of Resource within Timeout. Its answer is an
// OutdateReply with the same ID. Peer empty means the other node.
type OutdateRequest struct {
	ID       uint64
	Resource string
	Peer     string
	Timeout  time.Duration
}

// CommandDone reports a RunOutdate: the exit status of drbdadm (-1 when it
// did not run to completion) and its output for the log.
type CommandDone struct {
	Origin, Resource string
	Exit             int
	Output           string
}

// ScriptDone reports a RunScript: one script op's outcome.
type ScriptDone struct{ grouprun.Result }

// Shutdown starts the graceful stop: release every group, then shutdone.
type Shutdown struct{}

func (Start) isEvent()          {}
func (Tick) isEvent()           {}
func (Received) isEvent()       {}
func (Admin) isEvent()          {}
func (OutdateRequest) isEvent() {}
func (CommandDone) isEvent()    {}
func (ScriptDone) isEvent()     {}
func (Shutdown) isEvent()       {}

// rmEvent wraps the resource manager's events that the shell produces
// (GroupDone) so Step can take them without a second event type.
type rmEvent struct{ rm.Event }

func (rmEvent) isEvent() {}

// FromRM lets the shell hand the node a resource-manager event it produced
// (a GroupDone from the executor, a FenceDone from the fencing runner).
func FromRM(e rm.Event) Event { return rmEvent{e} }

// Action is one output of Step. Every action is I/O for the shell.
type Action interface{ isAction() }

// Transmit sends one message on every medium.
type Transmit struct{ Msg *wire.Message }

// RunScript runs one resource script op (`SCRIPT ARGS… start|stop|status`)
// and reports ScriptDone with the same ID. What comes before and after it
// (status before start, the release of a half-started group, stop retries,
// which groups run at once) is the node's decision (grouprun).
type RunScript struct{ grouprun.Run }

// RunOutdate runs `drbdadm outdate Resource` here for the peer Origin and
// reports CommandDone.
type RunOutdate struct{ Origin, Resource string }

// Log is a line for the heartbeat log at a Heartbeat level name (CRIT,
// ERROR, WARN, info, debug). Entity is the program tag Heartbeat gives the
// line: empty for heartbeat's own, "ResourceManager" for the group runs'.
type Log struct {
	Entity string
	Level  level.Level
	Text   string
}

// EntityResourceManager tags the group runs' lines as Heartbeat's
// ResourceManager script's are.
const EntityResourceManager = "ResourceManager"

// AdminReply answers the Admin event with the same ID.
type AdminReply struct {
	ID   uint64
	OK   bool
	Text string
}

// OutdateReply answers the OutdateRequest with the same ID with DRBD's
// fence-peer exit code.
type OutdateReply struct {
	ID   uint64
	Code int
	Text string
}

// PersistPeer stores a peer's generation and highest seq durably (the
// state dir's hb_peers), to be handed back in membership's PeerRecords at
// the next start: a replayed packet then never revives a dead peer.
type PersistPeer struct {
	Node     string
	Gen, Seq uint64
	Periodic bool // a live peer's refresh: no need to sync it to disk
}

// Exiting: shutdone has been sent; the shell may exit after a short linger.
type Exiting struct{}

// StatusChanged: a node's status changed (the shell refreshes what it
// reports outside, e.g. systemd's STATUS=).
type StatusChanged struct{}

func (Transmit) isAction()      {}
func (RunScript) isAction()     {}
func (RunOutdate) isAction()    {}
func (Log) isAction()           {}
func (AdminReply) isAction()    {}
func (OutdateReply) isAction()  {}
func (Exiting) isAction()       {}
func (PersistPeer) isAction()   {}
func (StatusChanged) isAction() {}

// rmAction carries the resource manager's own I/O actions (Fence, Reboot)
// out unchanged.
type rmAction struct{ rm.Action }

func (rmAction) isAction() {}

// RM unwraps a resource-manager action passed through (Fence, Reboot); ok
// is false for the node's own actions.
func RM(a Action) (rm.Action, bool) {
	r, ok := a.(rmAction)
	if !ok {
		return nil, false
	}
	return r.Action, true
}
