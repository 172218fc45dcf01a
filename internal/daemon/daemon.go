// Package daemon is the thin shell around heartbeatd's two pure cores
// (membership and rm): it owns the sockets, the timers, the resource-script
// executor, the admin socket and the log, and it is the only place where the
// cores' actions become I/O. Everything runs on one goroutine (Run's loop),
// so the cores need no locking; helpers (media receivers, script runs, admin
// connections) talk to the loop only through channels.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/config"
	"heartbeatd/internal/control"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/media"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/node"
	"heartbeatd/internal/reload"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/rt"
	"heartbeatd/internal/script"
	"heartbeatd/internal/state"
	"heartbeatd/internal/wire"
)

// Version is what cl_status hbstatus -v reports.
const Version = "3.0.6 (heartbeatd)"

// Options are the daemon's command-line settings.
type Options struct {
	ConfDir  string // /etc/ha.d
	RunDir   string // /run/heartbeatd: pid file, admin socket
	StateDir string // /var/lib/heartbeat: hb_generation, hb_uuid
	Node     string // overrides nodeinfo / uname -n
	// Stderr copies the log to stderr (foreground mode).
	Stderr bool
	// RebootCommand replaces the kernel reboot that Heartbeat performs when
	// a resource cannot be stopped (stop_failure reboot). Empty means the
	// real thing: sync and reboot(2).
	RebootCommand []string
	// Clock defaults to the real clock.
	Clock clock.Clock
	// Drbdadm is the drbdadm binary the peer side of drbd-peer-outdater
	// runs ("drbdadm" from PATH when empty).
	Drbdadm string
	// Notify receives sd_notify-style state strings (READY=1, STATUS=...,
	// STOPPING=1, WATCHDOG=1); nil disables.
	Notify func(state string)
	// Watchdog is how often the main loop sends WATCHDOG=1 (half of
	// systemd's WATCHDOG_USEC); 0 sends none.
	Watchdog time.Duration
	// SyslogPath overrides /dev/log (empty: /dev/log).
	SyslogPath string
}

// Daemon is one running node.
type Daemon struct {
	opts  Options
	clock clock.Clock
	log   *logging.Logger

	local  string
	peer   string
	cfg    *config.Config
	hares  *haresources.File
	groups map[string]haresources.Group
	keys   *wire.Keyring

	// node is the pure protocol core (membership, resource manager and
	// the small protocols around them); the loop steps it.
	node *node.Node

	media  []media.Medium
	recv   chan media.Packet
	runner *script.Runner
	exec   *groupExec

	admin    chan adminCall
	calls    map[uint64]adminCall // admin calls the node has yet to answer, by ID
	callID   uint64
	ctl      *control.Server
	pidFile  string
	stopping bool
	exitAt   time.Time // when set, the loop ends at this time (after shutdone)

	outdateResults chan node.CommandDone // drbdadm outdate runs for the peer

	// boot is the configuration the process started with (restart-only
	// changes are judged against it), applied the one last applied live.
	boot, applied *reload.Set
	reloadReq     chan string

	gap          rt.GapMeter
	lastKeepSent time.Time // when our last status went out
	lastTick     time.Time // when the loop last ran the cores' Tick
	realtime     rt.Result
	ready        bool // READY=1 sent

	lastStatus string               // last STATUS= sent to systemd
	badAuth    map[string]time.Time // last "failed authentication" log per peer
	stats      shellStats
}

type shellStats struct {
	badPackets, authFailures, sendErrors uint64
}

// New loads and validates the configuration and prepares (but does not
// start) the daemon. Every configuration problem is returned at once, with
// file and line.
func New(opts Options) (*Daemon, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	d := &Daemon{opts: opts, clock: opts.Clock, badAuth: map[string]time.Time{}, calls: map[uint64]adminCall{},
		reloadReq: make(chan string, 1), outdateResults: make(chan node.CommandDone, 8)}
	local := strings.ToLower(opts.Node)
	if local == "" {
		var err error
		if local, err = config.LocalNodeName(opts.ConfDir); err != nil {
			return nil, fmt.Errorf("local node name: %w", err)
		}
	}
	d.local = local
	set, l := reload.Load(opts.ConfDir, local)
	if set == nil {
		return nil, fmt.Errorf("configuration invalid:\n%w", l.Err())
	}
	cfg, ak, hr := set.Cfg, set.Auth, set.Hares
	d.boot, d.applied = set, set
	// d.cfg is the running copy: reload changes it, boot stays as read.
	running := *cfg
	d.cfg, d.hares = &running, hr
	keys, err := keyring(ak)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(opts.ConfDir, "authkeys"), err)
	}
	d.keys = keys
	for _, n := range cfg.Nodes {
		if n != local {
			if d.peer != "" {
				return nil, fmt.Errorf("%s: haresources mode supports two nodes; found more (%s)", cfg.File, strings.Join(cfg.Nodes, ", "))
			}
			d.peer = n
		}
	}
	d.groups = map[string]haresources.Group{}
	for _, g := range hr.Groups {
		d.groups[g.Key] = g
	}
	lg, err := logging.New(logOptions(cfg, local, opts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	d.log = lg
	for _, f := range l {
		d.log.Logf(logging.Warn, "%s", f.String())
	}
	return d, nil
}

func logOptions(cfg *config.Config, local string, opts Options) logging.Options {
	return logging.Options{Facility: cfg.LogFacility, LogFile: cfg.LogFile, DebugFile: cfg.DebugFile,
		Debug: cfg.Debug, Host: local, Stderr: opts.Stderr, SyslogPath: opts.SyslogPath}
}

func keyring(ak *config.Authkeys) (*wire.Keyring, error) {
	var active wire.Key
	var others []wire.Key
	for idx, k := range ak.Keys {
		m, err := wire.ParseMethod(k.Method)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", k.Line, err)
		}
		wk := wire.Key{Index: idx, Method: m, Secret: []byte(k.Secret)}
		if idx == ak.Active {
			active = wk
		} else {
			others = append(others, wk)
		}
	}
	return wire.NewKeyring(active, others...)
}

