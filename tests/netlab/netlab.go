// Package netlab builds throw-away network topologies out of Linux network
// namespaces for heartbeatd's multi-node tests: nodes (one netns each) joined
// to bridges (all living in one private "switch" netns per lab) by veth pairs,
// with link cuts and packet loss done by nftables inside the node (the CI
// kernel has no netem).
//
// Isolation rules, because these tests run as root on shared CI machines:
//   - every namespace a lab creates is named "<prefix>-<name>" where prefix is
//     "hbt" plus 4 random hex digits, unique among existing namespaces;
//   - no interface, address, route or firewall rule is ever created in the
//     host namespace: veths are created inside the switch namespace and their
//     peers moved straight into the node namespace;
//   - Close (registered with t.Cleanup, so it runs when the test fails too)
//     kills every process the lab started and every process still inside its
//     namespaces, then deletes the namespaces, which removes their veths.
//
// A test that can not run as root fails (RequireRoot) instead of skipping:
// CI runs as root, and a silently skipped network test hides regressions.
package netlab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// RequireRoot fails the test when the process is not root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("netlab: this test needs root (network namespaces); run it as root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("netlab: %s not found in PATH: %v", tool, err)
		}
	}
}

// Lab is one topology. All methods call t.Fatal on failure: a half-built lab
// is useless and the failure message names the command that failed.
type Lab struct {
	t testing.TB
	// Prefix is the unique namespace prefix, e.g. "hbt1f3a".
	Prefix string
	// Name is the human name given to New, for messages.
	Name string

	mu       sync.Mutex
	octet    int // second octet of this lab's 10.x.0.0/16 test range
	switchNS string
	bridges  []*Bridge
	nodes    []*Node
	vethSeq  int
	procs    []*exec.Cmd
	closed   bool
}

// Bridge is a Linux bridge inside the lab's switch namespace; every node
// connected to it shares one Ethernet segment and one /24.
type Bridge struct {
	lab *Lab
	// Name is the name given to AddBridge.
	Name string
	// Dev is the bridge device name inside the switch namespace.
	Dev string
	// Subnet is the /24 handed out by Connect with an empty cidr.
	Subnet netip.Prefix
	next   int
}

// Node is one network namespace (a "machine").
type Node struct {
	lab *Lab
	// Name is the name given to AddNode.
	Name string
	// NS is the namespace name, usable with `ip netns exec`.
	NS string

	mu     sync.Mutex
	links  map[string]netip.Prefix
	filter map[string]ifaceFilter
}

// New creates an empty lab and registers its cleanup with t.Cleanup.
func New(t testing.TB, name string) *Lab {
	t.Helper()
	RequireRoot(t)
	l := &Lab{t: t, Name: name}
	for try := 0; ; try++ {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatalf("netlab: random prefix: %v", err)
		}
		l.Prefix = "hbt" + hex.EncodeToString(b[:2])
		// 10.64.0.0–10.191.255.255: away from the 10.0/16 and 10.201/16
		// ranges that people (and the Heartbeat lab captures) use by hand.
		// The addresses only ever exist inside our namespaces, so a clash
		// with the host would be harmless anyway.
		l.octet = 64 + int(b[2])%128
		if !prefixInUse(l.Prefix) {
			break
		}
		if try > 50 {
			t.Fatalf("netlab: no free namespace prefix after %d tries", try)
		}
	}
	t.Cleanup(l.Close)
	return l
}

// prefixInUse reports whether any namespace already starts with p.
func prefixInUse(p string) bool {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), p+"-") {
			return true
		}
	}
	return false
}

// ip runs the ip tool and fails the test on error.
func (l *Lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("netlab %s: ip %s: %v: %s", l.Name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// addNS creates namespace ns with lo up and IPv6 off (IPv6 DAD and router
// solicitations would only add noise to captures and counters).
func (l *Lab) addNS(ns string) {
	l.t.Helper()
	l.ip("netns", "add", ns)
	l.ip("-n", ns, "link", "set", "lo", "up")
	for _, k := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		l.ip("netns", "exec", ns, "sysctl", "-q", "-w", k+"=1")
	}
}

// AddBridge creates a bridge (STP off, multicast snooping off so that mcast
// media are flooded like on a dumb switch) with its own /24.
func (l *Lab) AddBridge(name string) *Bridge {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.switchNS == "" {
		l.switchNS = l.Prefix + "-sw"
		l.addNS(l.switchNS)
	}
	b := &Bridge{lab: l, Name: name, Dev: fmt.Sprintf("br%d", len(l.bridges)), next: 1}
	b.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(l.octet), byte(len(l.bridges) + 1), 0}), 24)
	l.ip("-n", l.switchNS, "link", "add", b.Dev, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	l.ip("-n", l.switchNS, "link", "set", b.Dev, "up")
	l.bridges = append(l.bridges, b)
	return b
}

