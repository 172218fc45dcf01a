package reload

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"heartbeatd/internal/config"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/media"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/node"
	"heartbeatd/internal/rm"
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
		},
		RM: rm.Config{
			Local: r.Local, Peer: r.Peer, Groups: s.Hares.Groups,
			AutoFailback: c.AutoFailback, OnStopFailure: c.StopFailure, PID: r.PID,
		},
		Haresources:     s.Hares,
		HaresourcesPath: filepath.Join(r.ConfDir, "haresources"),
	}
}

// MediumSpec is one ha.cf medium as the media package opens it.
func MediumSpec(m config.Medium) media.Spec {
	return media.Spec{Kind: m.Kind, Interface: m.Interface, Peer: m.Peer, Group: m.Group,
		Port: m.Port, TTL: m.TTL, Loop: m.Loop, Device: m.Device, Baud: m.Baud}
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
