//go:build netns

package ipv6addr

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr/addrtest"
	"heartbeatd/tests/netlab"
)

const tailHelper = "TestHelperNATail"

// The background sender is, in production, heartbeatd re-executed through
// the resource dispatcher; here it is the test binary re-executed as a
// helper that runs TailMain (addrtest.TailCommand).
func init() { announcer.Command = addrtest.TailCommand(tailHelper) }

func TestHelperNATail(t *testing.T) {
	if !netlab.IsHelper(tailHelper) {
		return
	}
	os.Exit(TailMain(addrtest.TailArgs(), agent.OS()))
}

var ipv6addrAgent = addrtest.Agent{Name: "IPv6addr", Main: Main}

// neighMAC is the link-layer address of n's neighbour entry for ip.
func neighMAC(t *testing.T, n *netlab.Node, ip netip.Addr) string {
	t.Helper()
	f := strings.Fields(n.MustExec("ip", "-6", "neigh", "show", ip.String(), "dev", "eth1"))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// awaitNeigh polls n's entry for ip until it names want; it returns how
// long that took, or fails after limit.
func awaitNeigh(t *testing.T, n *netlab.Node, ip netip.Addr, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := neighMAC(t, n, ip)
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s's entry for %s is %q after %v, want %s", n.Name, ip, got, limit, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resolve makes n look up ip's link-layer address, as any traffic to it
// would (a UDP datagram to the discard port; no ping binary needed), and
// waits until n's entry for ip has one.
func resolve(t *testing.T, n *netlab.Node, ip netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if err := n.Do(func() error {
			c, err := net.Dial("udp", net.JoinHostPort(ip.String(), "9"))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("hb6"))
			return err
		}); err != nil {
			t.Fatalf("%s: send to %s: %v", n.Name, ip, err)
		}
		time.Sleep(50 * time.Millisecond)
		if neighMAC(t, n, ip) != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not resolve %s", n.Name, ip)
		}
	}
}

func nodePIDs(n *netlab.Node) []string {
	out, _ := exec.Command("ip", "netns", "pids", n.NS).Output()
	return strings.Fields(string(out))
}

// lab6 is a LAN with nodes a and b and a client, in namespaces named
// hb6XXXX-* (apart from the other netns tests that may run at the same
// time), with IPv6 on (netlab turns it off) and fd00:233::/64 on the
// LAN: a is ::a, b is ::b, the client ::c, all without duplicate address
// detection so the test does not wait for it. The floating address is
// fd00:233::100. The lab removes the namespaces, and every process left
// inside, when the test ends, failed or not.
func lab6(t *testing.T) (a, b, client *netlab.Node, vip netip.Addr) {
	l := netlab.New(t, t.Name())
	for try := 0; ; try++ {
		p := fmt.Sprintf("hb6%04x", rand.IntN(0x10000))
		if !prefixUsed(p + "-") {
			l.Prefix = p // no namespace exists yet: AddBridge creates the first
			break
		}
		if try > 50 {
			t.Fatal("no free hb6 namespace prefix")
		}
	}
	br := l.AddBridge("lan")
	a, b, client = l.AddNode("a"), l.AddNode("b"), l.AddNode("client")
	for i, n := range []*netlab.Node{a, b, client} {
		n.Connect(br, "eth1", fmt.Sprintf("10.233.2.%d/24", 11+i))
		n.MustExec("sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.eth1.accept_dad=0",
			"net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0", "net.ipv6.conf.eth1.disable_ipv6=0")
		n.MustExec("ip", "-6", "addr", "add", fmt.Sprintf("fd00:233::%c/64", "abc"[i]), "dev", "eth1", "nodad")
	}
	return a, b, client, netip.MustParseAddr("fd00:233::100")
}

func prefixUsed(p string) bool {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), p) {
			return true
		}
	}
	return false
}

// quick is a burst of two advertisements 20 ms apart.
var quick = map[string]string{"HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20"}

