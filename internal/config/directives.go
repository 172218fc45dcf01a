package config

import (
	"fmt"
	"strconv"
	"time"
)

// DirectiveKind says where a ha.cf directive comes from and how heartbeatd
// treats it. The man page and the commented example group directives by it.
type DirectiveKind string

const (
	// KindHeartbeat is a Heartbeat 3.0.6 directive that heartbeatd honours.
	KindHeartbeat DirectiveKind = "heartbeat"
	// KindExtension is a heartbeatd-only directive. Real Heartbeat stops with
	// "Illegal directive" when it sees one, so a ha.cf that uses them can no
	// longer be shared with Heartbeat nodes unchanged.
	KindExtension DirectiveKind = "extension"
	// KindCRMOnly is a Heartbeat directive that only matters when Pacemaker
	// (crm) runs; heartbeatd runs haresources mode only, so it is accepted
	// with a warning and ignored.
	KindCRMOnly DirectiveKind = "crm-only"
	// KindObsolete is an old spelling that Heartbeat still accepts with a
	// complaint; heartbeatd maps it to the current directive with a warning.
	KindObsolete DirectiveKind = "obsolete"
	// KindUnsupported is a Heartbeat directive that heartbeatd refuses,
	// because silently ignoring it would leave the cluster different from
	// what the admin wrote.
	KindUnsupported DirectiveKind = "unsupported"
)

// DirectiveDoc documents one ha.cf directive. This table is the single place
// where directives are described: the parser uses it to know which names
// exist (and to suggest one for a typo), and the ha.cf(5) man page and the
// commented ha.cf.example are generated from it.
type DirectiveDoc struct {
	Name    string        // directive name as written in ha.cf
	Args    string        // argument synopsis
	Default string        // value in force when the directive is absent ("" = none)
	Unit    string        // unit of the value, "" if not a quantity
	Doc     string        // what it does, for the man page
	Kind    DirectiveKind // heartbeat, extension, crm-only, obsolete, unsupported
}

// timeSyntax is appended to the docs of every time-valued directive.
const timeSyntax = " Time syntax: a plain number is seconds (fractions allowed, e.g. 0.5); " +
	"the suffix ms means milliseconds and us or usec microseconds, written without a blank " +
	"(500ms). heartbeatd also accepts the suffix s (2s) with a warning; real Heartbeat rejects it."

