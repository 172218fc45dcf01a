// Package membership is the pure membership state machine of heartbeatd: who
// is alive (per node and per link), sequence and generation tracking,
// retransmission and ACKs, and the start-up join step, all as Heartbeat 3.0.6
// does them on the wire (spec §3, §4.1-4.3, §5).
//
// The table does no I/O, starts no goroutine and never reads a clock: time
// enters as the now argument of Step, and everything it wants done comes back
// as Actions. That lets tests drive it to the millisecond with a fake time
// base, and lets a simulator run many nodes over a lossy in-memory network.
package membership

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"heartbeatd/internal/level"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// Node and link status values, as Heartbeat spells them on the wire and in
// cl_status.
const (
	StatusInit   = nodestatus.Init
	StatusUp     = nodestatus.Up
	StatusActive = nodestatus.Active
	StatusDead   = nodestatus.Dead

	LinkUp   = nodestatus.Up
	LinkDead = nodestatus.Dead
)

// Protocol constants of Heartbeat 3.0.6 (include/heartbeat.h, heartbeat.c).
const (
	historySize      = 500 // MAXMSGHIST: sent messages kept for retransmission
	maxMissing       = 500 // MAXMISSING: missing seqs tracked per peer
	flowControlLimit = 250 // more missing than this and tracking is reset
	maxRexmitBatch   = 50  // retransmissions served per NS_rexmit
	ackDiv           = 10  // ACK_MSG_DIV
	deadCheckEvery   = 250 * time.Millisecond
	startupExtraDT   = 2000 * time.Millisecond // advertised dt bonus at start...
	startupExtraFor  = 5 * time.Second         // ...for this long
	restartExtraDT   = 30 * time.Second        // advertised while restarting itself
	reqnodesEvery    = time.Second
)

// Config is what the table needs from ha.cf and the local state files. The
// shell fills it; New checks it.
type Config struct {
	// Local is this node's name (uname -n or /etc/ha.d/nodeinfo), lower case.
	Local string
	// Nodes lists every normal node ("node" directives) including Local, in
	// ha.cf order, lower case. The order decides whom reqnodes asks first.
	Nodes []string
	// Links names the media ("eth0", "eth1"): one link per node and medium.
	Links []string
	// Keepalive is the status interval (ha.cf keepalive, default 1 s).
	Keepalive time.Duration
	// Deadtime is our own dead time, advertised to peers as dt (default 30 s).
	Deadtime time.Duration
	// Warntime is the late-heartbeat threshold (default Deadtime/2).
	Warntime time.Duration
	// Initdead is the dead time used for everybody until every node has been
	// heard from or declared dead.
	Initdead time.Duration
	// MaxRexmitDelay bounds the random wait before asking for a missing
	// message, and is the repeat interval of such requests (default 250 ms).
	MaxRexmitDelay time.Duration
	// Generation is hg, already incremented and persisted by the shell.
	Generation uint64
	// UUID is the local node's uuid (srcuuid).
	UUID [16]byte
	// KnownUUIDs are peers' uuids from the host cache, so destuuid can be
	// sent before a peer has been heard from. Optional.
	KnownUUIDs map[string][16]byte
	// HopFudge is ha.cf hopfudge (Heartbeat's default is 1); ttl is
	// HopFudge + number of configured nodes including ping nodes.
	HopFudge int
	// PingNodes is the number of ping/ping_group nodes (they count in ttl).
	PingNodes int
	// PingNames are the ping nodes (ping.go): each `ping` host and each
	// `ping_group` name, ha.cf order. PingNodes is at least their number.
	PingNames []string
	// Deadping is how long a ping node may stay silent before it is
	// declared dead (ha.cf deadping, default deadtime); needed with
	// PingNames.
	Deadping time.Duration
	// Seed makes ack triggers and retransmission jitter reproducible.
	Seed int64
	// DeadCheck is how often dead nodes and links are looked for. Heartbeat
	// checks every 250 ms (the default), which adds up to 250 ms to every
	// failover; heartbeatd's daemon uses 1 ms and wakes at NextWake.
	DeadCheck time.Duration
	// PeerRecords are the peers' last generation and seq as the shell
	// stored them (PersistPeer actions, Records at a clean stop), keyed
	// by node name. A peer with a record is accepted only with a newer
	// generation, or the same one and a higher seq, so packets recorded
	// before our restart cannot be replayed to us. Optional; records of
	// nodes not in Nodes, of the local node and with generation 0 are
	// ignored. Heartbeat keeps nothing of the kind: it forgets every
	// peer's sequence state when it restarts.
	PeerRecords map[string]PeerRecord
	// MaxCopies caps how many times each status and takeover message is
	// sent on every medium while the links lose packets (redundancy.go):
	// 0 means the default, 3; 1 turns the extra copies off.
	MaxCopies int
}

