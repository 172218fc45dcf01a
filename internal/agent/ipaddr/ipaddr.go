// Package ipaddr is the built-in IPaddr resource agent: Heartbeat's
// /etc/ha.d/resource.d/IPaddr (and IPaddr2, the same resource under its
// other name), done natively with rtnetlink and a hand-built gratuitous ARP
// instead of ifconfig/ip and send_arp.
//
//	IPaddr IP[/prefix[/iface[/broadcast]]] start|stop|status|monitor
//
// The argument is Heartbeat's (a haresources token like 10.0.0.5/24/eth1 is
// shorthand for IPaddr::10.0.0.5/24/eth1). The prefix may be a length or a
// dotted netmask. A third field starting with a digit is the broadcast
// address (as Heartbeat's wrapper reads it). An alias on the interface
// (eth0:1) is ignored, as Heartbeat ignores it: the label is always the
// first free iface:N.
//
//   - start: when no interface is named, the one whose own (primary) IPv4
//     subnet contains the address, the most specific one winning, as
//     Heartbeat's findif does; the prefix defaults to that subnet's. The
//     address is added with label iface:N (first free N from 0) and the
//     given broadcast or the subnet's. Before that, an ARP probe checks
//     that no other station answers for the address (below). Then a
//     gratuitous ARP burst announces the new MAC. Starting an address that
//     is already configured here (on any interface, as for status)
//     succeeds and sends the burst again: that is how the daemon
//     re-announces after a healed split brain (FIELD-NOTES row 2), and why
//     the daemon runs no status before this start (agent.MarkStartChecks).
//   - stop: removes the address from every interface of this node;
//     stopping a stopped address succeeds.
//   - status: prints "running" when the kernel's address list has the
//     address on any interface, else "stopped" (ResourceManager judges the
//     text), whatever the state of the link.
//   - monitor: "running" (exit 0) when the address is held and every
//     interface holding it is up with carrier (IFF_UP and IFF_RUNNING, as
//     netlink reports them); "stopped" (exit 7) when it is not held;
//     "failed: link down" or "failed: no carrier" (exit 1) otherwise.
//
// The burst does not hold up the takeover. The fast head (by default 3
// slots 200 ms apart) is sent before start returns, so the first frames
// are out when the group's next resource starts; the slow remainder is
// sent by a detached process (`heartbeatd resource IPaddr-garp-tail …`,
// setsid, output to /dev/null), as Heartbeat runs send_arp in the
// background. That process checks before every slot that the address is
// still configured and stops when it is not, so a node that has already
// released the address never keeps announcing it (FIELD-NOTES row 12); it
// also stops once the daemon that ran the start (HEARTBEATD_PID) is gone,
// so a crashed node does not pull the clients back from its peer.
//
// With ha.cf's arp_refresh (HA_ARP_REFRESH_MS in the environment) that
// process does not end with the burst: it sends one more slot every
// interval for as long as the address is held, under the same two rules,
// and ends at once when stop releases the address or a later start of
// the same address brings its own (internal/agent/addr).
//
// Environment knobs (a bad value is reported and the default used):
//
//	HA_ARP_COUNT        slots in a burst, 0..100; 0 = no announcement (5)
//	HA_ARP_FAST         slots in the fast head, 0..count (3)
//	HA_ARP_FAST_MS      gap inside the fast head, ms (200)
//	HA_ARP_INTERVAL_MS  gap after the fast head, ms; keep it above the
//	                    1000 ms Linux arp locktime (1100)
//	HA_ARP_MODE         request | reply | both: forms sent per slot (both)
//	HA_IPADDR_NO_PROBE  1 = skip the duplicate-address probe (off)
//	HA_IPADDR_PROBE_MS  how long to listen for another holder, ms (50)
//	HA_ARP_REFRESH_MS   re-announce every N ms while held, >= 1000;
//	                    set by ha.cf's arp_refresh (0 = off)
//
// Duplicate address detection: if any other station answers an ARP probe
// for the address, start refuses with an error naming its MAC. That is the
// split-brain guard: with the heartbeat links cut but the service segment
// alive, the peer still holds the address, and announcing it from two
// nodes makes every neighbour flap between them. HA_IPADDR_NO_PROBE=1
// skips the check for segments where something legitimately answers for
// the address (a proxy-ARP router, a cloud fabric that answers all ARP).
//
// A takeover from a dead peer is different, and skips the check: the daemon
// sets HA_TAKEOVER_FROM=<peer> when it starts a group it takes over from a
// peer it declared dead. That peer's node may be up with its cluster daemon
// crashed or hung (kill -9, OOM, SIGSTOP), its kernel still holding the
// address and answering for it; refusing would leave the service on a node
// nobody watches, with no failover left. As Heartbeat does, the address is
// then taken and the full burst moves the neighbours; a probe sent just
// before (listened for once the first gratuitous ARP is out) reports in
// the log which MAC still answered. Fencing, when configured, silences the old node.
//
// IPv6 addresses are refused with a pointer to IPv6addr, as Heartbeat's
// IPaddr refuses them.
package ipaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr"
	"heartbeatd/internal/garp"
)