// Directives lists every directive heartbeatd knows, in the order of the
// man page. Heartbeat's directive names are case-sensitive; so are ours.
var Directives = []DirectiveDoc{
	// Nodes.
	{Name: "node", Args: "NAME...", Kind: KindHeartbeat,
		Doc: "Declares cluster nodes, one or more per line. Names are compared lower-cased and must match " +
			"each node's `uname -n` (or the first line of /etc/ha.d/nodeinfo). There is no nodename directive. " +
			"Every node of the cluster, including this one, must be listed; listing a node twice is an error."},

	// Timing.
	{Name: "keepalive", Args: "TIME", Default: secs(DefaultKeepalive), Unit: "seconds", Kind: KindHeartbeat,
		Doc: "Interval between two status (heartbeat) packets sent on every medium." + timeSyntax},
	{Name: "deadtime", Args: "TIME", Default: secs(DefaultDeadtime), Unit: "seconds", Kind: KindHeartbeat,
		Doc: "A node is declared dead when no status packet arrived from it for this long; its resources are " +
			"then taken over. Must be more than twice keepalive. Keep it above DRBD's timeout plus ping-timeout " +
			"so that DRBD notices a dead peer no later than heartbeat does." + timeSyntax},
	{Name: "warntime", Args: "TIME", Default: "deadtime/2", Unit: "seconds", Kind: KindHeartbeat,
		Doc: "A \"Late heartbeat\" warning is logged when a node's status packet is this late. " +
			"Should be less than deadtime; a warning is printed otherwise." + timeSyntax},
	{Name: "initdead", Args: "TIME", Default: "deadtime if deadtime > 10 s; 12 s if deadtime < 6 s; else 2 x deadtime",
		Unit: "seconds", Kind: KindHeartbeat,
		Doc: "Deadtime used right after start-up, when the network may still be coming up. Must be at least " +
			"deadtime; a value below 10 s draws a warning." + timeSyntax},
	{Name: "deadping", Args: "TIME", Default: "deadtime", Unit: "seconds", Kind: KindHeartbeat,
		Doc: "Deadtime for ping nodes (see ping, ping_group). When set it must be more than twice keepalive." + timeSyntax},

	// Media.
	{Name: "udpport", Args: "PORT", Default: fmt.Sprint(DefaultUDPPort), Kind: KindHeartbeat,
		Doc: "UDP port of the bcast and ucast media. It applies only to media lines that come after it; " +
			"media lines above it keep the previous port (694 by default), exactly as in Heartbeat. " +
			"heartbeatd does not consult /etc/services for the default."},
	{Name: "bcast", Args: "INTERFACE...", Kind: KindHeartbeat,
		Doc: "Sends heartbeats as UDP broadcasts on each named interface (one medium per interface) to the " +
			"interface's configured broadcast address and the udpport in force on this line. The interface " +
			"needs a broadcast address (ip addr add ... brd +)."},
	{Name: "ucast", Args: "INTERFACE PEER", Kind: KindHeartbeat,
		Doc: "Sends heartbeats as UDP unicast to PEER (IP address or host name) over INTERFACE, on the udpport " +
			"in force on this line. Write one ucast line per peer."},
	{Name: "mcast", Args: "INTERFACE GROUP PORT TTL LOOP", Kind: KindHeartbeat,
		Doc: "Sends heartbeats to IPv4 multicast GROUP on PORT over INTERFACE. All five arguments are required: " +
			"TTL 0 to 4 (Heartbeat rejects more), LOOP 0 or 1 (loop packets back to this host). udpport does not " +
			"apply to mcast."},
	{Name: "serial", Args: "DEVICE...", Kind: KindHeartbeat,
		Doc: "Sends heartbeats over each named serial device at the baud rate in force on this line."},
	{Name: "baud", Args: "RATE", Default: fmt.Sprint(DefaultBaud), Unit: "bits/s", Kind: KindHeartbeat,
		Doc: "Speed of the serial media that follow it: 9600, 19200, 38400, 57600, 115200, 230400 or 460800. " +
			"May be given once."},
	{Name: "udp", Args: "INTERFACE...", Kind: KindObsolete,
		Doc: "Old name of bcast; accepted with a warning."},
	{Name: "mcast6", Args: "INTERFACE GROUP PORT HOPS LOOP", Kind: KindUnsupported,
		Doc: "IPv6 multicast medium. heartbeatd does not implement it and refuses the configuration."},
	{Name: "ucast6", Args: "INTERFACE PEER", Kind: KindUnsupported,
		Doc: "IPv6 unicast medium. heartbeatd does not implement it and refuses the configuration."},

	// Ping nodes.
	{Name: "ping", Args: "HOST...", Kind: KindHeartbeat,
		Doc: "Each host becomes a ping node: a pseudo-member that is alive while it answers ICMP echo. " +
			"Used by ipfail-style logic to tell a local network failure from a peer failure."},
	{Name: "ping_group", Args: "NAME HOST...", Kind: KindHeartbeat,
		Doc: "One ping node called NAME that is alive while any of the hosts answers."},

	// Resource management.
	{Name: "auto_failback", Args: "on|off|legacy", Default: DefaultAutoFailback, Kind: KindHeartbeat,
		Doc: "on: resources go back to their home node (the node named in haresources) when it returns. " +
			"off: resources stay where they are. legacy: like on when every node runs legacy mode, the " +
			"behaviour of Heartbeat before auto_failback existed; deprecated, a warning is printed."},
	{Name: "nice_failback", Args: "on|off", Kind: KindObsolete,
		Doc: "Obsolete spelling. nice_failback on means auto_failback off; nice_failback off means " +
			"auto_failback legacy. Accepted with a warning."},
	{Name: "stonith", Args: "TYPE CONFIGFILE", Kind: KindHeartbeat,
		Doc: "R1 STONITH: a device of cluster-glue stonith plugin TYPE (`stonith -L` lists them), usable by every " +
			"node, used to reset a dead node before its resources are taken over. CONFIGFILE (the rest of the line) " +
			"holds the plugin's parameters on its first line that does not start with #, in the order " +
			"`stonith -t TYPE -n` lists them, separated by blanks; the device is driven as " +
			"`stonith -t TYPE -F CONFIGFILE`. The file usually holds a password: make it readable by root only. " +
			"Heartbeat uses only the last stonith or stonith_host line that applies to a node. " +
			"`heartbeatd check` runs the plugin to verify the type and the parameter count."},
	{Name: "stonith_host", Args: "HOST|* TYPE PARAMS...", Kind: KindHeartbeat,
		Doc: "R1 STONITH: a device of plugin TYPE with inline parameters, usable by node HOST (the node the device " +
			"is reachable from, not the node it resets; * = every node). A node ignores the lines of other nodes, " +
			"so in a two-node cluster each node usually has its own line naming the device that controls its " +
			"peer. PARAMS are the plugin's parameters in the order `stonith -t TYPE -n` lists them, separated by " +
			"blanks; the last one takes the rest of the line. The device is driven as " +
			"`stonith -t TYPE -p \"PARAMS\"`. `heartbeatd check` verifies the parameter count."},
	{Name: "fence_agent", Args: "HOST|* AGENT [KEY=VALUE...]", Kind: KindExtension,
		Doc: "heartbeatd extension. A fence device driven by a fence-agents program, /usr/sbin/fence_AGENT " +
			"(AGENT may be written with or without its fence_ prefix: ipmilan or fence_ipmilan), usable by node " +
			"HOST (* = every node) as for stonith_host. The KEY=VALUE pairs are the agent's parameters " +
			"(`fence_AGENT -o metadata` lists them) and reach the agent as lines on its standard input, never on " +
			"a command line. heartbeatd adds action (reboot, or off for agents that cannot reboot; monitor for " +
			"the status check) and the name of the node to fence as plug, port or nodename, whichever the " +
			"agent's metadata offers first, unless the line sets that parameter itself (a virtual machine " +
			"named differently from its node) or the agent takes its target as an address (port_as_ip). " +
			"Values cannot contain blanks. ha.cf is usually world-readable: prefer password_script= or " +
			"identity_file= to password=. `heartbeatd check` reports unknown and missing required parameters."},
	{Name: "ping_tiebreak", Args: "yes|no", Default: "yes", Kind: KindExtension,
		Doc: "With ping nodes configured: when the peer goes dead, a node that reaches none of its ping nodes is the " +
			"isolated one: it neither takes over nor fences, and it releases what it holds (the peer may run it in the " +
			"partition that reaches the network; Heartbeat keeps it). It takes everything back as soon as a ping node " +
			"answers while the peer is still dead. No effect without ping nodes."},
	{Name: "ipfail", Args: "yes|no", Default: "yes with a respawn line running ipfail, else no", Kind: KindExtension,
		Doc: "Runs Heartbeat's ipfail built in: each node counts the ping nodes it reaches and tells the other " +
			"(ipfail's num_ping_nodes, you_are_dead and abort_giveup messages, so a Heartbeat peer running ipfail " +
			"takes part); the node that reaches fewer gives its resources to the other as hb_standby does, two " +
			"keepalives later unless the counts balance again meanwhile. A respawn line whose command is ipfail " +
			"turns it on, as it does in Heartbeat; `ipfail no` turns it off. Needs ping nodes and " +
			"auto_failback on or off (like Heartbeat's ipfail, it does nothing with legacy)."},
	{Name: "fence_policy", Args: "heartbeat|holder", Default: DefaultFencePolicy, Kind: KindExtension,
		Doc: "heartbeatd extension. Which node fences a peer that died. heartbeat: Heartbeat's rule: the node " +
			"that takes over the dead node's resources fences it first, at once, unless the dead node had given " +
			"its resources up; when the two nodes only lost sight of each other, both fence at once and the " +
			"faster wins, which may be the idle one. holder: a node that holds resources fences at once; a node " +
			"that holds none waits fence_delay first, so that in such a split the node running the services " +
			"survives, and when the holder really died the idle node fences it after fence_delay and takes over."},
	{Name: "fence_delay", Args: "TIME", Default: secs(DefaultFenceDelay), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. With fence_policy holder: how long a node that holds no resources waits " +
			"before fencing a peer it saw die; the node that holds resources fences at once. It must be longer " +
			"than the holder's device takes to cut the power (a few seconds for IPMI), and it adds to the " +
			"failover time when the holder really died. 0 = no wait." + timeSyntax},
	{Name: "fence_delay_max", Args: "TIME", Default: secs(DefaultFenceDelayMax), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. Upper bound of a random delay added before every fencing operation, like " +
			"Pacemaker's pcmk_delay_max. When both nodes hold resources (each is home to a group) both fence at " +
			"once; a random delay lets one of them win. 0 = none, so that failover stays predictable." + timeSyntax},
	{Name: "fence_timeout", Args: "TIME", Default: secs(DefaultFenceTimeout), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. Longest one fencing operation (reset, status check, reading a plugin's " +
			"parameters) may run; then its process group gets SIGTERM, SIGKILL 2 s later, and the operation " +
			"counts as failed. 60 s, as Pacemaker's stonith-timeout, fits an IPMI off-wait-on cycle." + timeSyntax},
	{Name: "fence_check_interval", Args: "TIME", Default: secs(DefaultFenceCheckInterval), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. How often each fence device's status is checked (`stonith ... -S`, or the " +
			"agent's monitor action), so that a broken device or a changed password is reported before it is " +
			"needed. Some devices accept one session at a time (APC MasterSwitch over telnet), and a check " +
			"that is running delays a real fence, hence the long default. 0 = never." + timeSyntax},
	{Name: "script_timeout", Args: "TIME", Default: secs(DefaultScriptTimeout), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. Longest a single resource script run (start, stop or status) may take " +
			"before it is killed and counted as failed. Generous by default because a start may run fsck or " +
			"wait for a DRBD promotion. Heartbeat has no such limit." + timeSyntax},
	{Name: "monitor_interval", Args: "TIME", Default: "0", Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. Resource monitoring: while a group runs on this node and nothing else is " +
			"under way for it, each of its resources is checked every TIME (monitor for heartbeatd's built-in " +
			"agents, which check that the resource is present and healthy; status for any other script, judged " +
			"as Heartbeat judges status: only \"running\" is healthy). A failed check restarts the group here " +
			"(stop right to left, start left to right), up to monitor_max_restarts times within monitor_window; " +
			"past that its set is handed to the peer as hb_standby does, or, when no peer can take it, restarted " +
			"here again at every failure. The first check comes one interval after the group started. 0 = off " +
			"(Heartbeat R1 never checks a running resource). At least 1 s. The suffix s draws no warning (10s)." + timeSyntax},
	{Name: "monitor", Args: "RESOURCE TIME|off", Kind: KindExtension,
		Doc: "heartbeatd extension. The monitor interval of one resource, named by its haresources token as written " +
			"(IPaddr::10.0.0.5/24/eth0) or by its script name (mysql, every resource of that script; the token " +
			"wins); off turns its monitoring off. Overrides monitor_interval, which may stay 0 so that only the named " +
			"resources are checked. Repeatable, once per name. It lives in ha.cf, not haresources, because a " +
			"Heartbeat peer of a mixed cluster reads the same haresources file."},
	{Name: "monitor_timeout", Args: "TIME", Default: secs(DefaultMonitorTimeout), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. Longest one monitor check may run; a check that overruns is killed and counts " +
			"as a failure (a hung check, e.g. on a stale NFS mount, is a failure worth acting on)." + timeSyntax},
	{Name: "monitor_max_restarts", Args: "N", Default: fmt.Sprint(DefaultMonitorMaxRestarts), Kind: KindExtension,
		Doc: "heartbeatd extension. How many times a group is restarted on this node after failed monitor checks " +
			"within monitor_window before it is handed to the peer (Pacemaker's migration-threshold minus one). " +
			"0 hands it over at the first failure."},
	{Name: "monitor_window", Args: "TIME", Default: secs(DefaultMonitorWindow), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. The window monitor_max_restarts counts restarts in: a restart older than this is " +
			"forgotten." + timeSyntax},
	{Name: "monitor_failure_timeout", Args: "TIME", Default: secs(DefaultMonitorFailureTimeout), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. A node that handed a group to its peer after failed monitor checks does not take " +
			"it back (auto_failback, or a standby request of the peer, which then fails there too) for this long, " +
			"or until `heartbeatd cleanup GROUP` on that node. A group that fails on both nodes therefore ends " +
			"stopped on one of them with a CRIT line instead of moving back and forth; a dead peer's groups are " +
			"still taken over." + timeSyntax},
	{Name: "stop_failure", Args: "reboot|block", Default: DefaultStopFailure, Kind: KindExtension,
		Doc: "heartbeatd extension. What to do when a resource will not stop (after the retries Heartbeat " +
			"also makes): reboot this node at once, as Heartbeat does, so that the peer can take over safely; " +
			"or block: keep the group marked failed on this node, never let the peer start it, and wait for " +
			"the admin. block avoids a reboot but keeps the service down until someone intervenes."},
	{Name: "metrics_listen", Args: "ADDRESS:PORT", Kind: KindExtension,
		Doc: "heartbeatd extension. Serves Prometheus metrics over HTTP on this address and port, path /metrics " +
			"(for example 127.0.0.1:9694; :9694 listens on every address). Off when absent. The metrics carry no " +
			"secret but show the cluster's state to whoever can connect: keep the address on a management " +
			"network or behind a firewall. heartbeatd(8) lists the metrics. An address that cannot be bound is " +
			"logged and the daemon runs without metrics."},
	{Name: "arp_refresh", Args: "TIME", Default: secs(DefaultARPRefresh), Unit: "seconds", Kind: KindExtension,
		Doc: "heartbeatd extension. While this node holds the address of an IPaddr, IPaddr2 or IPv6addr resource, " +
			"send one more gratuitous ARP (for IPv6addr an unsolicited neighbour advertisement) every TIME after " +
			"the takeover burst, as keepalived's garp_master_refresh does, so that a switch or router whose entry " +
			"aged out or was overwritten finds the holder again. The sender stops when the address is released " +
			"or the daemon exits. 0 = off: the takeover burst only. At least 1 s. A change needs a restart and " +
			"applies to addresses started after it." + timeSyntax + " Here the suffix s draws no warning (30s)."},

	// Protocol.
	{Name: "hopfudge", Args: "N", Default: fmt.Sprint(DefaultHopFudge), Kind: KindHeartbeat,
		Doc: "Extra hops a packet may travel beyond the number of nodes (sets the ttl field). 0 to 255."},
	{Name: "msgfmt", Args: "classic|netstring", Default: DefaultMsgFmt, Kind: KindHeartbeat,
		Doc: "Message format for API and FIFO traffic. Keep classic: netstring drops the inner auth field " +
			"and has a FIFO bug in Heartbeat 3.0.6. Packets on the wire are netstring either way."},
	{Name: "uuidfrom", Args: "file|nodename", Default: DefaultUUIDFrom, Kind: KindHeartbeat,
		Doc: "Where the node's uuid comes from: file (/var/lib/heartbeat/hb_uuid, random on first start) or " +
			"nodename (derived from the name with glibc rand(), not portable)."},
	{Name: "hbgenmethod", Args: "file|time", Default: DefaultHBGenMethod, Kind: KindHeartbeat,
		Doc: "How the generation number (incremented at every start) is kept: in " +
			"/var/lib/heartbeat/hb_generation, or taken from the clock."},
	{Name: "max_rexmit_delay", Args: "MILLISECONDS", Default: "250", Unit: "milliseconds", Kind: KindHeartbeat,
		Doc: "Upper bound of the random delay before answering a retransmission request. A plain integer " +
			"of milliseconds (not the time syntax)."},
	{Name: "autojoin", Args: "none|other|any", Default: "none", Kind: KindHeartbeat,
		Doc: "Lets unlisted nodes join. R1 (haresources) mode refuses anything but none."},
	{Name: "compression", Args: "MODULE", Default: "zlib", Kind: KindHeartbeat,
		Doc: "Compression module for large messages."},
	{Name: "compression_threshold", Args: "KB", Default: "2", Unit: "kilobytes", Kind: KindHeartbeat,
		Doc: "Messages larger than this are compressed."},
	{Name: "traditional_compression", Args: "yes|no", Default: "no", Kind: KindHeartbeat,
		Doc: "Compress whole messages instead of single fields."},

	// Logging.
	{Name: "logfacility", Args: "FACILITY|none", Kind: KindHeartbeat,
		Doc: "syslog facility for log lines (daemon, local0 ... local7, ...); none disables syslog."},
	{Name: "logfile", Args: "PATH", Kind: KindHeartbeat,
		Doc: "File that receives every log line except debug ones."},
	{Name: "debugfile", Args: "PATH", Kind: KindHeartbeat,
		Doc: "File that receives debug log lines."},
	{Name: "debug", Args: "LEVEL", Default: "0", Kind: KindHeartbeat,
		Doc: "Debug level, 0 to 255."},
	{Name: "use_logd", Args: "yes|no", Kind: KindHeartbeat,
		Doc: "Send log lines to the cluster-glue logging daemon. heartbeatd has no logd; a warning is printed " +
			"and it logs through syslog/logfile/debugfile."},
	{Name: "conn_logd_time", Args: "TIME", Default: "60", Unit: "seconds", Kind: KindHeartbeat,
		Doc: "Interval between reconnection attempts to logd. Ignored by heartbeatd." + timeSyntax},
	{Name: "syslogmsgfmt", Args: "yes|no", Default: "yes", Kind: KindHeartbeat,
		Doc: "Write syslog-style lines to logfile and debugfile."},
	{Name: "log_badpack", Args: "yes|no", Default: "yes", Kind: KindHeartbeat,
		Doc: "Log packets that fail to parse or to authenticate."},

	// Process.
	{Name: "realtime", Args: "yes|no", Default: "yes", Kind: KindHeartbeat,
		Doc: "Run with real-time scheduling and locked memory, so that heartbeats go out under load."},
	{Name: "rtprio", Args: "PRIORITY", Kind: KindHeartbeat,
		Doc: "SCHED_FIFO priority, 1 to 99, when realtime is on."},
	{Name: "memreserve", Args: "KB", Default: "6500", Unit: "kilobytes", Kind: KindHeartbeat,
		Doc: "Memory to preallocate and lock."},
	{Name: "watchdog", Args: "DEVICE", Kind: KindHeartbeat,
		Doc: "Kernel watchdog device (e.g. /dev/watchdog) kept alive by the daemon; the machine resets when " +
			"the daemon hangs. May be given once."},
	{Name: "coredumps", Args: "yes|no", Default: "yes", Kind: KindHeartbeat,
		Doc: "Allow core dumps."},
	{Name: "coreroot", Args: "DIR", Kind: KindHeartbeat,
		Doc: "Root directory for core dumps."},
	{Name: "use_apphbd", Args: "yes|no", Kind: KindHeartbeat,
		Doc: "Register with the application heartbeat daemon. Ignored by heartbeatd (with a warning)."},

	// API clients.
	{Name: "respawn", Args: "USER COMMAND [ARGS...]", Kind: KindHeartbeat,
		Doc: "Runs COMMAND as USER and restarts it when it exits (exit code 100 means do not restart). " +
			"Used for ipfail and dopd. The rest of the line is split on blanks only."},
	{Name: "failfast", Args: "USER COMMAND [ARGS...]", Kind: KindHeartbeat,
		Doc: "Like respawn, but the node reboots when COMMAND exits abnormally."},
	{Name: "apiauth", Args: "CLIENT [uid=USER,...] [gid=GROUP,...]", Kind: KindHeartbeat,
		Doc: "Who may connect to the API as CLIENT. Built-in: ipfail uid=hacluster, ccm uid=hacluster, " +
			"ping gid=haclient, lha-snmpagent uid=root, anon uid=root gid=haclient. For dopd write " +
			"apiauth dopd gid=haclient uid=hacluster."},
	{Name: "env", Args: "NAME=VALUE", Kind: KindHeartbeat,
		Doc: "Exports HA_NAME=VALUE to respawned clients and resource scripts."},

	// Pacemaker.
	{Name: "crm", Args: "off", Default: "off", Kind: KindHeartbeat,
		Doc: "Historical alias of pacemaker. Must stay off: heartbeatd runs haresources (R1) mode only."},
	{Name: "pacemaker", Args: "off", Default: "off", Kind: KindHeartbeat,
		Doc: "Must stay off: heartbeatd runs haresources (R1) mode only. To move to Pacemaker, use " +
			"`heartbeatd export-pacemaker`."},
	{Name: "cluster", Args: "NAME", Default: "linux-ha", Kind: KindCRMOnly,
		Doc: "Cluster name used by Pacemaker. Ignored (with a warning)."},
	{Name: "quorum_server", Args: "HOST", Kind: KindCRMOnly,
		Doc: "Quorum server used by Pacemaker. Ignored (with a warning)."},
	{Name: "crm_daemon_dir", Args: "DIR", Kind: KindCRMOnly,
		Doc: "Where the Pacemaker daemons live. Ignored (with a warning)."},
	{Name: "crmd_spawns_pengine", Args: "yes|no", Kind: KindCRMOnly,
		Doc: "Pacemaker only. Ignored (with a warning)."},
	{Name: "record_config_changes", Args: "yes|no", Kind: KindCRMOnly,
		Doc: "Pacemaker only. Ignored (with a warning)."},
	{Name: "record_pengine_inputs", Args: "yes|no", Kind: KindCRMOnly,
		Doc: "Pacemaker only. Ignored (with a warning)."},
	{Name: "enable_config_writes", Args: "yes|no", Kind: KindCRMOnly,
		Doc: "Pacemaker only. Ignored (with a warning)."},
}

// lookupDirective returns the documentation entry of name.
func lookupDirective(name string) (DirectiveDoc, bool) {
	for _, d := range Directives {
		if d.Name == name {
			return d, true
		}
	}
	return DirectiveDoc{}, false
}

// suggestDirective returns the known directive closest to name when the edit
// distance is at most 2, else "". Ties go to the earlier table entry.
func suggestDirective(name string) string {
	best, bestDist := "", 3
	for _, d := range Directives {
		if dist := levenshtein(name, d.Name, bestDist); dist < bestDist {
			best, bestDist = d.Name, dist
		}
	}
	return best
}

// levenshtein returns the edit distance of a and b, or limit when it is at
// least limit. The length check first keeps a 1 MB junk "directive" from
// costing a full quadratic comparison.
func levenshtein(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	if prev[len(b)] >= limit {
		return limit
	}
	return prev[len(b)]
}

// secs renders a default duration the way the table documents times: in
// seconds, as ha.cf takes them without a unit. The defaults are written
// once, as the Default constants the parser applies; the table, the
// example file and the man page take them from there.
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
