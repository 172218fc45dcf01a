package addr

import (
	"fmt"
	"net/netip"

	"heartbeatd/internal/agent"
)

// ExitNotRunning is the OCF "not running" code that monitor returns.
const ExitNotRunning = 7

// Status answers status and monitor for an address that held lists (on
// whichever interface) and the resource puts on iface ("" = any): the text
// "running" or "stopped", which ResourceManager judges; monitor exits 0 or
// ExitNotRunning.
func Status(ip netip.Addr, iface string, held []IfAddr, op string, io agent.IO) int {
	if len(held) == 0 {
		io.Printf("stopped")
		if op == "monitor" {
			return ExitNotRunning
		}
		return agent.OK
	}
	// Held on another interface than configured: still ours, so "running"
	// (the peer must not start it too); stop will remove it wherever it is.
	if iface != "" && held[0].Iface != iface {
		fmt.Fprintf(io.Stderr, "WARNING: %s is configured on %s, not on %s as the resource says\n", ip, held[0].Iface, iface)
	}
	io.Printf("running")
	return agent.OK
}