func init() {
	agent.Register("IPaddr", Main)
	agent.Register("IPaddr2", Main)
	// start finds a held address itself and only announces it again.
	agent.MarkStartChecks("IPaddr")
	agent.MarkStartChecks("IPaddr2")
	agent.Register(TailAgent, GarpTailMain)
}

const usage = "IPaddr IP[/prefix[/iface[/broadcast]]] start|stop|status|monitor"

// exitNotRunning is the LSB "not running" code that monitor returns.
const exitNotRunning = addr.ExitNotRunning

// entry is the agent's command line; every operation first reads the
// kernel's interfaces and IPv4 addresses.
var entry = agent.Entry[target]{Name: "IPaddr", Usage: usage, Parse: parseTargetArg,
	Start: addr.WithKernel(addr.IPv4, who, func(k *addr.Kernel, t target, links []addr.Link, addrs, held []addr.IfAddr, io agent.IO) int {
		return start(k, t, links, addrs, held, io)
	}),
	Stop: addr.WithKernel(addr.IPv4, who, func(k *addr.Kernel, t target, _ []addr.Link, _, held []addr.IfAddr, io agent.IO) int {
		rc := stop(k, t, held, io)
		if keeper := strings.TrimSpace(io.Getenv(agent.EnvReleaseTo)); rc == agent.OK && keeper != "" && len(held) > 0 {
			probeWait, _ := probeFromEnv(io.Getenv)
			handOver(held[0].Iface, t.IP, keeper, probeWait, io)
		}
		return rc
	}),
	Status: addr.WithKernel(addr.IPv4, who, func(_ *addr.Kernel, t target, _ []addr.Link, _, held []addr.IfAddr, io agent.IO) int {
		return addr.Status(t.IP, t.Iface, held, io)
	}),
	Monitor: addr.WithKernel(addr.IPv4, who, func(_ *addr.Kernel, t target, links []addr.Link, _, held []addr.IfAddr, io agent.IO) int {
		return addr.Monitor("IPaddr "+t.Raw, t.IP, held, links, io)
	}),
}

// Main runs the agent: args are the address argument and the operation.
func Main(args []string, io agent.IO) int {
	if io.Getenv == nil {
		io.Getenv = func(string) string { return "" }
	}
	return entry.Run(args, io)
}

func who(t target) (string, netip.Addr) { return "IPaddr " + t.Raw, t.IP }

// parseArgs reads the agent's command line: the address argument and the
// operation. An error is the whole message for the admin.
func parseArgs(args []string) (target, string, error) { return entry.Split(args) }

// parseTargetArg reads the one address argument.
func parseTargetArg(rargs []string) (target, error) {
	if len(rargs) != 1 {
		return target{}, fmt.Errorf("want exactly one address argument, got %d", len(rargs))
	}
	t, err := parseTarget(rargs[0])
	if err != nil {
		return t, fmt.Errorf("IPaddr %s: %v", rargs[0], err)
	}
	return t, nil
}

func stop(k *addr.Kernel, t target, held []addr.IfAddr, io agent.IO) int {
	if len(held) == 0 {
		io.Printf("INFO: %s is not configured here; nothing to stop", t.IP)
		return agent.OK
	}
	rc := agent.OK
	for _, a := range held {
		if err := k.Del(a); err != nil {
			io.Errorf("IPaddr %s: %v", t.Raw, err)
			rc = agent.Failed
			continue
		}
		io.Printf("INFO: removed %s from %s", a.Prefix, labelOrIface(a.Label, a.Iface))
	}
	if rc == agent.OK {
		// The address's background announcer (arp_refresh) ends now
		// rather than at its next slot, when it would find the address
		// gone.
		if _, err := addr.DismissAnnouncer(t.IP); err != nil {
			fmt.Fprintf(io.Stderr, "WARNING: %v\n", err)
		}
	}
	return rc
}

