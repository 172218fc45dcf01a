// Package ipv6addr is the built-in IPv6addr resource agent: Heartbeat's
// /etc/ha.d/resource.d/IPv6addr, done natively with rtnetlink and
// neighbour discovery messages instead of the OCF agent's ioctls and
// ping.
//
//	IPv6addr ADDR[/PREFIX[/IFACE]] start|stop|status|monitor
//
// The argument is the one Heartbeat's wrapper takes (haresources:
// IPv6addr::2001:db8:0:0:0:0:0:5/64/eth0). The wrapper cuts it at "/":
// ADDR//IFACE names the interface and leaves the prefix out, and a prefix
// of 0 means left out too, as the OCF agent reads it. ResourceManager cuts
// every resource at "::" before the wrapper sees it, so an address written
// with "::" arrives in pieces; Heartbeat then fails with a usage message,
// and we fail with the address written out in full, ready to paste
// (haresources.ParseIPv6addrArgs; `heartbeatd check` says the same).
//
//   - start: when no interface is named, the one with an address whose
//     prefix contains ADDR, the most specific prefix winning; the prefix
//     length defaults to that prefix's. Before adding, a duplicate address
//     probe checks that no other station holds ADDR (below). The address
//     is added with IFA_F_NODAD, so it is usable at once rather than
//     after the kernel's own second of duplicate address detection, and
//     a burst of unsolicited neighbour advertisements (the IPv6 gratuitous
//     ARP, Override flag set) moves the neighbours' entries to our MAC.
//     Starting an address that is already configured here (on any
//     interface, as for status) succeeds and announces it again, so the
//     daemon runs no status before this start (agent.MarkStartChecks).
//   - stop: removes the address from every interface of this node;
//     stopping a stopped address succeeds.
//   - status: prints "running" when the kernel's address list has the
//     address on any interface, else "stopped" (ResourceManager judges the
//     text), whatever the state of the link.
//   - monitor: "running" (exit 0) when the address is held, every
//     interface holding it is up with carrier (IFF_UP and IFF_RUNNING) and
//     the kernel has not marked it a duplicate (IFA_F_DADFAILED);
//     "stopped" (exit 7) when it is not held; "failed: link down", "failed:
//     no carrier" or "failed: duplicate address" (exit 1) otherwise.
//     Heartbeat's OCF agent pings the address instead; an address this
//     node holds always answers its own ping, so the verdict is the same.
//
// The advertisements follow IPaddr's schedule and knobs (HA_ARP_COUNT,
// HA_ARP_FAST, HA_ARP_FAST_MS, HA_ARP_INTERVAL_MS; HA_ARP_MODE does not
// apply): the first goes out before start returns, the rest from a
// detached process (`heartbeatd resource IPv6addr-na-tail …`) that stops
// once the address is no longer configured here or the daemon that ran
// the start (HEARTBEATD_PID) is gone. With ha.cf's arp_refresh
// (HA_ARP_REFRESH_MS) that process goes on sending one advertisement per
// interval while the address is held, one such process per address
// (internal/agent/addr). Heartbeat's agent sends five, one second apart,
// and holds up the start for them.
//
// Duplicate address detection follows IPaddr's rules and knobs
// (HA_IPADDR_NO_PROBE, HA_IPADDR_PROBE_MS): another station answering the
// probe makes start refuse, naming its MAC; the split-brain guard. A
// takeover from a peer declared dead (HA_TAKEOVER_FROM) is not refused:
// the probe goes out before the address is added, and who answered is
// only reported (see ipaddr's package doc for why).
//
// IPv4 addresses are refused with a pointer to IPaddr.
package ipv6addr

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr"
	"heartbeatd/internal/agent/ipaddr"
)

func init() {
	agent.Register("IPv6addr", Main)
	agent.MarkStartChecks("IPv6addr") // start finds a held address itself
	agent.Register(TailAgent, TailMain)
}

const usage = "IPv6addr ADDR[/PREFIX[/IFACE]] start|stop|status|monitor"

// exitNotRunning is the LSB "not running" code that monitor returns.
const exitNotRunning = addr.ExitNotRunning

// entry is the agent's command line; every operation first reads the
// kernel's interfaces and IPv6 addresses.
var entry = agent.Entry[haresources.IPv6Spec]{Name: "IPv6addr", Usage: usage, Parse: parseSpecArgs,
	Start: addr.WithKernel(addr.IPv6, who, start),
	Stop: addr.WithKernel(addr.IPv6, who, func(k *addr.Kernel, t haresources.IPv6Spec, _ []addr.Link, _, held []addr.IfAddr, io agent.IO) int {
		return stop(k, t, held, io)
	}),
	Status: addr.WithKernel(addr.IPv6, who, func(_ *addr.Kernel, t haresources.IPv6Spec, _ []addr.Link, _, held []addr.IfAddr, io agent.IO) int {
		return addr.Status(t.Addr, t.Iface, held, io)
	}),
	Monitor: addr.WithKernel(addr.IPv6, who, func(_ *addr.Kernel, t haresources.IPv6Spec, links []addr.Link, _, held []addr.IfAddr, io agent.IO) int {
		return addr.Monitor("IPv6addr "+t.String(), t.Addr, held, links, io)
	}),
}

