// Package status is `heartbeatd status`: the whole picture of the cluster
// as this node sees it, in one snapshot. The daemon's loop builds it from
// the node core's read-only queries (Build) and sends it as JSON over the
// control socket; the client prints it as JSON or as a table (Render). The
// metrics exporter reads the same snapshot.
//
// The JSON form is an interface: scripts parse it. Fields are only ever
// added, never renamed or removed; Schema counts incompatible changes and
// heartbeatd(8) documents every field. A golden test pins it.
package status

import (
	"encoding/json"
	"time"
)

// Schema is the version of the JSON layout.
const Schema = 1

// Snapshot is the cluster at one moment, from the local node's view.
type Snapshot struct {
	Schema  int       `json:"schema"`
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	Local   string    `json:"local"`
	// Resources is cl_status rscstatus: none, local, foreign, all or
	// transition.
	Resources string  `json:"resources"`
	Nodes     []Node  `json:"nodes"`
	Groups    []Group `json:"groups"`
	Fencing   Fencing `json:"fencing"`
	// LastFailover is the last takeover from a dead peer since the daemon
	// started; null when there was none. Failovers counts them.
	LastFailover *Failover `json:"last_failover"`
	Failovers    int       `json:"failovers"`
}

// Node is one cluster node.
type Node struct {
	Name   string `json:"name"`
	Status string `json:"status"` // init, up, active or dead
	Type   string `json:"type"`   // normal
	Local  bool   `json:"local"`
	// Generation is the node's hg (incremented at each daemon start);
	// 0 when unknown.
	Generation uint64 `json:"generation"`
	// LastHeard is when its last status message arrived (for the local
	// node: our own, looped back); null when none did.
	LastHeard *time.Time `json:"last_heard"`
	Links     []Link     `json:"links"`
}

// Link is one medium of a node.
type Link struct {
	Name   string `json:"name"`
	Status string `json:"status"` // up or dead
	// LastHeard is when a packet of the node last arrived on this medium;
	// null when none did.
	LastHeard *time.Time `json:"last_heard"`
	// LossPct is the share of the node's sequence numbers this medium
	// missed over the last one to two minutes, in percent.
	LossPct float64 `json:"loss_pct"`
	// Late counts status messages that arrived on this medium more than
	// warntime after the previous one on it; Received and Lost count its
	// packets and the sequence numbers it missed. All since the start.
	Late     uint64 `json:"late"`
	Received uint64 `json:"received"`
	Lost     uint64 `json:"lost"`
}

// Group is one haresources group.
type Group struct {
	// Key is the group's first resource as written in haresources: the
	// name hb_standby, cleanup and the logs use.
	Key       string   `json:"key"`
	Home      string   `json:"home"`
	Resources []string `json:"resources"` // as written, start order
	// Owner is the node that runs (or starts, stops, failed to stop) it;
	// "" when it runs nowhere.
	Owner string `json:"owner"`
	// State is running, starting, stopping, failed or stopped.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// MonitorRestarts counts the restarts of the group here for monitor
	// failures within monitor_window (0 with monitoring off).
	MonitorRestarts int `json:"monitor_restarts"`
	// RefusedUntil: this node handed the group to the peer for monitor
	// failures and does not take it back before then (or `heartbeatd
	// cleanup KEY`); null otherwise.
	RefusedUntil *time.Time `json:"refused_until"`
}

// Fencing is what this node knows of fencing.
type Fencing struct {
	// Devices are this node's fence devices with their last status check
	// (state "ok" or "failing"); null when none is configured or none has
	// been checked yet.
	Devices []FenceDevice `json:"devices"`
	// Attempts counts fencing operations asked for since the start,
	// Succeeded and Failed their outcomes so far.
	Attempts  int `json:"attempts"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Last is the last fencing outcome; null when there was none.
	Last *Fence `json:"last"`
}

// FenceDevice is one configured fence device and its last check.
type FenceDevice struct {
	Name    string     `json:"name"`
	State   string     `json:"state"`
	Checked *time.Time `json:"checked"`
}

// Fence is one fencing outcome.
type Fence struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
	OK   bool      `json:"ok"`
}

// Failover is one takeover from a dead peer.
type Failover struct {
	Peer   string `json:"peer"`
	Reason string `json:"reason"`
	// PeerLastHeard is when the peer's last status arrived; Began when
	// it was declared dead; Ended when the last group start of the
	// takeover ended. DurationMS is Ended minus Began.
	PeerLastHeard *time.Time `json:"peer_last_heard"`
	Began         time.Time  `json:"began"`
	Ended         time.Time  `json:"ended"`
	DurationMS    int64      `json:"duration_ms"`
	Groups        []string   `json:"groups"`
	OK            bool       `json:"ok"` // every group in Groups was running at the end
}

// JSON is the snapshot as the control socket carries it.
func (s *Snapshot) JSON() string {
	b, err := json.Marshal(s)
	if err != nil { // only plain values: cannot happen
		return `{"error":` + jsonString(err.Error()) + `}`
	}
	return string(b)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Parse reads a snapshot sent by JSON.
func Parse(data []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