func start(k *addr.Kernel, t target, links []addr.Link, addrs []addr.IfAddr, held []addr.IfAddr, io agent.IO) int {
	burst, warns := burstFromEnv(io.Getenv)
	probeWait, pw := probeFromEnv(io.Getenv)
	_, rw := addr.RefreshFromEnv(io.Getenv)
	for _, w := range append(append(warns, pw...), rw...) {
		fmt.Fprintf(io.Stderr, "WARNING: %s\n", w)
	}
	if len(held) > 0 {
		// Idempotent start; announce again (re-send after split brain).
		// Held on another interface than the resource names, the address
		// is still ours, as status says; it stays where it is.
		a := held[0]
		addr.WarnElsewhere(t.IP, t.Iface, held, io)
		io.Printf("INFO: %s already configured on %s; announcing it again", t.IP, labelOrIface(a.Label, a.Iface))
		announcer.Announce(k, a.Iface, t.IP, burst, io)
		return agent.OK
	}
	p, err := place(t, links, addrs)
	if err != nil {
		io.Errorf("IPaddr %s: %v", t.Raw, err)
		return agent.Failed
	}
	for _, l := range links {
		if l.Index == p.Index && !l.Up {
			io.Errorf("IPaddr %s: interface %s is down; not starting %s on it", t.Raw, p.Iface, t.IP)
			return agent.Failed
		}
	}
	if t.Alias != "" {
		io.Printf("INFO: alias %q of %s ignored (as Heartbeat does); using the first free label", t.Alias, t.Iface)
	}
	takeoverFrom := strings.TrimSpace(io.Getenv(agent.EnvTakeoverFrom))
	if takeoverFrom != "" {
		return takeover(k, t, p, linkOf(links, p.Index), takeoverFrom, probeWait, burst, io)
	}
	if probeWait > 0 {
		if err := detect(p.Iface, t.IP, probeWait); err != nil {
			var c *garp.Conflict
			if errors.As(err, &c) {
				io.Errorf("IPaddr %s: %s already answers for %s on %s: another node still holds it (split brain?); refusing to start. Set %s=1 to skip this check",
					t.Raw, c.MAC, t.IP, p.Iface, envNoProbe)
				return agent.Failed
			}
			// No verdict (e.g. no carrier): proceed, as Heartbeat
			// would, but say so.
			fmt.Fprintf(io.Stderr, "WARNING: duplicate address check for %s on %s failed: %v\n", t.IP, p.Iface, err)
		}
	}
	if !add(k, t, p, io) {
		return agent.Failed
	}
	announcer.Announce(k, p.Iface, t.IP, burst, io)
	return agent.OK
}

// linkOf is the interface with index from the kernel's table.
func linkOf(links []addr.Link, index int) *net.Interface {
	for _, l := range links {
		if l.Index == index {
			return &net.Interface{Index: l.Index, Name: l.Name, HardwareAddr: l.MAC}
		}
	}
	return &net.Interface{Index: index}
}

// add configures the planned address; false (already reported) on failure.
func add(k *addr.Kernel, t target, p addr.Placement, io agent.IO) bool {
	if err := k.Add(p); err != nil {
		// Lost a race with another start of the same address: fine.
		if ok, _ := k.Holds(t.IP, p.Index); !ok {
			io.Errorf("IPaddr %s: %v", t.Raw, err)
			return false
		}
	}
	brd := "none"
	if p.Broadcast.IsValid() {
		brd = p.Broadcast.String()
	}
	io.Printf("INFO: added %s brd %s on %s", p.Prefix, brd, labelOrIface(p.Label, p.Iface))
	return true
}

