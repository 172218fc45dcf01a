package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/control"
	"heartbeatd/internal/status"
)

const statusUsage = "usage: heartbeatd status [--rundir DIR] [--json] [--watch]\n"

// Exit codes of `heartbeatd status`, as systemctl status has them: 3 when
// the daemon is not running.
const (
	statusFailed     = 1
	statusBadUsage   = 2
	statusNotRunning = 3
)

// statusMain is `heartbeatd status [--json] [--watch]`: the whole cluster
// as the local daemon sees it, as a table or as JSON (heartbeatd(8)
// documents the fields). --watch redraws it every second until
// interrupted. Root and members of haclient may run it.
func statusMain(args []string) int {
	rundir, args, err := splitRundir(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "heartbeatd status:", err)
		return statusBadUsage
	}
	var asJSON, watch bool
	for _, a := range args {
		switch a {
		case "--json", "-j":
			asJSON = true
		case "--watch", "-w":
			watch = true
		case "-h", "--help":
			fmt.Print(statusUsage)
			return 0
		default:
			fmt.Fprintf(os.Stderr, "heartbeatd status: unknown argument %q\n%s", a, statusUsage)
			return statusBadUsage
		}
	}
	// A terminal gets the table redrawn in place; a pipe gets one after
	// the other (with --json: one JSON document per line). A daemon that
	// is not running (yet, or again) is waited for; a refusal ends it.
	clear := watch && isTerminal(os.Stdout) && !asJSON
	for {
		out, code, refused := statusText(socketPath(rundir), asJSON)
		if clear {
			fmt.Print("\033[H\033[2J")
		}
		w := io.Writer(os.Stdout)
		if code != 0 {
			w = os.Stderr
		}
		fmt.Fprint(w, out)
		if !watch || refused {
			return code
		}
		time.Sleep(time.Second)
	}
}

// statusText asks the daemon for its snapshot and renders it; on failure
// it returns the message and an exit code, and refused when the daemon
// answered with a refusal (asking again will not help).
func statusText(socket string, asJSON bool) (out string, code int, refused bool) {
	resp, err := control.Call(socket, control.Request{Cmd: "status"}, 5*time.Second)
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return "heartbeatd status: heartbeatd is not running\n", statusNotRunning, false
	case err != nil:
		return fmt.Sprintf("heartbeatd status: %v\n", err), statusFailed, false
	case resp.Code != 0:
		return resp.Stderr + resp.Stdout, resp.Code, true
	}
	if asJSON {
		return resp.Stdout + "\n", 0, false
	}
	s, err := status.Parse([]byte(resp.Stdout))
	if err != nil {
		return fmt.Sprintf("heartbeatd status: the daemon's answer is not a status: %v\n", err), statusFailed, true
	}
	return status.Render(s), 0, false
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
