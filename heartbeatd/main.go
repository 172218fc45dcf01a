// Command heartbeatd is a drop-in replacement for the Heartbeat 3.0.6
// failover daemon (haresources mode). One binary serves every command name
// Heartbeat admins type: it looks at the name it was called by (cl_status,
// hb_takeover, hb_standby, drbd-peer-outdater) or at its first argument.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

const version = "0.1.0"

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:]))
}

// run dispatches on the program name, then on the sub-command.
func run(prog string, args []string) int {
	switch prog {
	case "cl_status":
		return clStatusMain(args)
	case "hb_takeover":
		return adminMain("takeover", prog, args)
	case "hb_standby":
		return adminMain("standby", prog, args)
	case "drbd-peer-outdater":
		return outdaterMain(args)
	}
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return checkMain(args[1:])
		case "cl_status":
			return clStatusMain(args[1:])
		case "takeover":
			return adminMain("takeover", "hb_takeover", args[1:])
		case "standby":
			return adminMain("standby", "hb_standby", args[1:])
		case "status":
			return statusMain(args[1:])
		case "reload":
			return reloadMain(args[1:])
		case "cleanup":
			return cleanupMain(args[1:])
		case "resource":
			return resourceMain(args[1:])
		case "export":
			return exportMain(args[1:])
		case "drbd-peer-outdater", "outdate-peer":
			return outdaterMain(args[1:])
		case "version", "--version", "-V":
			fmt.Printf("heartbeatd %s (Heartbeat 3.0.6 compatible)\n", version)
			return 0
		case "help", "-h", "--help":
			usage(os.Stdout)
			return 0
		}
	}
	return daemonMain(args)
}

func usage(w *os.File) {
	fmt.Fprint(w, `usage:
  heartbeatd [-f] [--confdir DIR] [--rundir DIR] [--statedir DIR] [--node NAME]
                                     run the daemon (-f: stay in the foreground)
  heartbeatd check [--confdir DIR] [--node NAME] [--json]
                                     validate ha.cf, authkeys and haresources
  heartbeatd cl_status SUBCOMMAND    (also as cl_status)
  heartbeatd takeover [all|local|foreign|failback]   (also as hb_takeover)
  heartbeatd standby  [all|local|foreign|failback]   (also as hb_standby)
  heartbeatd status [--json] [--watch]   the whole cluster at a glance (haclient may run it)
  heartbeatd reload                  re-read the configuration
  heartbeatd cleanup GROUP-KEY       a group whose stop failed is stopped now: release it
  heartbeatd resource NAME ARGS... start|stop|status|monitor   run a built-in resource agent
  heartbeatd export pacemaker|corosync [--confdir DIR] [--format cib|crm] [--node NAME]   configuration for Pacemaker 2.1 / Corosync 3
  drbd-peer-outdater [-t SECS] [-r RES] [-p PEER]      DRBD fence-peer handler
Admin commands accept --rundir DIR (default /run/heartbeatd).
`)
}