// PeerRecord is a peer's generation and the highest seq seen from it in
// that generation.
type PeerRecord struct {
	Gen, Seq uint64
}

func (c *Config) validate() error {
	if c.Local == "" {
		return errors.New("membership: local node name is empty")
	}
	if c.Local != strings.ToLower(c.Local) {
		return fmt.Errorf("membership: local node %q is not lower case", c.Local)
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		if n == "" || n != strings.ToLower(n) || strings.ContainsAny(n, " \t") {
			return fmt.Errorf("membership: node name %q must be lower case without blanks", n)
		}
		if seen[n] {
			return fmt.Errorf("membership: node %q listed twice", n)
		}
		seen[n] = true
	}
	if !seen[c.Local] {
		return fmt.Errorf("membership: local node %q is not in the node list", c.Local)
	}
	if len(c.Links) == 0 {
		return errors.New("membership: no media configured")
	}
	links := map[string]bool{}
	for _, l := range c.Links {
		if l == "" || links[l] {
			return fmt.Errorf("membership: medium name %q is empty or listed twice", l)
		}
		links[l] = true
	}
	if c.Keepalive <= 0 {
		return fmt.Errorf("membership: keepalive %v must be positive", c.Keepalive)
	}
	if c.Deadtime <= 2*c.Keepalive {
		return fmt.Errorf("membership: deadtime %v must be more than twice keepalive %v", c.Deadtime, c.Keepalive)
	}
	if c.Warntime <= 0 || c.Warntime > c.Deadtime {
		return fmt.Errorf("membership: warntime %v must be positive and at most deadtime %v", c.Warntime, c.Deadtime)
	}
	if c.Initdead < c.Deadtime {
		return fmt.Errorf("membership: initdead %v must be at least deadtime %v", c.Initdead, c.Deadtime)
	}
	if c.MaxRexmitDelay <= 0 {
		return fmt.Errorf("membership: max_rexmit_delay %v must be positive", c.MaxRexmitDelay)
	}
	if c.Generation == 0 {
		return errors.New("membership: generation 0 would look like a missing hg to peers")
	}
	if c.MaxCopies < 0 || c.MaxCopies > 10 {
		return fmt.Errorf("membership: %d copies per message is outside 0..10", c.MaxCopies)
	}
	if c.HopFudge < 0 || c.PingNodes < 0 {
		return fmt.Errorf("membership: hopfudge %d and ping node count %d must not be negative", c.HopFudge, c.PingNodes)
	}
	return nil
}

// Stats counts what the receive pipeline did; cl_status and debug logs show
// them, tests assert on them.
type Stats struct {
	Received      uint64 // messages stepped in
	Accepted      uint64 // in order (or a recovered missing one) and for us
	Duplicates    uint64 // seq == last seen: the copy from another link
	OldDropped    uint64 // older than the last seq and not missing
	NotForUs      uint64 // in order, but dest is another node
	Replays       uint64 // lower generation than known
	Malformed     uint64 // missing src/ts/t/seq, unparsable numbers
	UnknownNode   uint64 // src not in the node list (autojoin none)
	Lost          uint64 // seq numbers found missing
	Irretrievable uint64 // missing seqs the sender NAKed
	RexmitAsked   uint64 // NS_rexmit requests we sent
	Retransmitted uint64 // messages we re-sent for peers
	Naks          uint64 // NS_nak_rexmit we sent
	// Stale counts messages dropped because they are not of the peer's
	// current generation (an NS_ message, or another message before a
	// status announced that generation), or because the peer is not
	// alive (NS_ackmsg, NS_rexmit, NS_nak_rexmit).
	Stale uint64
	// RexmitLimited counts retransmissions and NAKs refused by a peer's
	// rate limit; LogsSuppressed the log lines about its packets that
	// were left out (see limit.go).
	RexmitLimited  uint64
	LogsSuppressed uint64
	// Copies counts the extra copies of statuses and takeover messages
	// sent because the links lose packets (redundancy.go).
	Copies uint64
}

// NodeInfo is one node as cl_status listnodes shows it.
type NodeInfo struct {
	Name   string
	Status nodestatus.Status
	Type   string // "normal"
}

// LinkInfo is one medium of a node as cl_status hblinkstatus shows it.
type LinkInfo struct {
	Name   string
	Status nodestatus.Status
}

type link struct {
	name       string
	status     nodestatus.Status
	lastUpdate time.Time // zero: never
}

