package reload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/config"
	"heartbeatd/internal/fence"
	"heartbeatd/internal/level"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/media"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/node"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/script"
	"heartbeatd/internal/state"
	"heartbeatd/internal/wire"
)

// Keyring is authkeys as the codec uses it: the active key signs, every
// key listed verifies.
func (s *Set) Keyring() (*wire.Keyring, error) {
	var active wire.Key
	var others []wire.Key
	for idx, k := range s.Auth.Keys {
		m, err := wire.ParseMethod(k.Method)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.AuthFile, k.Line, err)
		}
		wk := wire.Key{Index: idx, Method: m, Secret: []byte(k.Secret)}
		if idx == s.Auth.Active {
			active = wk
		} else {
			others = append(others, wk)
		}
	}
	kr, err := wire.NewKeyring(active, others...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.AuthFile, err)
	}
	return kr, nil
}

// KeepsKey refuses a new keyring that would no longer verify what peer
// signs with now (index idx of the running keyring; -1: nothing heard
// yet): saving a new key on one node first would cut the pair apart within
// deadtime, and both would take over.
func KeepsKey(running, next *wire.Keyring, idx int, peer string) error {
	if idx < 0 {
		return nil
	}
	old, _ := running.Lookup(idx)
	if k, ok := next.Lookup(idx); !ok || k.Method != old.Method || string(k.Secret) != string(old.Secret) {
		return fmt.Errorf("it no longer holds key %d as %s signs with it now; to rotate keys, add the new key "+
			"under a new index on both nodes, switch `auth N` on both, then remove the old key (authkeys(5))", idx, peer)
	}
	return nil
}

// Peer is the other node of ha.cf; "" when local is alone. haresources
// mode is two-node, so a third node is an error.
func (s *Set) Peer(local string) (string, error) {
	peer := ""
	for _, n := range s.Cfg.Nodes {
		if n != local {
			if peer != "" {
				return "", fmt.Errorf("%s: haresources mode supports two nodes; found more (%s)", s.Cfg.File, strings.Join(s.Cfg.Nodes, ", "))
			}
			peer = n
		}
	}
	return peer, nil
}

// Run is what a node's start adds to its configuration.
type Run struct {
	Local, Peer string
	// Links are the media's names, in ha.cf order.
	Links      []string
	Generation uint64
	UUID       [16]byte
	Seed       int64
	PID        int
	ConfDir    string
	// DeadCheck is membership's dead-check grid.
	DeadCheck time.Duration
	// Peers are the peer records of the state dir (hb_peers).
	Peers map[string]state.PeerRecord
}

// NodeConfig is the node core's configuration for this set.
func (s *Set) NodeConfig(r Run) node.Config {
	c := s.Cfg
	return node.Config{
		Membership: membership.Config{
			Local: r.Local, Nodes: c.Nodes, Links: r.Links,
			Keepalive: c.Keepalive, Deadtime: c.Deadtime, Warntime: c.Warntime,
			Initdead: c.Initdead, MaxRexmitDelay: c.MaxRexmitDelay,
			Generation: r.Generation, UUID: r.UUID, HopFudge: c.HopFudge, Seed: r.Seed,
			PingNodes: len(c.PingNodes) + len(c.PingGroups), DeadCheck: r.DeadCheck,
			PingNames: s.PingNames(), Deadping: c.Deadping,
			PeerRecords: peerRecords(r.Peers),
		},
		RM: rm.Config{
			Local: r.Local, Peer: r.Peer, Groups: s.Hares.Groups,
			AutoFailback: c.AutoFailback, OnStopFailure: c.StopFailure, PID: r.PID,
			Stonith: len(c.FenceDevicesFor(r.Local)) > 0, FencePolicy: c.FencePolicy,
			FenceDelay: c.FenceDelay, FenceDelayMax: c.FenceDelayMax, Seed: r.Seed,
			PingTieBreak: c.PingTieBreak, Monitor: s.MonitorPolicy(),
			Ipfail: c.IpfailOn(), IpfailDelay: 2 * c.Keepalive,
		},
		Monitor:         s.MonitorConfig(),
		Haresources:     s.Hares,
		HaresourcesPath: filepath.Join(r.ConfDir, "haresources"),
	}
}

func peerRecords(in map[string]state.PeerRecord) map[string]membership.PeerRecord {
	out := make(map[string]membership.PeerRecord, len(in))
	for k, v := range in {
		out[k] = membership.PeerRecord(v)
	}
	return out
}