func TestStartStatusStop(t *testing.T) {
	a, _, _, vip := lab6(t)
	arg := "fd00:233:0:0:0:0:0:100/64/eth1"
	if r := ipv6addrAgent.MustRun(t, a, quick, arg, "status"); r.Stdout != "stopped\n" {
		t.Fatalf("status before start: %q", r.Stdout)
	}
	if r := ipv6addrAgent.Run(t, a, quick, arg, "monitor"); r.RC != exitNotRunning || r.Stdout != "stopped\n" {
		t.Fatalf("monitor before start: rc %d %q", r.RC, r.Stdout)
	}
	ipv6addrAgent.MustRun(t, a, quick, arg, "start")
	got := addrtest.AddrLines(t, a, vip)
	if len(got) != 1 || !strings.Contains(got[0], "eth1 inet6 fd00:233::100/64 scope global") || strings.Contains(got[0], "tentative") {
		t.Fatalf("after start: %q, want fd00:233::100/64 on eth1, usable at once", got)
	}
	if r := ipv6addrAgent.MustRun(t, a, quick, arg, "status"); r.Stdout != "running\n" {
		t.Fatalf("status after start: %q", r.Stdout)
	}
	if r := ipv6addrAgent.Run(t, a, quick, arg, "monitor"); r.RC != 0 || r.Stdout != "running\n" {
		t.Fatalf("monitor after start: rc %d %q", r.RC, r.Stdout)
	}
	if r := ipv6addrAgent.MustRun(t, a, quick, arg, "start"); !strings.Contains(r.Stdout, "announcing it again") {
		t.Fatalf("second start did not re-announce: %q", r.Stdout)
	}
	// Without an interface or prefix: both come from a's fd00:233::a/64.
	ipv6addrAgent.MustRun(t, a, quick, "fd00:233:0:0:0:0:0:101", "start")
	if got := addrtest.AddrLines(t, a, netip.MustParseAddr("fd00:233::101")); len(got) != 1 || !strings.Contains(got[0], "eth1 inet6 fd00:233::101/64") {
		t.Fatalf("address placed by prefix: %q", got)
	}
	ipv6addrAgent.MustRun(t, a, quick, arg, "stop")
	if got := addrtest.AddrLines(t, a, vip); len(got) != 0 {
		t.Fatalf("after stop: %q", got)
	}
	if r := ipv6addrAgent.MustRun(t, a, quick, arg, "stop"); !strings.Contains(r.Stdout, "nothing to stop") {
		t.Fatalf("second stop: %q", r.Stdout)
	}
	if r := ipv6addrAgent.MustRun(t, a, quick, arg, "status"); r.Stdout != "stopped\n" {
		t.Fatalf("status after stop: %q", r.Stdout)
	}
	if r := ipv6addrAgent.Run(t, a, quick, "fd00:99:0:0:0:0:0:1", "start"); r.RC != agent.Failed || !strings.Contains(r.Stderr, "no interface has an IPv6 prefix containing fd00:99::1") {
		t.Errorf("start outside every prefix: rc %d %q", r.RC, r.Stderr)
	}
	// IPv6 turned off on the interface is named as the cause.
	a.MustExec("sysctl", "-q", "-w", "net.ipv6.conf.eth1.disable_ipv6=1")
	if r := ipv6addrAgent.Run(t, a, quick, arg, "start"); r.RC != agent.Failed || !strings.Contains(r.Stderr, "net.ipv6.conf.eth1.disable_ipv6") {
		t.Errorf("start with IPv6 off: rc %d %q", r.RC, r.Stderr)
	}
}

// TestTakeoverMovesClientNeighbour is the failover proof: a client that
// talks to the address on node a keeps a neighbour entry with a's MAC;
// after a releases it and b starts it, the entry names b's MAC at once,
// moved by b's unsolicited advertisement.
func TestTakeoverMovesClientNeighbour(t *testing.T) {
	a, b, client, vip := lab6(t)
	aMAC, bMAC := addrtest.MAC(t, a, "eth1").String(), addrtest.MAC(t, b, "eth1").String()
	arg := "fd00:233:0:0:0:0:0:100/64/eth1"
	ipv6addrAgent.MustRun(t, a, quick, arg, "start")
	resolve(t, client, vip)
	if got := neighMAC(t, client, vip); got != aMAC {
		t.Fatalf("client's entry for %s before the takeover: %q, want a's %s", vip, got, aMAC)
	}
	ipv6addrAgent.MustRun(t, a, quick, arg, "stop")
	began := time.Now()
	r := ipv6addrAgent.MustRun(t, b, quick, arg, "start")
	took := time.Since(began)
	if !strings.Contains(r.Stdout, "sent 1 of 2 unsolicited neighbour advertisements for fd00:233::100 from "+bMAC) {
		t.Errorf("start output: %q", r.Stdout)
	}
	t.Logf("b's start took %v (probe + first advertisement)", took.Round(time.Millisecond))
	moved := awaitNeigh(t, client, vip, bMAC, 500*time.Millisecond)
	t.Logf("client's entry on b's MAC %v after start returned", moved.Round(time.Millisecond))
	resolve(t, client, vip)
	if got := neighMAC(t, client, vip); got != bMAC {
		t.Fatalf("client's entry after pinging b: %q", got)
	}
}

