// Package daemon is the thin shell around heartbeatd's pure core,
// internal/node: it owns the sockets, the timers, the executor (one script
// op, drbdadm or a fence device at a time), the admin socket and the log,
// and it is the only place where the core's actions become I/O. The node
// runs on one goroutine (Run's loop), so it needs no locking; helpers
// (media receivers, runs, admin connections) talk to the loop only
// through channels. It decides nothing.
package daemon

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/authlimit"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/config"
	"heartbeatd/internal/control"
	"heartbeatd/internal/executor"
	"heartbeatd/internal/level"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/media"
	"heartbeatd/internal/metrics"
	"heartbeatd/internal/node"
	"heartbeatd/internal/reload"
	"heartbeatd/internal/rt"
	"heartbeatd/internal/sdnotify"
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
	// real thing: sync and reboot(2). Either way the kernel's reboot is
	// forced if the node still runs RebootForceAfter later.
	RebootCommand []string
	// RebootForceAfter: how long after the reboot began the kernel's
	// reboot is forced; 0 means reboot's default (20 s), negative never
	// (test rigs whose nodes share this kernel).
	RebootForceAfter time.Duration
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
	// Scripts runs the resource scripts; nil means a script.Runner over
	// ConfDir's resource.d and /etc/init.d.
	Scripts executor.Scripts
}

// Daemon is one running node.
type Daemon struct {
	opts  Options
	clock clock.Clock
	log   *logging.Logger

	local string
	peer  string
	cfg   *config.Config
	hares *haresources.File
	keys  *wire.Keyring

	// node is the pure protocol core (membership, resource manager and
	// the small protocols around them); the loop steps it.
	node *node.Node

	media *media.Set
	recv  chan media.Packet
	exec  *executor.Executor

	calls    *control.Loop // control-socket calls, to the loop and parked until answered
	ctl      *control.Server
	stopping bool
	exitAt   time.Time // when set, the loop ends at this time (after shutdone)

	// boot is the configuration the process started with (restart-only
	// changes are judged against it), applied the one last applied live.
	boot, applied *reload.Set
	reloadReq     chan string

	gap          rt.GapMeter
	lastKeepSent time.Time // when our last status went out
	lastTick     time.Time // when the loop last ran the cores' Tick
	realtime     rt.Result
	sd           *sdnotify.Notifier
	peers        *state.Saver // hb_peers: replay floors across restarts

	authFail *authlimit.Table // packets that failed authentication, bounded
	peerKey  int              // authkeys index of the peer's last good packet; -1: none yet
	stats    shellStats
	metrics  *metrics.Exporter // nil: metrics_listen unset
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
	d := &Daemon{opts: opts, clock: opts.Clock, sd: sdnotify.New(opts.Notify, opts.Watchdog), authFail: authlimit.New(0, 0), peerKey: -1, calls: control.NewLoop(),
		reloadReq: make(chan string, 1)}
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
	cfg, hr := set.Cfg, set.Hares
	d.boot, d.applied = set, set
	// d.cfg is the running copy: reload changes it, boot stays as read.
	running := *cfg
	d.cfg, d.hares = &running, hr
	var err error
	if d.keys, err = set.Keyring(); err != nil {
		return nil, err
	}
	if d.peer, err = set.Peer(local); err != nil {
		return nil, err
	}
	lg, err := logging.New(set.LogOptions(local, opts.Stderr, opts.SyslogPath))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	d.log = lg
	for _, f := range l {
		d.log.Logf(logging.Warn, "%s", f.String())
	}
	return d, nil
}

// Run starts media and cores and runs until ctx is cancelled (graceful
// shutdown: resources are released first) or a fatal error.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.log.Close()
	if err := os.MkdirAll(d.opts.RunDir, 0o755); err != nil {
		return fmt.Errorf("run dir: %w", err)
	}
	pidFile := filepath.Join(d.opts.RunDir, "heartbeatd.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	defer os.Remove(pidFile)

	gen, note, err := state.NextGeneration(d.opts.StateDir, d.clock.Now()) // wall-clock date on the real clock
	if err != nil {
		return err
	}
	uuid, err := state.LoadUUID(d.opts.StateDir)
	if err != nil {
		return err
	}
	peers, notes := state.OpenPeers(d.opts.StateDir)
	records := peers.Records()
	d.peers = state.NewSaver(peers, func(err error) { d.log.Logf(logging.Error, "%v", err) })
	defer d.peers.Close()
	d.log.Logf(logging.Info, "Configuration validated. Starting heartbeat 3.0.6")
	d.log.Logf(logging.Info, "heartbeat: version 3.0.6 (heartbeatd)")
	for _, n := range append(notes, note) {
		if n != "" {
			d.log.Logf(logging.Warn, "%s", n)
		}
	}
	d.log.Logf(logging.Info, "Heartbeat generation: %d", gen)
	if d.cfg.AutoFailback == "legacy" {
		d.log.Logf(logging.Warn, "Deprecated 'legacy' auto_failback option selected.")
	}

	d.node, err = node.New(d.applied.NodeConfig(reload.Run{Local: d.local, Peer: d.peer, Links: d.applied.Links(),
		Generation: gen, UUID: uuid, Seed: d.clock.Now().UnixNano(), PID: os.Getpid(),
		ConfDir: d.opts.ConfDir, DeadCheck: deadCheck, Peers: records}))
	if err != nil {
		return err
	}

	d.metrics = metrics.Start(d.cfg.MetricsListen, Version, d.clock.Now, func(f string, a ...any) { d.log.Logf(logging.Error, f, a...) })
	defer d.metrics.Close()
	sctx, cancelSrv := context.WithCancel(context.Background())
	defer cancelSrv()
	scripts := d.opts.Scripts
	if scripts == nil {
		scripts = d.applied.ScriptRunner(sctx, d.opts.ConfDir, d.local, d.clock, d.log)
	}
	fencer := d.applied.Fencer(d.local, func(l level.Level, text string) { d.log.Log("heartbeat", l, text) })
	d.exec = &executor.Executor{Scripts: d.metrics.Scripts(scripts), Fencer: fencer, Drbdadm: cmp.Or(d.opts.Drbdadm, "drbdadm"), Clock: d.clock, Done: make(chan node.Event, 16)}

	d.recv = make(chan media.Packet, 1024)
	if err := d.openMedia(); err != nil {
		return err
	}
	defer d.media.Close()

	srv, err := control.Listen(filepath.Join(d.opts.RunDir, control.SocketName), d.calls.Handle)
	if err != nil {
		return err
	}
	srv.Log = func(f string, a ...any) { d.log.Logf(logging.Warn, f, a...) }
	d.ctl = srv
	go srv.Serve(sctx)
	defer srv.Close()
	d.watchConfig(sctx)
	fencer.Checked = func(dev config.FenceDevice, ok bool) {
		d.exec.Done <- node.FenceDeviceChecked{Name: dev.String(), OK: ok}
	}
	go fencer.Watch(sctx, d.clock, d.cfg.FenceCheckInterval)

	return d.loop(ctx)
}

// openMedia opens every medium of ha.cf. One that cannot even be
// described is a config error; one whose interface is missing is a down
// link (media retries it).
func (d *Daemon) openMedia() error {
	d.media = media.NewSet(media.Config{Recv: d.recv, Clock: d.clock, Keys: func() *wire.Keyring { return d.keys },
		Log: func(level, text string) { d.log.Log("heartbeat", logging.ParseLevel(level), text) }})
	specs, labels := d.applied.Media()
	_, err := d.media.Replace(specs, labels, func() error { return nil })
	return err
}