// MediumSpec is one ha.cf medium as the media package opens it.
func MediumSpec(m config.Medium) media.Spec {
	return media.Spec{Kind: m.Kind, Interface: m.Interface, Peer: m.Peer, Group: m.Group,
		Port: m.Port, TTL: m.TTL, Loop: m.Loop, Device: m.Device, Baud: m.Baud}
}

// Media are the set's media as the media package opens them, each with
// its ha.cf place for error messages ("FILE:LINE: KIND").
func (s *Set) Media() (specs []media.Spec, labels []string) {
	for _, m := range s.Cfg.Media {
		specs = append(specs, MediumSpec(m))
		labels = append(labels, fmt.Sprintf("%s:%d: %s", s.Cfg.File, m.Line, m.Kind))
	}
	// One ping medium per ping node (Heartbeat's ping and ping_group
	// plugins); its name is the node's, and it is the node's only link.
	for _, h := range s.Cfg.PingNodes {
		specs = append(specs, media.Spec{Kind: media.KindPing, Peer: h, Hosts: h})
		labels = append(labels, fmt.Sprintf("%s: ping %s", s.Cfg.File, h))
	}
	for _, g := range s.Cfg.PingGroups {
		specs = append(specs, media.Spec{Kind: media.KindPing, Peer: g.Name, Hosts: strings.Join(g.Hosts, " ")})
		labels = append(labels, fmt.Sprintf("%s:%d: ping_group", s.Cfg.File, g.Line))
	}
	return specs, labels
}

// PingNames are the ping nodes: each ping host, then each ping_group.
func (s *Set) PingNames() []string {
	names := append([]string(nil), s.Cfg.PingNodes...)
	for _, g := range s.Cfg.PingGroups {
		names = append(names, g.Name)
	}
	return names
}

// Links are the names of the set's media, in ha.cf order: membership's
// links.
func (s *Set) Links() []string {
	names := make([]string, 0, len(s.Cfg.Media))
	for _, m := range s.Cfg.Media {
		names = append(names, MediumSpec(m).Name())
	}
	return names
}

// LogOptions are the set's logging settings for host; stderr and
// syslogPath come from the command line.
func (s *Set) LogOptions(host string, stderr bool, syslogPath string) logging.Options {
	c := s.Cfg
	return logging.Options{Facility: c.LogFacility, LogFile: c.LogFile, DebugFile: c.DebugFile,
		Debug: c.Debug, Host: host, Stderr: stderr, SyslogPath: syslogPath}
}

// ScriptEnv is the environment Heartbeat gives resource scripts (spec
// §6.8), so Debian's stock resource.d scripts, which source
// $HA_DIR/shellfuncs and log through ha_log, run unchanged. self is this
// binary (the resource.d wrappers of heartbeatd's own agents exec it),
// pid the daemon's.
func (s *Set) ScriptEnv(local, self string, pid int) []string {
	c := s.Cfg
	e := script.Environment{CurHost: local, LogFile: c.LogFile, DebugLog: c.DebugFile,
		LogFacility: c.LogFacility, Debug: c.Debug, NiceFailback: c.AutoFailback != "legacy",
		Heartbeatd: self, DaemonPID: pid, ARPRefresh: c.ARPRefresh}
	for k, v := range c.Env {
		e.Vars = append(e.Vars, script.EnvVar{Name: k, Value: v})
	}
	sort.Slice(e.Vars, func(i, j int) bool { return e.Vars[i].Name < e.Vars[j].Name })
	return e.List()
}

// ScriptRunner runs this set's resource scripts for local: found by the
// resolver `heartbeatd check` uses, with Heartbeat's environment and the
// script_timeout; log gets the lines (entity, level word, text). The ops
// of heartbeatd's own agents run in helpers started in advance
// (script.Spares) until ctx ends.
func (s *Set) ScriptRunner(ctx context.Context, confdir, local string, clk clock.Clock, log script.Logger) *script.Runner {
	self, _ := os.Executable()
	r := &script.Runner{Dirs: haresources.ScriptDirs(confdir), Env: s.ScriptEnv(local, self, os.Getpid()),
		Timeout: s.Cfg.ScriptTimeout, MonitorTimeout: s.Cfg.Monitor.Timeout, Log: log, Clock: clk}
	if self != "" {
		r.Spares = script.NewSpares(ctx, self, 0)
	}
	return r
}

// Fencer resets nodes with the STONITH devices local may use.
func (s *Set) Fencer(local string, log func(level.Level, string)) *fence.Fencer {
	return &fence.Fencer{Runner: &fence.Runner{Timeout: s.Cfg.FenceTimeout}, Devices: s.Cfg.FenceDevicesFor(local), Log: log}
}
