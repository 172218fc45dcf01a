//go:build netns

package ipaddr

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr/addrtest"
	"heartbeatd/internal/garp"
	"heartbeatd/tests/netlab"
)

const tailHelper = "TestHelperGarpTail"

// The background ARP sender is, in production, heartbeatd re-executed
// through the resource dispatcher; here it is the test binary re-executed
// as a helper that runs GarpTailMain (addrtest.TailCommand).
func init() { announcer.Command = addrtest.TailCommand(tailHelper) }

func TestHelperGarpTail(t *testing.T) {
	if !netlab.IsHelper(tailHelper) {
		return
	}
	os.Exit(GarpTailMain(addrtest.TailArgs(), agent.OS()))
}

var ipaddrAgent = addrtest.Agent{Name: "IPaddr", Main: Main}

// quick is a burst that fits in the head: no background sender.
var quick = map[string]string{"HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20"}

func TestStartStatusStop(t *testing.T) {
	l := netlab.New(t, t.Name())
	br := l.AddBridge("lan")
	n := l.AddNode("n")
	n.Connect(br, "eth1", "")
	vip, vip2 := br.Addr(200).Addr(), br.Addr(201).Addr()
	arg := vip.String() + "/24/eth1"
	brd := br.Subnet.Addr().As4()
	brd[3] = 255

	if r := ipaddrAgent.MustRun(t, n, quick, arg, "status"); r.Stdout != "stopped\n" {
		t.Fatalf("status before start: %q", r.Stdout)
	}
	if r := ipaddrAgent.Run(t, n, quick, arg, "monitor"); r.RC != exitNotRunning || r.Stdout != "stopped\n" {
		t.Fatalf("monitor before start: rc %d %q", r.RC, r.Stdout)
	}
	ipaddrAgent.MustRun(t, n, quick, arg, "start")
	want := fmt.Sprintf("inet %s/24 brd %s scope global secondary eth1:0", vip, netip.AddrFrom4(brd))
	if got := addrtest.AddrLines(t, n, vip); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Fatalf("after start: %q, want one line with %q", got, want)
	}
	if r := ipaddrAgent.MustRun(t, n, quick, arg, "status"); r.Stdout != "running\n" {
		t.Fatalf("status after start: %q", r.Stdout)
	}
	if r := ipaddrAgent.Run(t, n, quick, arg, "monitor"); r.RC != 0 || r.Stdout != "running\n" {
		t.Fatalf("monitor after start: rc %d %q", r.RC, r.Stdout)
	}
	// Idempotent start: still one address, and announced again.
	if r := ipaddrAgent.MustRun(t, n, quick, arg, "start"); !strings.Contains(r.Stdout, "announcing it again") {
		t.Fatalf("second start did not re-announce: %q", r.Stdout)
	}
	if got := addrtest.AddrLines(t, n, vip); len(got) != 1 {
		t.Fatalf("after second start: %q", got)
	}
	// A second VIP, found from the subnet, takes the next free label.
	ipaddrAgent.MustRun(t, n, quick, vip2.String(), "start")
	if got := addrtest.AddrLines(t, n, vip2); len(got) != 1 || !strings.Contains(got[0], fmt.Sprintf("inet %s/24 brd %s scope global secondary eth1:1", vip2, netip.AddrFrom4(brd))) {
		t.Fatalf("second VIP: %q", got)
	}

	ipaddrAgent.MustRun(t, n, quick, arg, "stop")
	if got := addrtest.AddrLines(t, n, vip); len(got) != 0 {
		t.Fatalf("after stop: %q", got)
	}
	if got := addrtest.AddrLines(t, n, vip2); len(got) != 1 {
		t.Fatalf("stop of %s touched %s: %q", vip, vip2, got)
	}
	if r := ipaddrAgent.MustRun(t, n, quick, arg, "stop"); !strings.Contains(r.Stdout, "nothing to stop") {
		t.Fatalf("second stop: %q", r.Stdout)
	}
	if r := ipaddrAgent.MustRun(t, n, quick, arg, "status"); r.Stdout != "stopped\n" {
		t.Fatalf("status after stop: %q", r.Stdout)
	}
	// The primary address of eth1 is untouched throughout.
	if got := addrtest.AddrLines(t, n, n.Addr("eth1").Addr()); len(got) != 1 {
		t.Fatalf("primary address: %q", got)
	}
}

