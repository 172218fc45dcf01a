package addr

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/agent"
)

// ExitNotRunning is the LSB "not running" code that monitor returns.
const ExitNotRunning = agent.NotRunning

// Status answers status for an address that held lists (on whichever
// interface) and the resource puts on iface ("" = any): the text "running"
// or "stopped", which ResourceManager judges. It says only whether the
// address is here, whatever the state of its link: the peer must not
// start it too while it is.
func Status(ip netip.Addr, iface string, held []IfAddr, io agent.IO) int {
	if len(held) == 0 {
		io.Printf("stopped")
		return agent.OK
	}
	// Held on another interface than configured: still ours, so "running"
	// (the peer must not start it too); stop will remove it wherever it is.
	WarnElsewhere(ip, iface, held, io)
	io.Printf("running")
	return agent.OK
}

// WarnElsewhere warns when the held address is on another interface than
// the resource names (iface, "" = any). status and start both take it as
// held: it stays where it is.
func WarnElsewhere(ip netip.Addr, iface string, held []IfAddr, io agent.IO) {
	if len(held) > 0 && iface != "" && held[0].Iface != iface {
		fmt.Fprintf(io.Stderr, "WARNING: %s is configured on %s, not on %s as the resource says\n", ip, held[0].Iface, iface)
	}
}

// Monitor answers monitor (agent package comment): healthy when the
// address is held and every interface holding it is up with carrier
// (IFF_UP and IFF_RUNNING), and, for IPv6, not marked a duplicate by the
// kernel; an address on a link that is down reaches nobody.
func Monitor(who string, ip netip.Addr, held []IfAddr, links []Link, io agent.IO) int {
	if len(held) == 0 {
		return agent.Absent(io)
	}
	byIndex := map[int]Link{}
	for _, l := range links {
		byIndex[l.Index] = l
	}
	for _, a := range held {
		l, ok := byIndex[a.Index]
		switch {
		case !ok:
			return agent.Unhealthy(io, who, "interface gone", fmt.Sprintf("%s is on interface index %d, which the kernel no longer lists", ip, a.Index))
		case !l.Up:
			return agent.Unhealthy(io, who, "link down", fmt.Sprintf("%s is on %s, which is administratively down", ip, l.Name))
		case !l.Running:
			return agent.Unhealthy(io, who, "no carrier", fmt.Sprintf("%s is on %s, which has no carrier (operstate not up)", ip, l.Name))
		case a.Flags&unix.IFA_F_DADFAILED != 0:
			return agent.Unhealthy(io, who, "duplicate address", fmt.Sprintf("the kernel's duplicate address detection failed for %s on %s", ip, l.Name))
		}
	}
	return agent.Healthy(io)
}

// Op is one operation of an address agent on resource spec S, given the
// kernel's table: its interfaces, its addresses of the family, and those
// of them that are the resource's address (held).
type Op[S any] func(k *Kernel, spec S, links []Link, addrs, held []IfAddr, io agent.IO) int

// WithKernel makes op an agent.Entry operation: it opens the kernel's table
// of family f first. who names the resource in messages ("IPaddr
// 10.0.0.5/24") and gives its address.
func WithKernel[S any](f Family, who func(S) (string, netip.Addr), op Op[S]) func(S, agent.IO) int {
	return func(spec S, io agent.IO) int {
		name, ip := who(spec)
		k, links, addrs, err := Open(f)
		if err != nil {
			io.Errorf("%s: %v", name, err)
			return agent.Failed
		}
		defer k.Close()
		return op(k, spec, links, addrs, Holders(ip, addrs), io)
	}
}