func who(t haresources.IPv6Spec) (string, netip.Addr) { return "IPv6addr " + t.String(), t.Addr }

// Main runs the agent: args are the address argument and the operation.
func Main(args []string, io agent.IO) int {
	if io.Getenv == nil {
		io.Getenv = func(string) string { return "" }
	}
	return entry.Run(args, io)
}

func stop(k *addr.Kernel, t haresources.IPv6Spec, held []addr.IfAddr, io agent.IO) int {
	if len(held) == 0 {
		io.Printf("INFO: %s is not configured here; nothing to stop", t.Addr)
		return agent.OK
	}
	rc := agent.OK
	for _, a := range held {
		if err := k.Del(a); err != nil {
			io.Errorf("IPv6addr %s: %v", t, err)
			rc = agent.Failed
			continue
		}
		io.Printf("INFO: removed %s from %s", a.Prefix, a.Iface)
	}
	if rc == agent.OK {
		// Its refresher ends now.
		if _, err := addr.DismissAnnouncer(t.Addr); err != nil {
			fmt.Fprintf(io.Stderr, "WARNING: %v\n", err)
		}
	}
	return rc
}

func start(k *addr.Kernel, t haresources.IPv6Spec, links []addr.Link, addrs, held []addr.IfAddr, io agent.IO) int {
	b, warns := ipaddr.BurstFromEnv(io.Getenv)
	probeWait, pw := ipaddr.ProbeFromEnv(io.Getenv)
	_, rw := addr.RefreshFromEnv(io.Getenv)
	for _, w := range append(append(warns, pw...), rw...) {
		fmt.Fprintf(io.Stderr, "WARNING: %s\n", w)
	}
	if len(held) > 0 {
		a := held[0]
		addr.WarnElsewhere(t.Addr, t.Iface, held, io) // still ours, as status says
		io.Printf("INFO: %s already configured on %s; announcing it again", t.Addr, a.Iface)
		announcer.Announce(k, a.Iface, t.Addr, b, io)
		return agent.OK
	}
	p, err := place(t, links, addrs)
	if err != nil {
		io.Errorf("IPv6addr %s: %v", t, err)
		return agent.Failed
	}
	for _, l := range links {
		if l.Index == p.Index && !l.Up {
			io.Errorf("IPv6addr %s: interface %s is down; not starting %s on it", t, p.Iface, t.Addr)
			return agent.Failed
		}
	}
	from := strings.TrimSpace(io.Getenv(agent.EnvTakeoverFrom))
	var pr *prober
	if probeWait > 0 {
		if pr, err = openProber(p.Iface); err != nil {
			fmt.Fprintf(io.Stderr, "WARNING: duplicate address check for %s on %s not possible: %v\n", t.Addr, p.Iface, err)
			pr = nil
		} else {
			defer pr.Close()
		}
	}
	var sent time.Time
	switch {
	case pr != nil && from == "":
		c, err := pr.detect(t.Addr, probeWait)
		if c != nil {
			io.Errorf("IPv6addr %s: %s already answers for %s on %s: another node still holds it (split brain?); refusing to start. Set HA_IPADDR_NO_PROBE=1 to skip this check",
				t, c.MAC, t.Addr, p.Iface)
			return agent.Failed
		}
		if err != nil {
			// No verdict: proceed, as IPaddr does, but say so.
			fmt.Fprintf(io.Stderr, "WARNING: duplicate address check for %s on %s failed: %v\n", t.Addr, p.Iface, err)
		}
	case pr != nil:
		// A takeover from a dead peer: its node may be up and still
		// hold the address (ipaddr's takeover); ask, but only report.
		sent = time.Now()
		if err := pr.sendProbe(t.Addr); err != nil {
			fmt.Fprintf(io.Stderr, "WARNING: takeover of %s from dead node %s: cannot probe for the old holder on %s: %v\n", t.Addr, from, p.Iface, err)
			pr = nil
		}
	}
	if err := k.Add(p); err != nil {
		// Lost a race with another start of the same address: fine.
		if ok, _ := k.Holds(t.Addr, p.Index); !ok {
			io.Errorf("IPv6addr %s: %v", t, err)
			return agent.Failed
		}
	}
	io.Printf("INFO: added %s on %s", p.Prefix, p.Iface)
	announcer.Announce(k, p.Iface, t.Addr, b, io)
	if from != "" && pr != nil {
		// Taken and announced: the outcome. The listen only informs the
		// log, so the group's next resource does not wait for it.
		io.Settled(agent.OK)
		c, err := pr.awaitHolder(t.Addr, sent.Add(probeWait))
		switch {
		case err != nil:
			fmt.Fprintf(io.Stderr, "WARNING: takeover of %s from dead node %s: listening for the old holder on %s: %v\n", t.Addr, from, p.Iface, err)
		case c != nil:
			fmt.Fprintf(io.Stderr, "WARNING: takeover of %s from dead node %s: %s still answered for it on %s (most likely %s itself: its node is up but its cluster daemon is dead or hung); taken over regardless and announced from %s\n",
				t.Addr, from, c.MAC, p.Iface, from, pr.ifi.HardwareAddr)
		default:
			io.Printf("INFO: takeover of %s from dead node %s: no other station answered for it on %s within %d ms", t.Addr, from, p.Iface, probeWait.Milliseconds())
		}
	}
	return agent.OK
}
