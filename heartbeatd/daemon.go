package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"heartbeatd/internal/control"
	"heartbeatd/internal/daemon"
	"heartbeatd/internal/sdnotify"
)

func daemonMain(args []string) int {
	fs := flag.NewFlagSet("heartbeatd", flag.ContinueOnError)
	fg := fs.Bool("f", false, "stay in the foreground (log also to stderr)")
	confdir := fs.String("confdir", "/etc/ha.d", "configuration directory")
	rundir := fs.String("rundir", defaultRundir, "run directory (pid file, admin socket)")
	statedir := fs.String("statedir", "/var/lib/heartbeat", "state directory (hb_generation, hb_uuid)")
	node := fs.String("node", "", "local node name (default: nodeinfo, else uname -n)")
	rebootCmd := fs.String("reboot-command", "", "command run instead of rebooting the kernel when a resource cannot be stopped (stop_failure reboot)")
	forceAfter := fs.Duration("reboot-force-after", 20*time.Second, "force the kernel's reboot this long after the reboot began if the node still runs; 0: never (test rigs sharing one kernel only)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "heartbeatd: unexpected argument %q\n", fs.Arg(0))
		usage(os.Stderr)
		return 2
	}
	if !*fg {
		return background(args, *rundir)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// One processor. The daemon's work is a few small messages per
		// keepalive, and with more than one processor every goroutine
		// hand-off (packet to main loop, alarm to main loop) also wakes
		// an idle processor's thread to look for work that is not there:
		// on an idle cluster that was a third of the daemon's CPU.
		// Scripts run in their own processes and are not affected.
		runtime.GOMAXPROCS(1)
	}
	opts := daemon.Options{ConfDir: *confdir, RunDir: *rundir, StateDir: *statedir, Node: *node,
		Stderr: isTerminalOrForced(), Drbdadm: os.Getenv("DRBDADM"), SyslogPath: os.Getenv("HEARTBEATD_SYSLOG_SOCKET")}
	opts.Notify, opts.Watchdog = sdnotify.FromEnv()
	if *rebootCmd != "" {
		opts.RebootCommand = strings.Fields(*rebootCmd)
	}
	opts.RebootForceAfter = *forceAfter
	if *forceAfter <= 0 {
		opts.RebootForceAfter = -1
	}
	d, err := daemon.New(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "heartbeatd: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// SIGHUP re-reads the configuration, as it does for Heartbeat (which
	// re-reads authkeys and restarts itself for a changed ha.cf; heartbeatd
	// applies what is safe live and names the rest).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			d.RequestReload("SIGHUP")
		}
	}()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "heartbeatd: %v\n", err)
		return 1
	}
	return 0
}

// isTerminalOrForced: in the foreground the log also goes to stderr, which
// systemd's journal or the test harness collects.
func isTerminalOrForced() bool { return os.Getenv("HEARTBEATD_NO_STDERR") == "" }

// background starts the daemon detached (as `heartbeat` does when run from
// an init script) and returns once it answers on its admin socket, so that
// "start" reports configuration errors instead of hiding them.
func background(args []string, rundir string) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "heartbeatd: %v\n", err)
		return 1
	}
	cmd := exec.Command(self, append([]string{"-f"}, args...)...)
	cmd.Env = append(os.Environ(), "HEARTBEATD_NO_STDERR=1")
	errFile, err := os.CreateTemp("", "heartbeatd-start-*")
	if err == nil {
		defer os.Remove(errFile.Name())
		cmd.Stderr = errFile
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "heartbeatd: %v\n", err)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	sock := filepath.Join(rundir, control.SocketName)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-exited:
			if errFile != nil {
				b, _ := os.ReadFile(errFile.Name())
				os.Stderr.Write(b)
			}
			fmt.Fprintln(os.Stderr, "heartbeatd: failed to start")
			return 1
		case <-deadline:
			fmt.Fprintln(os.Stderr, "heartbeatd: started, but the admin socket did not answer within 30 s")
			return 1
		case <-time.After(100 * time.Millisecond):
			if _, err := control.Call(sock, control.Request{Cmd: "cl_status", Args: []string{"hbstatus"}}, time.Second); err == nil {
				return 0
			}
		}
	}
}