func TestInterfaceFromSubnetAndErrors(t *testing.T) {
	l := netlab.New(t, t.Name())
	lan1, lan2 := l.AddBridge("lan1"), l.AddBridge("lan2")
	n := l.AddNode("n")
	n.Connect(lan1, "eth1", "")
	n.Connect(lan2, "eth2", "")

	vip := lan2.Addr(77).Addr()
	ipaddrAgent.MustRun(t, n, quick, vip.String(), "start")
	if got := addrtest.AddrLines(t, n, vip); len(got) != 1 || !strings.Contains(got[0], " eth2 ") || !strings.Contains(got[0], "/24 brd ") || !strings.Contains(got[0], "scope global secondary eth2:0") {
		t.Fatalf("findif: %q, want %s/24 on eth2 labelled eth2:0", got, vip)
	}
	// An explicit /32: still eth2 by subnet, no broadcast.
	host := lan2.Addr(78).Addr()
	ipaddrAgent.MustRun(t, n, quick, host.String()+"/32", "start")
	if got := addrtest.AddrLines(t, n, host); len(got) != 1 || !strings.Contains(got[0], " eth2 inet "+host.String()+"/32 scope global eth2:1") {
		t.Fatalf("/32: %q", got)
	}

	if !agent.StartChecks("IPaddr") || !agent.StartChecks("IPaddr2") {
		t.Error("IPaddr is not marked as checking for itself on start: the daemon would run status before it")
	}
	// Held on another interface than the resource names: status says
	// running, so start must succeed too (the daemon runs no status
	// before it), leaving the address where it is, with the same warning.
	elsewhere := vip.String() + "/24/eth1"
	for _, op := range []string{"status", "start"} {
		r := ipaddrAgent.MustRun(t, n, quick, elsewhere, op)
		if !strings.Contains(r.Stderr, "WARNING: "+vip.String()+" is configured on eth2, not on eth1") {
			t.Errorf("%s %s: no warning: %q", op, elsewhere, r.Stderr)
		}
	}
	if got := addrtest.AddrLines(t, n, vip); len(got) != 1 || !strings.Contains(got[0], " eth2 ") {
		t.Fatalf("after start %s: %q, want it still on eth2 alone", elsewhere, got)
	}

	for _, tc := range []struct {
		arg, want string
	}{
		{lan1.Addr(90).Addr().String() + "/24/eth9", "interface eth9 not found"},
		{"10.250.0.1", "no interface has an IPv4 subnet containing 10.250.0.1"},
	} {
		r := ipaddrAgent.Run(t, n, quick, tc.arg, "start")
		if r.RC != agent.Failed || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("start %s: rc %d %q, want 1 and %q", tc.arg, r.RC, r.Stderr, tc.want)
		}
		if r := ipaddrAgent.MustRun(t, n, quick, tc.arg, "status"); r.Stdout != "stopped\n" {
			t.Errorf("status %s: %q", tc.arg, r.Stdout)
		}
	}
	n.SetLink("eth1", false)
	r := ipaddrAgent.Run(t, n, quick, lan1.Addr(91).Addr().String()+"/24/eth1", "start")
	if r.RC != agent.Failed || !strings.Contains(r.Stderr, "interface eth1 is down") {
		t.Errorf("start on a down interface: rc %d %q", r.RC, r.Stderr)
	}
}

// A node must not take an address another live station still answers for:
// the split-brain guard.
func TestRefusesAddressHeldByAnotherNode(t *testing.T) {
	l := netlab.New(t, t.Name())
	br := l.AddBridge("lan")
	a, b := l.AddNode("a"), l.AddNode("b")
	a.Connect(br, "eth1", "")
	b.Connect(br, "eth1", "")
	vip := br.Addr(200).Addr()
	arg := vip.String() + "/24/eth1"
	ipaddrAgent.MustRun(t, a, quick, arg, "start")

	r := ipaddrAgent.Run(t, b, quick, arg, "start")
	aMAC := addrtest.MAC(t, a, "eth1").String()
	if r.RC != agent.Failed || !strings.Contains(r.Stderr, aMAC) || !strings.Contains(r.Stderr, "refusing to start") || !strings.Contains(r.Stderr, "HA_IPADDR_NO_PROBE=1") {
		t.Fatalf("start on b while a holds %s: rc %d %q, want 1 naming %s", vip, r.RC, r.Stderr, aMAC)
	}
	if got := addrtest.AddrLines(t, b, vip); len(got) != 0 {
		t.Fatalf("b configured %s anyway: %q", vip, got)
	}
	// Once a releases it, b may take it.
	ipaddrAgent.MustRun(t, a, quick, arg, "stop")
	ipaddrAgent.MustRun(t, b, quick, arg, "start")
	if got := addrtest.AddrLines(t, b, vip); len(got) != 1 {
		t.Fatalf("b after a released: %q", got)
	}
	// The documented override skips the check.
	noProbe := map[string]string{"HA_IPADDR_NO_PROBE": "1", "HA_ARP_COUNT": "0"}
	ipaddrAgent.MustRun(t, a, noProbe, arg, "start")
	if got := addrtest.AddrLines(t, a, vip); len(got) != 1 {
		t.Fatalf("a with HA_IPADDR_NO_PROBE=1: %q", got)
	}
}