// Run starts media and cores and runs until ctx is cancelled (graceful
// shutdown: resources are released first) or a fatal error.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.log.Close()
	if err := os.MkdirAll(d.opts.RunDir, 0o755); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	d.pidFile = filepath.Join(d.opts.RunDir, "heartbeatd.pid")
	if err := os.WriteFile(d.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	defer os.Remove(d.pidFile)

	gen, note, err := state.NextGeneration(d.opts.StateDir, d.clock.Now()) // wall-clock date on the real clock
	if err != nil {
		return err
	}
	uuid, err := state.LoadUUID(d.opts.StateDir)
	if err != nil {
		return err
	}
	d.log.Logf(logging.Info, "Configuration validated. Starting heartbeat 3.0.6")
	d.log.Logf(logging.Info, "heartbeat: version 3.0.6 (heartbeatd)")
	if note != "" {
		d.log.Logf(logging.Warn, "%s", note)
	}
	d.log.Logf(logging.Info, "Heartbeat generation: %d", gen)
	if d.cfg.AutoFailback == "legacy" {
		d.log.Logf(logging.Warn, "Deprecated 'legacy' auto_failback option selected.")
	}

	links := make([]string, 0, len(d.cfg.Media))
	for _, m := range d.cfg.Media {
		links = append(links, mediumSpec(m).Name())
	}
	d.node, err = node.New(node.Config{
		Membership: membership.Config{
			Local: d.local, Nodes: d.cfg.Nodes, Links: links,
			Keepalive: d.cfg.Keepalive, Deadtime: d.cfg.Deadtime, Warntime: d.cfg.Warntime,
			Initdead: d.cfg.Initdead, MaxRexmitDelay: d.cfg.MaxRexmitDelay,
			Generation: gen, UUID: uuid, HopFudge: d.cfg.HopFudge, Seed: d.clock.Now().UnixNano(),
			PingNodes: len(d.cfg.PingNodes) + len(d.cfg.PingGroups), DeadCheck: deadCheck,
		},
		RM: rm.Config{
			Local: d.local, Peer: d.peer, Groups: d.hares.Groups,
			AutoFailback: d.cfg.AutoFailback, OnStopFailure: d.cfg.StopFailure, PID: os.Getpid(),
		},
		Haresources:     d.hares,
		HaresourcesPath: filepath.Join(d.opts.ConfDir, "haresources"),
	})
	if err != nil {
		return err
	}

	d.runner = &script.Runner{
		Dirs:    haresources.ScriptDirs(d.opts.ConfDir), // as `heartbeatd check`
		Env:     scriptEnv(d),
		Timeout: d.cfg.ScriptTimeout,
		Log:     scriptLog{d.log},
		Clock:   d.clock,
	}
	d.exec = newGroupExec(d.runner, d.groups)

	d.recv = make(chan media.Packet, 1024)
	if err := d.openMedia(); err != nil {
		return err
	}
	defer d.closeMedia()

	d.admin = make(chan adminCall)
	srv, err := control.Listen(filepath.Join(d.opts.RunDir, control.SocketName), d.handleAdmin)
	if err != nil {
		return err
	}
	srv.Log = func(f string, a ...any) { d.log.Logf(logging.Warn, f, a...) }
	d.ctl = srv
	sctx, cancelSrv := context.WithCancel(context.Background())
	defer cancelSrv()
	go srv.Serve(sctx)
	defer srv.Close()
	d.watchConfig(sctx)

	return d.loop(ctx)
}

func (d *Daemon) mediaConfig() media.Config {
	lg := d.log
	return media.Config{Recv: d.recv, Clock: d.clock,
		Log: func(level, text string) { lg.Log("heartbeat", logging.ParseLevel(level), text) }}
}

func (d *Daemon) openMedia() error {
	for _, m := range d.cfg.Media {
		spec := mediumSpec(m)
		md, err := media.OpenConfig(spec, d.mediaConfig())
		if err != nil {
			// A medium that cannot even be described is a config error;
			// one whose interface is missing is a down link (Open handles
			// that itself and retries).
			d.closeMedia()
			return fmt.Errorf("%s:%d: %s: %w", d.cfg.File, m.Line, m.Kind, err)
		}
		d.media = append(d.media, md)
	}
	return nil
}

func (d *Daemon) closeMedia() {
	for _, m := range d.media {
		m.Close()
	}
	d.media = nil
}

func mediumSpec(m config.Medium) media.Spec {
	return media.Spec{Kind: m.Kind, Interface: m.Interface, Peer: m.Peer, Group: m.Group,
		Port: m.Port, TTL: m.TTL, Loop: m.Loop, Device: m.Device, Baud: m.Baud}
}

// ErrReboot is returned by Run when the stop-failure policy demanded a reboot
// and the reboot command returned (it normally does not).
var ErrReboot = errors.New("reboot required after a resource stop failure")
