// Package config reads Heartbeat 3.0.6 configuration files: ha.cf, authkeys
// and nodeinfo. It turns them into typed values with Heartbeat's defaults and
// derived values, and reports every problem as a diag.Finding naming the file
// and line, so that `heartbeatd check` can show all of them at once.
//
// The parsers are written by hand (not with an ini library) because ha.cf is
// not ini: order matters (udpport and baud apply to the media lines after
// them), line numbers must survive into findings, values are split on blanks
// and commas, and '#' starts a comment anywhere.
package config

import "time"

// Heartbeat's built-in defaults (config.c, Directives table and
// init_config). Derived defaults (warntime, initdead, deadping) are computed
// in finish().
const (
	DefaultKeepalive      = 1000 * time.Millisecond
	DefaultDeadtime       = 30000 * time.Millisecond
	DefaultUDPPort        = 694
	DefaultBaud           = 19200
	DefaultHopFudge       = 1
	DefaultMaxRexmitDelay = 250 * time.Millisecond
	DefaultAutoFailback   = "legacy"
	DefaultMsgFmt         = "classic"
	DefaultUUIDFrom       = "file"
	DefaultHBGenMethod    = "file"
	DefaultScriptTimeout  = 300 * time.Second
	DefaultStopFailure    = StopFailureReboot
	// DefaultARPRefresh is arp_refresh's default: off.
	DefaultARPRefresh = time.Duration(0)
	// MinARPRefresh is the shortest arp_refresh: below a second a refresh
	// is a flood (and Linux ignores a second ARP update within its 1 s
	// locktime). The IPaddr agent applies the same bound to the value it
	// receives.
	MinARPRefresh = time.Second
)

// What to do when a resource refuses to stop (heartbeatd's stop_failure).
const (
	// StopFailureReboot reboots the node, as Heartbeat's
	// RecoverFromFailedStop does, so the peer may take over safely.
	StopFailureReboot = "reboot"
	// StopFailureBlock keeps the group marked failed here and never lets
	// the peer start it: no reboot, but the service stays down until an
	// admin intervenes.
	StopFailureBlock = "block"
)

// Config is a parsed ha.cf with every default and derived value filled in.
// Field docs name the directive; DirectiveDoc entries hold the full text.
type Config struct {
	// File is the path the config was read from, for findings.
	File string
	// Directives holds every known directive in file order, as written
	// (name as spelled, e.g. "udp"), with its values and line.
	Directives []Directive

	Keepalive time.Duration // keepalive
	Deadtime  time.Duration // deadtime
	Warntime  time.Duration // warntime, default Deadtime/2
	Initdead  time.Duration // initdead, derived from Deadtime when unset
	Deadping  time.Duration // deadping, default Deadtime
	// MaxRexmitDelay is max_rexmit_delay (integer milliseconds in ha.cf).
	MaxRexmitDelay time.Duration

	// UDPPort is the last udpport value (default 694). Each Medium carries
	// the port in force on its own line, which is what the media must use.
	UDPPort int
	// Baud is the last baud value (default 19200); see Medium.Baud.
	Baud  int
	Media []Medium

	Nodes      []string    // node, lower-cased, file order
	PingNodes  []string    // ping, one entry per host, file order
	PingGroups []PingGroup // ping_group

	AutoFailback string // on, off or legacy

	LogFacility string // logfacility, "" when unset, "none" disables syslog
	LogFile     string // logfile
	DebugFile   string // debugfile
	Debug       int    // debug, 0..255
	LogBadPack  bool   // log_badpack, default true

	Realtime bool // realtime, default true
	// PingTieBreak (extension ping_tiebreak, default true): see the
	// directive; it matters only with ping nodes.
	PingTieBreak bool
	// IpfailSet (extension ipfail yes|no) overrides what the respawn
	// lines say about ipfail; nil when not given. Use IpfailOn.
	IpfailSet *bool
	RTPrio    int    // rtprio, 0 = not set
	Watchdog  string // watchdog device, "" = none

	HopFudge    int    // hopfudge, default 1
	MsgFmt      string // msgfmt, classic or netstring
	UUIDFrom    string // uuidfrom, file or nodename
	HBGenMethod string // hbgenmethod, file or time

	Stonith     []Directive // stonith lines, raw (FenceDevices has them typed)
	StonithHost []Directive // stonith_host lines, raw (FenceDevices has them typed)
	// FenceDevices holds every stonith, stonith_host and fence_agent line
	// in file order, for every node; FenceDevicesFor picks a node's.
	FenceDevices []FenceDevice
	// FencePolicy (heartbeatd extension fence_policy) is
	// FencePolicyHeartbeat or FencePolicyHolder.
	FencePolicy string
	// FenceDelay (fence_delay) is how long a node holding no resources
	// waits before fencing a peer it saw die, under FencePolicyHolder.
	FenceDelay time.Duration
	// FenceDelayMax (fence_delay_max) bounds a random delay added before
	// every fencing operation; 0 = none.
	FenceDelayMax time.Duration
	// FenceTimeout (fence_timeout) bounds one fencing operation.
	FenceTimeout time.Duration
	// FenceCheckInterval (fence_check_interval) is how often each device's
	// status is checked; 0 = never.
	FenceCheckInterval time.Duration
	Respawn            []Respawn // respawn and failfast lines
	APIAuth            []APIAuth // apiauth lines (Heartbeat's built-ins not included)
	// Env holds env NAME=value pairs; they are exported as HA_NAME.
	Env map[string]string

	// ScriptTimeout (heartbeatd extension script_timeout) bounds one run of
	// a resource script.
	ScriptTimeout time.Duration
	// Monitor holds the resource-monitoring extension directives (off by
	// default).
	Monitor Monitor
	// StopFailure (heartbeatd extension stop_failure) is StopFailureReboot
	// or StopFailureBlock.
	StopFailure string
	// MetricsListen (heartbeatd extension metrics_listen) is the
	// ADDRESS:PORT the Prometheus metrics are served on; "" = off.
	MetricsListen string
	// ARPRefresh (heartbeatd extension arp_refresh) is how often a held
	// IPaddr or IPv6addr address is announced again; 0 = never.
	ARPRefresh time.Duration
}

// Directive is one ha.cf line: the directive name as written, its values
// (split on blanks, tabs and commas; on blanks only for the whole-line
// directives stonith, stonith_host, respawn, failfast, apiauth) and its line.
type Directive struct {
	Name string
	Args []string
	Line int
}

// Medium is one communication link. bcast and serial lines with several
// interfaces or devices produce one Medium each.
type Medium struct {
	Kind      string // bcast, ucast, mcast or serial
	Interface string // network interface (bcast, ucast, mcast)
	Peer      string // ucast: peer address or host name
	Group     string // mcast: IPv4 multicast group
	// Port is the UDP port: for bcast and ucast the udpport in force on
	// this line, for mcast the line's own port.
	Port   int
	TTL    int    // mcast
	Loop   bool   // mcast
	Device string // serial device
	Baud   int    // serial: the baud in force on this line
	Line   int
}

// PingGroup is a ping_group line: one ping node alive while any host answers.
type PingGroup struct {
	Name  string
	Hosts []string
	Line  int
}

// Respawn is a respawn or failfast line: a client run as User.
type Respawn struct {
	User     string
	Command  []string // program and arguments, split on blanks
	Failfast bool     // failfast: reboot when the client exits abnormally
	Line     int
}

// APIAuth is an apiauth line: who may connect to the API as Client.
type APIAuth struct {
	Client string
	UIDs   []string
	GIDs   []string
	Line   int
}