// A takeover from a dead peer (HA_TAKEOVER_FROM) whose node still holds
// the address, as after a kill -9 of its cluster daemon, must not be
// refused: the address is taken, the client's entry moves, and who still
// answered is reported. The full burst goes out and nothing waits for the
// probe's 50 ms.
func TestTakeoverFromDeadPeerTakesAddressStillAnswered(t *testing.T) {
	a, b, client, vip, arg := twoNodesAndClient(t)
	aMAC, bMAC := addrtest.MAC(t, a, "eth1"), addrtest.MAC(t, b, "eth1")
	ipaddrAgent.MustRun(t, a, quick, arg, "start")
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())

	// A 1 s listen, ended by a's answer: it must be heard even on a
	// loaded test machine.
	env := map[string]string{agent.EnvTakeoverFrom: "a", "HA_IPADDR_PROBE_MS": "1000", "HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20"}
	capture := captureARP(t, client, "eth1")
	began := time.Now()
	r := ipaddrAgent.MustRun(t, b, env, arg, "start")
	took := time.Since(began)
	if !strings.Contains(r.Stderr, "WARNING: takeover of "+vip.String()+" from dead node a: "+aMAC.String()+" still answered") {
		t.Fatalf("takeover did not report a's MAC answering: %q", r.Stderr)
	}
	if strings.Contains(r.Stderr, "refusing") {
		t.Fatalf("takeover refused: %q", r.Stderr)
	}
	if got := addrtest.AddrLines(t, b, vip); len(got) != 1 {
		t.Fatalf("b after the takeover: %q", got)
	}
	t.Logf("takeover start took %v (the listen ends at the first answer)", took.Round(100*time.Microsecond))
	time.Sleep(100 * time.Millisecond)
	n := 0
	for _, f := range capture.stop() {
		if f.P.SenderMAC.String() == bMAC.String() && f.P.IsGratuitous(vip) {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("client saw %d gratuitous frames from b, want the whole burst (2 slots x 2 forms)", n)
	}
	if got := neighMAC(t, client, vip); got != bMAC.String() {
		t.Fatalf("client's entry for %s after the takeover: %q, want b's %s", vip, got, bMAC)
	}

	// Nobody answering (the old node lost power) is said as such.
	ipaddrAgent.MustRun(t, a, quick, arg, "stop")
	ipaddrAgent.MustRun(t, b, quick, arg, "stop")
	r = ipaddrAgent.MustRun(t, b, env, arg, "start")
	if !strings.Contains(r.Stdout, "no other station answered") {
		t.Fatalf("takeover with nobody answering: %q %q", r.Stdout, r.Stderr)
	}
	// A normal start (no HA_TAKEOVER_FROM) still refuses a held address.
	ipaddrAgent.MustRun(t, b, quick, arg, "stop")
	ipaddrAgent.MustRun(t, a, quick, arg, "start")
	if r := ipaddrAgent.Run(t, b, quick, arg, "start"); r.RC != agent.Failed || !strings.Contains(r.Stderr, "refusing to start") {
		t.Fatalf("normal start while a holds %s: rc %d %q", vip, r.RC, r.Stderr)
	}
}

