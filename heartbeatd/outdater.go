package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"heartbeatd/internal/control"
	"heartbeatd/internal/node"
)

// outdaterMain is DRBD's fence-peer handler, drbd-peer-outdater:
//
//	fence-peer "/usr/lib/heartbeat/drbd-peer-outdater -t 5";
//
// It asks the local heartbeatd to have the peer outdate its disk and exits
// with DRBD's fence-peer codes: 3 peer inconsistent, 4 peer outdated, 5 peer
// unreachable, 6 peer is primary, 20 error, 21 another request is running.
func outdaterMain(args []string) int {
	return outdater(args, os.Getenv, os.Stderr)
}

func outdater(args []string, getenv func(string) string, stderr io.Writer) int {
	rundir, args, err := splitRundir(args)
	if err != nil {
		fmt.Fprintln(stderr, "drbd-peer-outdater:", err)
		return 1
	}
	fs := flag.NewFlagSet("drbd-peer-outdater", flag.ContinueOnError)
	fs.SetOutput(stderr)
	peer := fs.String("p", getenv("DRBD_PEER"), "peer node (default $DRBD_PEER, else the other cluster node)")
	res := fs.String("r", getenv("DRBD_RESOURCE"), "DRBD resource (default $DRBD_RESOURCE)")
	secs := fs.Int("t", 60, "timeout in seconds")
	fs.Bool("V", false, "verbose (accepted for compatibility)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if *res == "" {
		fmt.Fprintln(stderr, "drbd-peer-outdater: no resource: give -r RES or set DRBD_RESOURCE")
		return 1
	}
	if *secs <= 0 {
		*secs = 60
	}
	timeout := time.Duration(*secs) * time.Second
	req := control.Request{Cmd: "outdate", Env: map[string]string{
		"resource": *res, "peer": strings.ToLower(*peer), "timeout": timeout.String()}}
	// The daemon answers within the timeout itself; the extra seconds only
	// cover a daemon that is wedged.
	resp, err := control.Call(socketPath(rundir), req, timeout+3*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "drbd-peer-outdater: %v\n", err)
		if errors.Is(err, control.ErrNotRunning) {
			return node.OutdateUnreachable
		}
		return node.OutdateError
	}
	fmt.Fprint(stderr, resp.Stderr)
	return resp.Code
}