// Addr returns host number host of the bridge's subnet as a prefix.
func (b *Bridge) Addr(host int) netip.Prefix {
	a := b.Subnet.Addr().As4()
	a[3] = byte(host)
	return netip.PrefixFrom(netip.AddrFrom4(a), b.Subnet.Bits())
}

// AddNode creates a node namespace "<prefix>-<name>".
func (l *Lab) AddNode(name string) *Node {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := &Node{lab: l, Name: name, NS: l.Prefix + "-" + name,
		links: map[string]netip.Prefix{}, filter: map[string]ifaceFilter{}}
	l.addNS(n.NS)
	l.nodes = append(l.nodes, n)
	return n
}

// Node returns the node called name, or nil.
func (l *Lab) Node(name string) *Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Connect plugs node n into bridge b with a veth whose node end is called
// ifname, addresses it with cidr (or, when cidr is "", the bridge's next free
// host address) WITH a broadcast address ("brd +": Heartbeat's bcast medium
// sends to the interface broadcast address and sends nowhere without one),
// and sets it up. It can be called at any time, also to add an interface a
// running medium is waiting for. It returns the address given.
func (n *Node) Connect(b *Bridge, ifname, cidr string) netip.Prefix {
	l := n.lab
	l.t.Helper()
	if len(ifname) > 15 {
		l.t.Fatalf("netlab: interface name %q longer than IFNAMSIZ-1", ifname)
	}
	var addr netip.Prefix
	l.mu.Lock()
	if cidr == "" {
		if b.next >= 254 {
			l.mu.Unlock()
			l.t.Fatalf("netlab: bridge %s is full", b.Name)
		}
		b.next++
		addr = b.Addr(b.next)
	} else {
		var err error
		if addr, err = netip.ParsePrefix(cidr); err != nil {
			l.mu.Unlock()
			l.t.Fatalf("netlab: connect %s %s: bad cidr %q: %v", n.Name, ifname, cidr, err)
		}
	}
	l.vethSeq++
	outer := fmt.Sprintf("v%d", l.vethSeq)
	sw := l.switchNS
	l.mu.Unlock()

	l.ip("-n", sw, "link", "add", outer, "type", "veth", "peer", "name", ifname, "netns", n.NS)
	l.ip("-n", sw, "link", "set", outer, "master", b.Dev, "up")
	l.ip("-n", n.NS, "addr", "add", addr.String(), "brd", "+", "dev", ifname)
	l.ip("-n", n.NS, "link", "set", ifname, "up")
	n.mu.Lock()
	n.links[ifname] = addr
	n.mu.Unlock()
	return addr
}

// Lab returns the lab the node belongs to.
func (n *Node) Lab() *Lab { return n.lab }

// Addr returns the address Connect gave ifname (zero value if unknown).
func (n *Node) Addr(ifname string) netip.Prefix {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[ifname]
}

// SetLink sets ifname administratively up or down (ip link set … up|down).
func (n *Node) SetLink(ifname string, up bool) {
	n.lab.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	n.lab.ip("-n", n.NS, "link", "set", ifname, state)
}

// DelLink deletes ifname (and so its veth peer in the switch). Connect may
// re-create it afterwards, with a new ifindex: the case of a NIC driver
// reload or a hot-plugged USB NIC.
func (n *Node) DelLink(ifname string) {
	n.lab.t.Helper()
	n.lab.ip("-n", n.NS, "link", "del", ifname)
	n.mu.Lock()
	delete(n.links, ifname)
	n.mu.Unlock()
}

// NetnsPath is the bind-mounted namespace file, for setns(2) or nsenter.
func (n *Node) NetnsPath() string { return filepath.Join("/run/netns", n.NS) }

// Namespaces lists the namespaces this lab created.
func (l *Lab) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, n := range l.nodes {
		out = append(out, n.NS)
	}
	if l.switchNS != "" {
		out = append(out, l.switchNS)
	}
	return out
}

// Close kills the lab's processes and deletes its namespaces. It runs from
// t.Cleanup; calling it earlier (to test cleanup itself) is fine.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	procs := l.procs
	l.mu.Unlock()

	for _, c := range procs {
		if c.Process != nil {
			// Each process runs in its own process group (Start sets
			// Setpgid), so its children die with it.
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_ = c.Process.Kill()
		}
	}
	for _, ns := range l.Namespaces() {
		// Anything still inside our namespaces was started by this test
		// (e.g. daemonised children): only these pids are touched.
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Errorf("netlab %s: cleanup: ip netns del %s: %v: %s", l.Name, ns, err, bytes.TrimSpace(out))
		}
	}
}