// node is everything we know about one cluster node, the local one included
// (our own messages loop back through the same path).
type node struct {
	name    string
	uuid    [16]byte
	hasUUID bool
	status  nodestatus.Status

	lastStatus    time.Time // local receive time of its last status; zero: none
	statusSeq     uint64    // seq of that status
	remoteTS      uint64    // its ts
	deadtime      time.Duration
	anyPacketsYet bool

	track seqTrack
	links []*link

	persisted PeerRecord // what the shell stored last (PersistPeer, Config)
	// persistedAt is when a live peer's record was last refreshed: after a
	// crash of ours, replayed packets below it stay refused.
	persistedAt time.Time
	// durable: persisted was stored by a durable PersistPeer (not only a
	// Periodic one); death and shutdone store durably even when the record
	// is unchanged.
	durable   bool
	limits    peerLimits // retransmissions, NAKs and log lines for it
	genHinted bool       // the lower-generation hint was logged
	loss      lossMeter  // what its packets tell about the links
}

// live: the node is up or active, or has sent a status of its current
// generation saying init. Only a live peer's NS_ackmsg, NS_rexmit and
// NS_nak_rexmit count (status starts as init before anything is heard).
func (n *node) live() bool {
	return n.status == StatusUp || n.status == StatusActive || (n.status == StatusInit && n.statusSeq > 0)
}

// Table is the membership state of the local node. It is not safe for
// concurrent use: the shell steps it from one goroutine.
type Table struct {
	cfg Config
	rng *rand.Rand

	nodes  []*node // ha.cf order
	byName map[string]*node
	self   *node

	now         time.Time // of the current Step
	started     bool
	startedAt   time.Time
	localStatus nodestatus.Status
	advertised  time.Duration // our current dt
	dtPopAt     time.Time     // when the start-up dt bonus ends; zero: none
	loadAvg     string

	nextStatus    time.Time
	nextDeadCheck time.Time

	linksUp      bool // every node heard from or dead (COMM_LINKSUP)
	gotRepnodes  bool
	commUp       bool
	reqnodesAt   time.Time // next reqnodes retry; zero: none
	reqnodesFrom int       // node index to start the search at
	flowControl  bool      // off for good once a peer omits "protocol"
	lastSeq      uint64    // last seq we assigned
	hist         history
	rexmits      []rexmitTimer
	copies       []pendingCopy // extra copies due later (redundancy.go)
	copyLevel    int           // copies per message, as last logged
	copyPeer     *node         // the peer whose links called for them
	pings        pingTable     // ping nodes (ping.go)
	stats        Stats
	out          []Action
}

