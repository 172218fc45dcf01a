package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"heartbeatd/internal/clstatus"
	"heartbeatd/internal/control"
)

const defaultRundir = "/run/heartbeatd"

// splitRundir removes a leading "--rundir DIR" or "--rundir=DIR" from args.
// It is taken only before the sub-command's own arguments so that it never
// shadows them; HEARTBEATD_RUNDIR is the fallback for scripts.
func splitRundir(args []string) (string, []string, error) {
	dir := os.Getenv("HEARTBEATD_RUNDIR")
	if dir == "" {
		dir = defaultRundir
	}
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--rundir" || a == "-rundir":
			if len(args) < 2 {
				return "", nil, fmt.Errorf("--rundir needs a directory")
			}
			dir, args = args[1], args[2:]
		case strings.HasPrefix(a, "--rundir="):
			dir, args = strings.TrimPrefix(a, "--rundir="), args[1:]
		default:
			return dir, args, nil
		}
	}
	return dir, args, nil
}

func socketPath(rundir string) string { return filepath.Join(rundir, control.SocketName) }

func clStatusMain(args []string) int {
	rundir, args, err := splitRundir(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cl_status:", err)
		return clstatus.ParameterError
	}
	if len(args) == 0 || len(args) == 1 && args[0] == "-h" {
		fmt.Print(clstatus.Usage)
		return 0
	}
	// cl_status gives up after 5 s (Heartbeat's alarm) with exit 12.
	resp, err := control.Call(socketPath(rundir), control.Request{Cmd: "cl_status", Args: args}, 5*time.Second)
	if err != nil {
		r := clstatus.StoppedResult(args)
		if !isNotRunning(err) {
			r = clstatus.Result{Stderr: "ERROR: " + err.Error() + "\n", Code: clstatus.Timeout}
		}
		fmt.Print(r.Stdout)
		fmt.Fprint(os.Stderr, r.Stderr)
		return r.Code
	}
	fmt.Print(resp.Stdout)
	fmt.Fprint(os.Stderr, resp.Stderr)
	return resp.Code
}

// adminMain is hb_standby / hb_takeover with the argument handling of
// Heartbeat's shell scripts (same messages, exit 1 on misuse).
func adminMain(cmd, prog string, args []string) int {
	rundir, args, err := splitRundir(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		return 1
	}
	usage := func() int {
		fmt.Println("usage:")
		fmt.Fprintf(os.Stderr, "%s [all|foreign|local|failback]\n", prog)
		return 1
	}
	if len(args) >= 2 {
		fmt.Printf("%s: too many arguments\n", prog)
		return usage()
	}
	set := "all"
	if len(args) == 1 {
		set = args[0]
	}
	switch set {
	case "all", "foreign", "local", "failback":
	case "--help", "-h":
		return usage()
	default:
		fmt.Printf("%s: wrong resources(%s).\n", prog, set)
		return usage()
	}
	resp, err := control.Call(socketPath(rundir), control.Request{Cmd: cmd, Args: []string{set}}, 30*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	fmt.Print(resp.Stdout)
	fmt.Fprint(os.Stderr, resp.Stderr)
	return resp.Code
}

func reloadMain(args []string) int {
	rundir, args, err := splitRundir(args)
	if err != nil || len(args) > 0 {
		fmt.Fprintln(os.Stderr, "usage: heartbeatd reload [--rundir DIR]")
		return 2
	}
	resp, err := control.Call(socketPath(rundir), control.Request{Cmd: "reload"}, 30*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "heartbeatd reload: %v\n", err)
		return 1
	}
	fmt.Print(resp.Stdout)
	fmt.Fprint(os.Stderr, resp.Stderr)
	return resp.Code
}

func isNotRunning(err error) bool {
	return errors.Is(err, control.ErrNotRunning)
}

// cleanupMain is `heartbeatd cleanup KEY`: the admin asserts that a group
// whose stop failed is really stopped on this node, so that the cluster may
// start it again (here or on the peer).
func cleanupMain(args []string) int {
	rundir, args, err := splitRundir(args)
	if err != nil || len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: heartbeatd cleanup [--rundir DIR] GROUP-KEY")
		return 2
	}
	resp, err := control.Call(socketPath(rundir), control.Request{Cmd: "cleanup", Args: args}, 30*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "heartbeatd cleanup: %v\n", err)
		return 1
	}
	fmt.Print(resp.Stdout)
	fmt.Fprint(os.Stderr, resp.Stderr)
	return resp.Code
}
