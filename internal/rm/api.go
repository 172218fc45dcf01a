// Package rm is the R1 (haresources) resource manager of heartbeatd as a pure
// state machine: it decides which haresources groups this node starts and
// stops, and which cluster messages it sends so that a real Heartbeat 3.0.6
// peer follows along (spec §5.5–5.6, §6, §8.1 rscstatus).
//
// It does no I/O: the shell feeds it Events with the current (monotonic) time
// and carries out the returned Actions. Heartbeat's own bookkeeping
// (hb_resource.c: resourcestate, i_hold_resources, other_holds_resources,
// other_is_stable, going_standby, ...) is kept under the same meaning so the
// wire behaviour can be compared line by line with the lab captures.
package rm

import (
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/level"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// Auto-failback modes (ha.cf auto_failback).
const (
	FailbackOn     = "on"
	FailbackOff    = "off"
	FailbackLegacy = "legacy"
)

// Stop failure policies (what to do when a group cannot be stopped and its
// status still says running).
const (
	// OnStopFailureReboot is Heartbeat's behaviour: "Resource STOP failure.
	// Reboot required!" — the shell is asked to reboot the machine.
	OnStopFailureReboot = "reboot"
	// OnStopFailureBlock keeps the node up and holding the group, marked
	// failed-stop, until an admin runs `heartbeatd cleanup KEY`.
	OnStopFailureBlock = "block"
)

// Config is what the resource manager needs from ha.cf and haresources.
type Config struct {
	// Local and Peer are the two normal nodes, lower-cased (R1 is two-node).
	Local, Peer string
	// Groups in haresources file order.
	Groups []haresources.Group
	// AutoFailback is "on", "off" or "legacy" (Heartbeat's default).
	AutoFailback string
	// StandbyTimeout: how long a standby requester waits for the peer's
	// "other" reply (Heartbeat STANDBY_INIT_TO_MS, 10 s).
	StandbyTimeout time.Duration
	// StandbyResourceTimeout bounds the whole standby exchange once both
	// sides agreed (HB_STANDBY_RSC_TO_MS, 60 min).
	StandbyResourceTimeout time.Duration
	// FallbackTimeout: after entering RSCRCVD, take our own groups anyway
	// when nobody became stable (RQSTDELAY, 10 s; the gap in A-main 01).
	FallbackTimeout time.Duration
	// FailureStandbyDelay: after a group failed to start, wait this long
	// and then hand the group's set to the peer (ResourceManager runs
	// hb_standby 30 s later).
	FailureStandbyDelay time.Duration
	// Stonith is true when a stonith/stonith_host device is configured:
	// the manager then asks the shell to Fence a dead peer before taking
	// its groups, and retries every StonithRetry on failure.
	Stonith      bool
	StonithRetry time.Duration
	// FencePolicy is FencePolicyHeartbeat or FencePolicyHolder (the
	// default); FenceDelay and FenceDelayMax are the holder policy's wait
	// for the node that holds fewer groups. Seed feeds the random part.
	FencePolicy string
	// PingTieBreak: a node that reaches none of its ping nodes does not
	// take over from (or fence) a dead peer (isolated.go).
	PingTieBreak bool
	// Ipfail runs Heartbeat's ipfail built in (ipfail.go); IpfailDelay is
	// its delayed giveup, twice the keepalive as in 3.0.6 (default 4 s).
	Ipfail                    bool
	IpfailDelay               time.Duration
	FenceDelay, FenceDelayMax time.Duration
	Seed                      int64
	// OnStopFailure is OnStopFailureReboot (default) or OnStopFailureBlock.
	OnStopFailure string
	// Monitor is what to do when a monitor check fails (monitor.go).
	Monitor MonitorPolicy
	// PID, when non-zero, is appended to "Heartbeat shutdown in progress.".
	PID int
}

func (c *Config) setDefaults() {
	if c.AutoFailback == "" {
		c.AutoFailback = FailbackLegacy
	}
	if c.StandbyTimeout == 0 {
		c.StandbyTimeout = 10 * time.Second
	}
	if c.StandbyResourceTimeout == 0 {
		c.StandbyResourceTimeout = 60 * time.Minute
	}
	if c.FallbackTimeout == 0 {
		c.FallbackTimeout = 10 * time.Second
	}
	if c.FailureStandbyDelay == 0 {
		c.FailureStandbyDelay = 30 * time.Second
	}
	if c.StonithRetry == 0 {
		c.StonithRetry = 5 * time.Second
	}
	if c.IpfailDelay == 0 {
		c.IpfailDelay = 4 * time.Second
	}
	if c.OnStopFailure == "" {
		c.OnStopFailure = OnStopFailureReboot
	}
}

// Event is one input to Step.
type Event interface{ isEvent() }

// CommUp: the local node went active (Comm_now_up). Alone means no peer is
// alive (it was declared dead at initdead, or never heard).
type CommUp struct{ Alone bool }

// PeerStatus is a status transition of the peer seen by membership:
// "init", "up", "active" or "dead". A new generation shows as init/up/active.
type PeerStatus struct {
	Node   string
	Status nodestatus.Status
}

// PeerReturned: the peer, declared dead earlier, is heard again with the
// same generation ("Cluster node N returning after partition."). Both
// sides may now hold the same groups.
type PeerReturned struct{ Node string }

// PeerShutdown: the peer sent t=shutdone (graceful stop complete).
type PeerShutdown struct{ Node string }

// Message is a cluster message of type starting, resource, ask_resources,
// hb_takeover, ip-request or ip-request-resp, from any node, including our
// own looped-back copies (ignored: the manager applies its own messages
// when it sends them).
type Message struct{ Msg *wire.Message }

// Admin is hb_standby ("standby") or hb_takeover ("takeover") with Set
// "all" | "local" | "foreign" | "failback" (empty = "all"), or "cleanup"
// with Set = a group key (the admin asserts the group is stopped here).
type Admin struct {
	Cmd AdminCmd
	Set string
}

// AdminCmd is an admin command the manager carries out.
type AdminCmd string

// The admin commands.
const (
	CmdStandby  AdminCmd = "standby"  // hb_standby
	CmdTakeover AdminCmd = "takeover" // hb_takeover
	CmdCleanup  AdminCmd = "cleanup"  // heartbeatd cleanup KEY
)

// GroupOp is what a GroupDone reports on.
type GroupOp string

// The group operations.
const (
	OpStart GroupOp = "start"
	OpStop  GroupOp = "stop"
)

// GroupDone: the executor finished a whole group operation. A failed start
// has already been released again by the executor unless Fatal is set.
type GroupDone struct {
	Key string
	Op  GroupOp
	OK  bool
	// Fatal: the stop (or, after a failed start, the release) failed and
	// status still says running.
	Fatal bool
	// Resource is the resource that failed (for the log line); Key if empty.
	Resource string
}

// FenceDone: the fencing device finished resetting Node.
type FenceDone struct {
	Node string
	OK   bool
}

// Tick lets timers fire; send one at least every 250 ms.
type Tick struct{}

// Shutdown: SIGTERM — release everything, announce, then ShutdownReady.
type Shutdown struct{}

func (CommUp) isEvent()       {}
func (PeerStatus) isEvent()   {}
func (PeerReturned) isEvent() {}
func (PeerShutdown) isEvent() {}
func (Message) isEvent()      {}
func (Admin) isEvent()        {}
func (GroupDone) isEvent()    {}
func (FenceDone) isEvent()    {}
func (Tick) isEvent()         {}
func (Shutdown) isEvent()     {}

// Action is one output of Step.
type Action interface{ isAction() }

// Send a cluster message (body fields only; membership adds src, seq, ...).
type Send struct{ Msg *wire.Message }

// StartGroup asks the executor to run a whole group's start. If a
// resource fails, the executor releases the group again before it reports
// GroupDone (OK false; Fatal when that release failed too).
//
// TakeoverFrom names the peer when the start takes over from a peer that
// was heard in this run and is now dead without having said shutdone: its
// node may still be up (a crashed or hung daemon) and still answer for the
// group's addresses. The executor tells the scripts so (HA_TAKEOVER_FROM),
// and IPaddr then takes the address without the duplicate-address probe
// that would otherwise refuse it. Empty for a normal start (at boot, or
// handed over by a live peer), where the probe guards against a
// misconfiguration.
type StartGroup struct {
	Key          string
	TakeoverFrom string
}

// StopGroup asks the executor to run a whole group's stop. KeptBy names
// the peer when the group is released because that peer keeps running it
// (a healed partition, where each group held twice stays on its home
// node): the clients still point at us, and nobody else will tell them
// (a real Heartbeat keeper does not re-announce). The executor tells the
// scripts (HA_RELEASE_TO) and IPaddr then points the neighbours at the
// keeper's MAC.
type StopGroup struct {
	Key    string
	KeptBy string
}

// Log levels as Heartbeat prints them.
const (
	LevelCrit  = level.Crit
	LevelError = level.Error
	LevelWarn  = level.Warn
	LevelInfo  = level.Info
	LevelDebug = level.Debug
)

// Log is a line for the heartbeat log.
type Log struct {
	Level level.Level
	Text  string
}

// Reply answers an Admin command.
type Reply struct {
	Cmd  AdminCmd
	OK   bool
	Text string
}

// ShutdownReady: every group is released; the shell may send shutdone and exit.
type ShutdownReady struct{}

// Reboot: a stop failed and the policy is "reboot"; the shell decides.
type Reboot struct{ Reason string }

// Fence asks the shell to reset Node with the configured STONITH device.
type Fence struct{ Node string }

func (Send) isAction()          {}
func (StartGroup) isAction()    {}
func (StopGroup) isAction()     {}
func (Log) isAction()           {}
func (Reply) isAction()         {}
func (ShutdownReady) isAction() {}
func (Reboot) isAction()        {}
func (Fence) isAction()         {}