// takeover starts the address taken over from a dead peer (the daemon set
// HA_TAKEOVER_FROM). The peer's node may be up with its cluster daemon
// crashed or hung, so its kernel still holds the address and answers ARP
// for it: a duplicate-address check would refuse the start and leave the
// service on a node nobody watches. Heartbeat takes the address in this
// case, and so do we: add it, announce it (the full burst moves the
// clients and switches to us), and only report who still answered, from a
// probe sent before the address was added and heard while the rest goes
// on. Fencing, when configured, has already silenced the old node.
//
// The probe and the announcement share one packet socket, bound to the
// interface from the kernel's table already read: every lookup and socket
// is time between the dead decision and the first gratuitous ARP.
func takeover(k *addr.Kernel, t target, p addr.Placement, ifi *net.Interface, from string, probeWait time.Duration, burst garp.Burst, io agent.IO) int {
	var sent time.Time
	// Listen as long as a normal start's probe would, but only after the
	// address is up and the first gratuitous ARP is out, and only until
	// the first answer: a node whose kernel is up answers within a
	// millisecond or two. Run in a standby helper, the op settles before
	// the listen (agent.IO.Settle), so the group's next resource never
	// waits for it. A shorter window proved unreliable on a loaded
	// machine, where the reader can be woken after its deadline with the
	// answer queued.
	listen := probeWait
	c, err := garp.OpenInterface(ifi) // if nil, Announce says why
	if err == nil {
		defer c.Close()
		if probeWait > 0 {
			sent = time.Now()
			err = c.SendProbe(t.IP)
		}
	}
	if err != nil && probeWait > 0 {
		fmt.Fprintf(io.Stderr, "WARNING: takeover of %s from dead node %s: cannot probe for the old holder on %s: %v\n", t.IP, from, p.Iface, err)
		probeWait = 0
	}
	if !add(k, t, p, io) {
		return agent.Failed
	}
	if c != nil {
		announcer.AnnounceWith(k, newARPSender(c, t.IP, burst), p.Iface, t.IP, burst, io)
	} else {
		announcer.Announce(k, p.Iface, t.IP, burst, io)
	}
	if c == nil || probeWait == 0 {
		return agent.OK
	}
	// The address is ours and announced: that is the takeover's outcome.
	// The listen below only informs the log, so the group's next resource
	// (and the daemon's record of the takeover) does not wait for it: up
	// to the whole probe time after a power loss, when nobody answers.
	// Announce has settled already unless its first slot failed.
	io.Settled(agent.OK)
	cf, err := c.AwaitHolder(t.IP, sent.Add(listen))
	switch {
	case err != nil:
		fmt.Fprintf(io.Stderr, "WARNING: takeover of %s from dead node %s: listening for the old holder on %s: %v\n", t.IP, from, p.Iface, err)
	case cf != nil:
		fmt.Fprintf(io.Stderr, "WARNING: takeover of %s from dead node %s: %s still answered for it on %s (most likely %s itself: its node is up but its cluster daemon is dead or hung); taken over regardless and announced from %s\n",
			t.IP, from, cf.MAC, p.Iface, from, c.MAC())
	default:
		io.Printf("INFO: takeover of %s from dead node %s: no other station answered for it on %s within %d ms", t.IP, from, p.Iface, listen.Milliseconds())
	}
	return agent.OK
}

// handOver points the neighbours at the node that keeps an address we have
// just released after a healed partition (HA_RELEASE_TO). They still send
// to us, since our takeover announced it last, and the keeper may never
// announce it again (a real Heartbeat 3.0.6 keeper does not): the service
// would be unreachable until their ARP entries expire. So: probe for the
// address, and if a holder answers within the probe's wait, announce the
// address with the holder's MAC as ARP sender (our own as the Ethernet
// source, so switches learn nothing wrong). Nobody answering means the
// keeper does not hold it (yet); then there is nothing to say.
func handOver(iface string, ip netip.Addr, keeper string, wait time.Duration, io agent.IO) {
	if wait <= 0 {
		return
	}
	c, err := garp.Open(iface)
	if err != nil {
		fmt.Fprintf(io.Stderr, "WARNING: %s released to %s, but its neighbours were not told: %v\n", ip, keeper, err)
		return
	}
	defer c.Close()
	if err := c.SendProbe(ip); err != nil {
		fmt.Fprintf(io.Stderr, "WARNING: %s released to %s, but its neighbours were not told: %v\n", ip, keeper, err)
		return
	}
	cf, err := c.AwaitHolder(ip, time.Now().Add(wait))
	if err != nil || cf == nil {
		io.Printf("INFO: %s released to %s; no station answered for it within %d ms, so the neighbours were not pointed anywhere", ip, keeper, wait.Milliseconds())
		return
	}
	for _, op := range []garp.Op{garp.OpRequest, garp.OpReply} {
		f, err := garp.OnBehalf(op, c.MAC(), cf.MAC, ip)
		if err == nil {
			err = c.WriteFrame(f)
		}
		if err != nil {
			fmt.Fprintf(io.Stderr, "WARNING: %s released to %s: announcing it for %s: %v\n", ip, keeper, cf.MAC, err)
			return
		}
	}
	io.Printf("INFO: %s released to %s, which holds it at %s: neighbours pointed there (gratuitous ARP on its behalf)", ip, keeper, cf.MAC)
}

func labelOrIface(label, iface string) string {
	if label != "" && label != iface {
		return label
	}
	return iface
}

// detect probes for another holder of ip on iface.
func detect(iface string, ip netip.Addr, wait time.Duration) error {
	c, err := garp.Open(iface)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.DetectConflict(ip, wait)
}