// New returns a table for cfg, or an error naming the bad setting.
func New(cfg Config) (*Table, error) {
	if cfg.DeadCheck <= 0 {
		cfg.DeadCheck = deadCheckEvery
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pings, err := newPings(&cfg)
	if err != nil {
		return nil, err
	}
	cfg.Nodes = append([]string(nil), cfg.Nodes...)
	cfg.Links = append([]string(nil), cfg.Links...)
	t := &Table{
		cfg:         cfg,
		rng:         rand.New(rand.NewSource(cfg.Seed)),
		byName:      map[string]*node{},
		localStatus: StatusInit,
		advertised:  cfg.Deadtime,
		flowControl: true,
		copyLevel:   1,
		pings:       pings,
	}
	for _, name := range cfg.Nodes {
		n := &node{name: name, status: StatusInit, deadtime: cfg.Deadtime}
		// Heartbeat picks every node's ACK trigger at random at start-up.
		n.track.ackTrigger = uint64(t.rng.Intn(ackDiv))
		if u, ok := cfg.KnownUUIDs[name]; ok {
			n.uuid, n.hasUUID = u, true
		}
		for _, l := range cfg.Links {
			n.links = append(n.links, &link{name: l, status: LinkDead})
		}
		t.nodes = append(t.nodes, n)
		t.byName[name] = n
	}
	t.self = t.byName[cfg.Local]
	t.self.uuid, t.self.hasUUID = cfg.UUID, true
	for name, r := range cfg.PeerRecords {
		n := t.byName[name]
		if n == nil || n == t.self || r.Gen == 0 {
			continue
		}
		n.track.generation, n.track.floor = r.Gen, r.Seq
		n.persisted = r
	}
	t.cfg.PeerRecords = nil // not retained
	return t, nil
}

// Step feeds one event at time now and returns what to do, in order. now
// must not go backwards; its wall-clock part is used only for the "ts" field.
func (t *Table) Step(now time.Time, ev Event) []Action {
	t.out = nil
	t.now = now
	switch e := ev.(type) {
	case Start:
		t.start(now, e.LoadAvg)
	case Tick:
		if e.LoadAvg != "" {
			t.loadAvg = e.LoadAvg
		}
		if t.started {
			t.checkPings(now)
			t.tick(now)
		}
	case Received:
		if t.started && !t.pingReceived(now, e.Msg, e.Link) {
			t.receive(now, e.Msg, e.Link)
		}
	case Send:
		if t.started && e.Msg != nil {
			t.send(now, e.Msg.Clone())
		}
	case Shutdown:
		if t.started {
			t.shutdown(now, e.Restart)
		}
	}
	out := t.out
	t.out = nil
	return out
}

// Nodes lists every configured node with its current status (ha.cf order).
func (t *Table) Nodes() []NodeInfo {
	out := make([]NodeInfo, 0, len(t.nodes))
	for _, n := range t.nodes {
		st := n.status
		if n == t.self {
			st = t.localStatus
		}
		out = append(out, NodeInfo{Name: n.name, Status: st, Type: "normal"})
	}
	return out
}

// Links lists the media of node with their status, or nil for an unknown node.
func (t *Table) Links(nodeName string) []LinkInfo {
	n := t.byName[strings.ToLower(nodeName)]
	if n == nil {
		return t.pingLinks(nodeName)
	}
	out := make([]LinkInfo, 0, len(n.links))
	for _, l := range n.links {
		out = append(out, LinkInfo{Name: l.name, Status: l.status})
	}
	return out
}

// Records is every peer's generation and highest seq seen in it, for the
// shell to store at a clean stop (as PersistPeer records) and pass back in
// Config.PeerRecords at the next start. Peers never heard from and without
// a record are left out.
func (t *Table) Records() map[string]PeerRecord {
	out := map[string]PeerRecord{}
	for _, n := range t.nodes {
		if r := n.record(); n != t.self && r.Gen != 0 {
			out[n.name] = r
		}
	}
	return out
}

// record is what a PersistPeer for n says now.
func (n *node) record() PeerRecord {
	return PeerRecord{Gen: n.track.generation, Seq: max(n.track.floor, n.track.lastSeq)}
}

// persist asks the shell to store n's record if it changed since it was
// last stored.
func (t *Table) persist(n *node) {
	r := n.record()
	if n == t.self || r.Gen == 0 || (r == n.persisted && n.durable) {
		return
	}
	n.persisted, n.durable = r, true
	t.emit(PersistPeer{Node: n.name, Gen: r.Gen, Seq: r.Seq})
}

// PersistEvery is how often a live peer's advancing record is stored. A
// record kept only at the peer's death or generation change would, after
// a crash of ours, let a replay of anything the live peer sent since its
// first status in (a dead peer revived, a recorded outdate request
// carried out); with it, only the last second's packets remain.
const PersistEvery = time.Second

// persistLive refreshes a live peer's stored record at most every
// PersistEvery, or at once when at is set.
func (t *Table) persistLive(now time.Time, n *node, at bool) {
	if n == t.self || (!at && now.Sub(n.persistedAt) < PersistEvery) {
		return
	}
	r := n.record()
	if r.Gen == 0 || r == n.persisted {
		return
	}
	n.persisted, n.persistedAt, n.durable = r, now, false
	t.emit(PersistPeer{Node: n.name, Gen: r.Gen, Seq: r.Seq, Periodic: true})
}

// LocalStatus is our own status: init, up or active.
func (t *Table) LocalStatus() nodestatus.Status { return t.localStatus }

// Stats returns the receive and retransmission counters.
func (t *Table) Stats() Stats { return t.stats }

func (t *Table) logf(lv level.Level, format string, args ...any) {
	t.out = append(t.out, Log{Level: lv, Text: fmt.Sprintf(format, args...)})
}

func (t *Table) emit(a Action) { t.out = append(t.out, a) }

// lookup finds a node by uuid first, then by name, as Heartbeat's
// lookup_tables does.
func (t *Table) lookup(name string, uuid []byte) *node {
	if len(uuid) == 16 {
		for _, n := range t.nodes {
			if n.hasUUID && string(n.uuid[:]) == string(uuid) {
				return n
			}
		}
	}
	return t.byName[strings.ToLower(name)]
}

func (n *node) link(name string) *link {
	for _, l := range n.links {
		if l.name == name {
			return l
		}
	}
	return nil
}

// wireMessage builds a message with a t field; a small helper for the
// protocol messages the table originates.
func wireMessage(typ string, kv ...string) *wire.Message {
	m := wire.New(typ)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return m
}