// The duplicate address probe is the split-brain guard: b must not take
// an address a still holds; a takeover from a dead peer takes it and
// reports who still answered.
func TestDuplicateAddressProbe(t *testing.T) {
	a, b, client, vip := lab6(t)
	aMAC, bMAC := addrtest.MAC(t, a, "eth1").String(), addrtest.MAC(t, b, "eth1").String()
	arg := "fd00:233:0:0:0:0:0:100/64/eth1"
	ipv6addrAgent.MustRun(t, a, quick, arg, "start")
	r := ipv6addrAgent.Run(t, b, quick, arg, "start")
	if r.RC != agent.Failed || !strings.Contains(r.Stderr, aMAC+" already answers for fd00:233::100 on eth1") || !strings.Contains(r.Stderr, "HA_IPADDR_NO_PROBE=1") {
		t.Fatalf("start on b while a holds it: rc %d %q", r.RC, r.Stderr)
	}
	if got := addrtest.AddrLines(t, b, vip); len(got) != 0 {
		t.Fatalf("b configured it anyway: %q", got)
	}
	resolve(t, client, vip)

	env := map[string]string{agent.EnvTakeoverFrom: "a", "HA_IPADDR_PROBE_MS": "1000", "HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20"}
	r = ipv6addrAgent.MustRun(t, b, env, arg, "start")
	if !strings.Contains(r.Stderr, "WARNING: takeover of fd00:233::100 from dead node a: "+aMAC+" still answered") {
		t.Fatalf("takeover did not report a answering: %q", r.Stderr)
	}
	awaitNeigh(t, client, vip, bMAC, 500*time.Millisecond)

	// Nobody answering is said as such.
	ipv6addrAgent.MustRun(t, a, quick, arg, "stop")
	ipv6addrAgent.MustRun(t, b, quick, arg, "stop")
	if r := ipv6addrAgent.MustRun(t, b, env, arg, "start"); !strings.Contains(r.Stdout, "no other station answered") {
		t.Fatalf("takeover with nobody answering: %q %q", r.Stdout, r.Stderr)
	}
	// HA_IPADDR_NO_PROBE=1 skips the check.
	r = ipv6addrAgent.MustRun(t, a, map[string]string{"HA_IPADDR_NO_PROBE": "1", "HA_ARP_COUNT": "0"}, arg, "start")
	if got := addrtest.AddrLines(t, a, vip); len(got) != 1 {
		t.Fatalf("a with HA_IPADDR_NO_PROBE=1: %q", got)
	}
}

// With arp_refresh 1s a client entry overwritten by hand names the holder
// again within about two seconds; without it nothing is sent after the
// burst; stop ends the background sender at once.
func TestRefresh(t *testing.T) {
	a, b, client, vip := lab6(t)
	aMAC, bMAC := addrtest.MAC(t, a, "eth1").String(), addrtest.MAC(t, b, "eth1").String()
	arg := "fd00:233:0:0:0:0:0:100/64/eth1"
	const bogus = "02:00:00:00:00:99"

	// a: no refresh.
	ipv6addrAgent.MustRun(t, a, quick, arg, "start")
	resolve(t, client, vip)
	time.Sleep(300 * time.Millisecond)
	if pids := nodePIDs(a); len(pids) != 0 {
		t.Errorf("a sender is left without arp_refresh: %v", pids)
	}
	client.MustExec("ip", "-6", "neigh", "replace", vip.String(), "lladdr", bogus, "dev", "eth1", "nud", "stale")
	time.Sleep(2500 * time.Millisecond)
	if got := neighMAC(t, client, vip); got != bogus {
		t.Errorf("without arp_refresh the entry became %q; nothing may re-announce after the burst", got)
	}
	ipv6addrAgent.MustRun(t, a, quick, arg, "stop")

	// b: refresh every second.
	env := map[string]string{"HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20", agent.EnvARPRefresh: "1000"}
	ipv6addrAgent.MustRun(t, b, env, arg, "start")
	awaitNeigh(t, client, vip, bMAC, 500*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // the burst is over
	for round := 0; round < 2; round++ {
		client.MustExec("ip", "-6", "neigh", "replace", vip.String(), "lladdr", aMAC, "dev", "eth1", "nud", "stale")
		took := awaitNeigh(t, client, vip, bMAC, 2500*time.Millisecond)
		t.Logf("round %d: entry back on b after %v", round, took.Round(10*time.Millisecond))
	}
	if pids := nodePIDs(b); len(pids) != 1 {
		t.Errorf("processes in b's namespace: %v, want the one sender", pids)
	}
	ipv6addrAgent.MustRun(t, b, env, arg, "stop")
	deadline := time.Now().Add(time.Second)
	for len(nodePIDs(b)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pids := nodePIDs(b); len(pids) != 0 {
		t.Errorf("sender still running after stop: %v", pids)
	}
}
