// Package nodestatus is the one type of a node's or a link's status:
// Heartbeat's words as they appear on the wire (t=status st=...), in
// cl_status and in its log lines. membership keeps them, the node core
// hands the peer's to rm, and status and metrics show them.
package nodestatus

// Status is Heartbeat's status word. It is a string so that a word this
// list does not name, arriving from the wire or a state file, is carried
// as it came (membership logs and refuses unknown peer statuses; a value
// is never lost by conversion).
type Status string

// The words Heartbeat 3.0.6 uses.
const (
	// Init: a node heard from (or starting) that has not sent "up" yet.
	Init Status = "init"
	// Up: a node sending heartbeats, not yet joined (Comm_now_up).
	Up Status = "up"
	// Active: a node joined to the cluster.
	Active Status = "active"
	// Dead: a node or link past its dead time, or a node that shut down.
	Dead Status = "dead"
	// Ping: a ping node that answers.
	Ping Status = "ping"
)

// String is the word itself.
func (s Status) String() string { return string(s) }