// After a healed partition the node that releases an address the peer
// keeps (HA_RELEASE_TO) points the neighbours at the keeper: the client's
// entry, which still names the releasing node, moves to the keeper's MAC.
// A plain stop says nothing for anyone.
func TestReleaseToKeeperMovesClientNeighbour(t *testing.T) {
	a, b, client, vip, arg := twoNodesAndClient(t)
	aMAC, bMAC := addrtest.MAC(t, a, "eth1"), addrtest.MAC(t, b, "eth1")
	noProbe := map[string]string{"HA_IPADDR_NO_PROBE": "1", "HA_ARP_COUNT": "1", "HA_ARP_FAST": "1"}
	// Both hold it (the partition); b announced last, so the client is on b.
	ipaddrAgent.MustRun(t, a, noProbe, arg, "start")
	ipaddrAgent.MustRun(t, b, noProbe, arg, "start")
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())
	if got := neighMAC(t, client, vip); got != bMAC.String() {
		t.Fatalf("client's entry before the release: %q, want b's %s", got, bMAC)
	}
	r := ipaddrAgent.MustRun(t, b, map[string]string{agent.EnvReleaseTo: "a", "HA_IPADDR_PROBE_MS": "1000"}, arg, "stop")
	if !strings.Contains(r.Stdout, "released to a, which holds it at "+aMAC.String()) {
		t.Fatalf("release to a did not find a holding it: %q %q", r.Stdout, r.Stderr)
	}
	if got := neighMAC(t, client, vip); got != aMAC.String() {
		t.Fatalf("client's entry after b released to a: %q, want a's %s", got, aMAC)
	}
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())
	// A release nobody keeps: nothing announced.
	ipaddrAgent.MustRun(t, a, quick, arg, "stop")
	r = ipaddrAgent.MustRun(t, b, map[string]string{agent.EnvReleaseTo: "a"}, arg, "stop")
	if strings.Contains(r.Stdout, "neighbours pointed") {
		t.Fatalf("b pointed the neighbours somewhere with no holder: %q", r.Stdout)
	}
}

// A start run by a daemon that then dies (kill -9) leaves the address up,
// but its background ARP sender stops: the peer is taking the address
// over, and more announcements from here would pull the clients back.
func TestGarpTailStopsWhenDaemonDies(t *testing.T) {
	a, _, client, vip, arg := twoNodesAndClient(t)
	aMAC := addrtest.MAC(t, a, "eth1")
	daemon := exec.Command("sleep", "60")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer daemon.Process.Kill()
	capture := captureARP(t, client, "eth1")
	ipaddrAgent.MustRun(t, a, map[string]string{agent.EnvDaemonPID: fmt.Sprint(daemon.Process.Pid)}, arg, "start")
	daemon.Process.Kill()
	daemon.Wait()
	time.Sleep(3 * time.Second) // the whole default burst would be over
	n := 0
	for _, f := range capture.stop() {
		if f.P.SenderMAC.String() == aMAC.String() && f.P.IsGratuitous(vip) {
			n++
		}
	}
	// The head slot (2 frames) goes out before start returns; the tail's
	// first slot is 200 ms later, by when the daemon is gone.
	if n != 2 {
		t.Fatalf("client saw %d gratuitous frames, want only the head's 2 after the daemon died", n)
	}
	if got := addrtest.AddrLines(t, a, vip); len(got) != 1 {
		t.Fatalf("the address must stay up: %q", got)
	}
}

// twoNodesAndClient is a LAN with nodes a and b and a client, and the
// floating address the tests move between a and b.
func twoNodesAndClient(t *testing.T) (a, b, client *netlab.Node, vip netip.Addr, arg string) {
	l := netlab.New(t, t.Name())
	br := l.AddBridge("lan")
	a, b, client = l.AddNode("a"), l.AddNode("b"), l.AddNode("client")
	for _, n := range []*netlab.Node{a, b, client} {
		n.Connect(br, "eth1", "")
	}
	vip = br.Addr(200).Addr()
	return a, b, client, vip, vip.String() + "/24/eth1"
}

// arpCapture records the ARP frames a node's interface sees.
type arpCapture struct {
	conn   *garp.Conn
	mu     sync.Mutex
	frames []arpSeen
	done   chan struct{}
}

type arpSeen struct {
	At time.Time
	P  garp.Packet
}

func captureARP(t *testing.T, n *netlab.Node, iface string) *arpCapture {
	t.Helper()
	c := &arpCapture{done: make(chan struct{})}
	if err := n.Do(func() (err error) { c.conn, err = garp.Open(iface); return err }); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		for {
			p, err := c.conn.ReadPacket(time.Now().Add(time.Minute))
			if err != nil {
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, arpSeen{time.Now(), p})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *arpCapture) stop() []arpSeen {
	c.conn.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]arpSeen(nil), c.frames...)
}

