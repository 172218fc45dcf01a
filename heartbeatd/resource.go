package main

import (
	"fmt"
	"os"
	"strings"

	"heartbeatd/internal/agent"
)

// resourceMain runs a built-in resource agent: `heartbeatd resource NAME
// ARGS... start|stop|status|monitor`. The wrappers in /etc/ha.d/resource.d call it,
// so the agents sit exactly where Heartbeat's scripts did.
func resourceMain(args []string) int {
	if len(args) == 1 && args[0] == agent.StandbyFlag {
		// A helper the daemon's script runner started in advance
		// (internal/script, spares.go): one agent run, sent on stdin.
		return agent.ServeStandby(os.Stdin, os.Stderr)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(os.Stderr, "usage: heartbeatd resource NAME ARGS... start|stop|status|monitor\nagents: %s\n", strings.Join(agent.Names(), " "))
		if len(args) == 0 {
			return agent.BadArgs
		}
		return 0
	}
	f, ok := agent.Lookup(args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "heartbeatd: no built-in resource agent %q (have: %s)\n", args[0], strings.Join(agent.Names(), " "))
		return agent.NotInstalled
	}
	return f(args[1:], agent.OS())
}