func neighMAC(t *testing.T, n *netlab.Node, ip netip.Addr) string {
	t.Helper()
	f := strings.Fields(n.MustExec("ip", "neigh", "show", ip.String(), "dev", "eth1"))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// TestTakeoverMovesClientNeighbour is the failover proof: a client that
// talks to the VIP on node a keeps an ARP entry for it; after a releases it
// and b starts it, the client's entry must point at b's MAC right away,
// without waiting for the entry to go stale, and the client must see b's
// whole burst (both forms, configured spacing, the tail from the detached
// sender) and nothing more from a.
func TestTakeoverMovesClientNeighbour(t *testing.T) {
	a, b, client, vip, arg := twoNodesAndClient(t)
	aMAC, bMAC := addrtest.MAC(t, a, "eth1"), addrtest.MAC(t, b, "eth1")
	defaults := map[string]string{} // the shipped burst: 5 slots, 3 fast, both forms

	ipaddrAgent.MustRun(t, a, defaults, arg, "start")
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())
	if got := neighMAC(t, client, vip); got != aMAC.String() {
		t.Fatalf("client's entry for %s before takeover: %q, want a's %s", vip, got, aMAC)
	}

	capture := captureARP(t, client, "eth1")
	ipaddrAgent.MustRun(t, a, defaults, arg, "stop")
	stopped := time.Now()
	startAt := time.Now()
	ipaddrAgent.MustRun(t, b, defaults, arg, "start")
	startTook := time.Since(startAt)
	// The first slot has gone out before start returned.
	if got := neighMAC(t, client, vip); got != bMAC.String() {
		t.Fatalf("client's entry for %s right after b's start: %q, want b's %s", vip, got, bMAC)
	}
	// Start must not wait for the slow part of the burst (~2.6 s).
	if startTook > 1500*time.Millisecond {
		t.Errorf("start took %v: the slow tail of the burst must not hold up the takeover", startTook)
	}
	t.Logf("b's start took %v (probe + first slot)", startTook.Round(time.Millisecond))

	// Wait for the whole burst (last slot at +2.6 s) plus a margin.
	time.Sleep(time.Until(startAt.Add(2600*time.Millisecond + 500*time.Millisecond)))
	frames := capture.stop()
	var fromB []arpSeen
	for _, f := range frames {
		switch {
		case f.P.SenderMAC.String() == aMAC.String() && f.P.IsGratuitous(vip) && f.At.After(stopped):
			t.Errorf("a announced %s after releasing it (%v at %v)", vip, f.P.Op, f.At.Sub(stopped))
		case f.P.SenderMAC.String() == bMAC.String() && f.P.IsGratuitous(vip):
			if f.P.EthSrc.String() != bMAC.String() || f.P.EthDst.String() != "ff:ff:ff:ff:ff:ff" {
				t.Errorf("GARP with Ethernet %s → %s, want %s → broadcast", f.P.EthSrc, f.P.EthDst, bMAC)
			}
			fromB = append(fromB, f)
		}
	}
	if len(fromB) != 10 {
		t.Fatalf("client saw %d gratuitous frames from b, want 10 (5 slots × request+reply)", len(fromB))
	}
	offsets := garp.DefaultBurst().Offsets()
	for i, f := range fromB {
		want := garp.OpRequest
		if i%2 == 1 {
			want = garp.OpReply
		}
		at := f.At.Sub(fromB[0].At)
		t.Logf("slot %d %-7v +%v", i/2, f.P.Op, at.Round(100*time.Microsecond))
		if f.P.Op != want {
			t.Errorf("frame %d: %v, want %v", i, f.P.Op, want)
		}
		// The tail runs in another process that computes its first wait
		// from the head's last frame: allow for its start-up jitter.
		if d := at - offsets[i/2]; d < -30*time.Millisecond || d > 100*time.Millisecond {
			t.Errorf("slot %d at +%v, want +%v", i/2, at, offsets[i/2])
		}
	}
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())
	if got := neighMAC(t, client, vip); got != bMAC.String() {
		t.Fatalf("client's entry for %s at the end: %q, want b's %s", vip, got, bMAC)
	}
}
