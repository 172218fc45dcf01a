//go:build netns

package ipaddr

import (
	"fmt"
	"math/rand/v2"
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

// refreshLab is a LAN in 10.233.1.0/24 with node a and a client, in
// namespaces named hb6XXXX-* (this file's own prefix, apart from the other
// netns tests that may run at the same time). The lab removes them, and
// every process left inside, when the test ends, failed or not.
func refreshLab(t *testing.T) (a, client *netlab.Node, vip netip.Addr, arg string) {
	l := netlab.New(t, t.Name())
	for try := 0; ; try++ {
		p := fmt.Sprintf("hb6%04x", rand.IntN(0x10000))
		if m, _ := os.ReadDir("/run/netns"); !hasPrefix(m, p+"-") {
			l.Prefix = p // no namespace exists yet: AddBridge creates the first
			break
		}
		if try > 50 {
			t.Fatal("no free hb6 namespace prefix")
		}
	}
	br := l.AddBridge("lan")
	a, client = l.AddNode("a"), l.AddNode("client")
	a.Connect(br, "eth1", "10.233.1.11/24")
	client.Connect(br, "eth1", "10.233.1.12/24")
	vip = netip.MustParseAddr("10.233.1.200")
	return a, client, vip, vip.String() + "/24/eth1"
}

func hasPrefix(entries []os.DirEntry, p string) bool {
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), p) {
			return true
		}
	}
	return false
}

// fakeDaemon is a process standing in for the daemon that ran the start
// (HEARTBEATD_PID); killing it is the daemon's death.
func fakeDaemon(t *testing.T) *exec.Cmd {
	t.Helper()
	d := exec.Command("sleep", "120")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	return d
}

// garpsFrom counts the gratuitous frames for vip sent by mac in frames.
func garpsFrom(frames []arpSeen, mac string, vip netip.Addr, after time.Time) int {
	n := 0
	for _, f := range frames {
		if f.P.SenderMAC.String() == mac && f.P.IsGratuitous(vip) && f.At.After(after) {
			n++
		}
	}
	return n
}

// awaitNeigh polls the client's entry for vip until it names want; it
// returns how long that took, or fails after limit.
func awaitNeigh(t *testing.T, client *netlab.Node, vip netip.Addr, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := neighMAC(t, client, vip)
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("client's entry for %s is %q after %v, want %s", vip, got, limit, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nodePIDs lists the processes inside n's namespace: the background
// announcer is the only one an agent leaves there.
func nodePIDs(t *testing.T, n *netlab.Node) []string {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "pids", n.NS).Output()
	return strings.Fields(string(out))
}

const bogusMAC = "02:00:00:00:00:99"

// With arp_refresh 1s (HA_ARP_REFRESH_MS=1000) a client whose entry for
// the address was overwritten by hand points at the holder again within
// about two seconds; a second start of the held address leaves one
// announcer, not two; stop ends it at once; so does the daemon's death.
func TestARPRefreshRestoresChangedEntry(t *testing.T) {
	a, client, vip, arg := refreshLab(t)
	aMAC := addrtest.MAC(t, a, "eth1").String()
	daemon := fakeDaemon(t)
	env := map[string]string{"HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20",
		agent.EnvARPRefresh: "1000", agent.EnvDaemonPID: fmt.Sprint(daemon.Process.Pid)}

	if r := ipaddrAgent.MustRun(t, a, env, arg, "start"); !strings.Contains(r.Stdout, "then one every 1s while the address is held (arp_refresh)") {
		t.Fatalf("start did not announce the refresh: %q", r.Stdout)
	}
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())
	for round := 0; round < 2; round++ {
		time.Sleep(300 * time.Millisecond) // the burst is over
		client.MustExec("ip", "neigh", "replace", vip.String(), "lladdr", bogusMAC, "dev", "eth1", "nud", "stale")
		took := awaitNeigh(t, client, vip, aMAC, 2500*time.Millisecond)
		t.Logf("round %d: entry back on %s after %v", round, aMAC, took.Round(10*time.Millisecond))
	}

	// A second start (a re-announcement) brings its own announcer and
	// the first one steps down: one refresh a second, not two.
	capture := captureARP(t, client, "eth1")
	ipaddrAgent.MustRun(t, a, env, arg, "start")
	from := time.Now().Add(500 * time.Millisecond) // after the new burst
	time.Sleep(4 * time.Second)
	frames := capture.stop()
	n := garpsFrom(frames, aMAC, vip, from)
	// 3 or 4 slots of request + reply in 3.5 s.
	if n < 6 || n > 8 {
		t.Errorf("saw %d gratuitous frames in 3.5 s after a second start, want 6..8 (one refresh slot a second, both forms)", n)
	}
	if pids := nodePIDs(t, a); len(pids) != 1 {
		t.Errorf("processes in a's namespace: %v, want the one announcer", pids)
	}

	// stop ends the announcer at once.
	capture = captureARP(t, client, "eth1")
	ipaddrAgent.MustRun(t, a, env, arg, "stop")
	stopped := time.Now()
	deadline := time.Now().Add(time.Second)
	for len(nodePIDs(t, a)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pids := nodePIDs(t, a); len(pids) != 0 {
		t.Errorf("announcer still running after stop: %v", pids)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := garpsFrom(capture.stop(), aMAC, vip, stopped); n != 0 {
		t.Errorf("a announced %s %d times after stop", vip, n)
	}

	// The daemon's death ends it too (the peer is taking over).
	ipaddrAgent.MustRun(t, a, env, arg, "start")
	time.Sleep(300 * time.Millisecond)
	if len(nodePIDs(t, a)) != 1 {
		t.Fatalf("no announcer after the restart: %v", nodePIDs(t, a))
	}
	daemon.Process.Kill()
	daemon.Wait()
	deadline = time.Now().Add(2500 * time.Millisecond)
	for len(nodePIDs(t, a)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := nodePIDs(t, a); len(pids) != 0 {
		t.Errorf("announcer still running 2.5 s after its daemon died: %v", pids)
	}
	if got := addrtest.AddrLines(t, a, vip); len(got) != 1 {
		t.Errorf("the address must stay up: %q", got)
	}
}

// Without arp_refresh nothing is sent after the burst: a client entry
// overwritten by hand stays wrong, and the background sender is gone.
func TestNoRefreshWithoutDirective(t *testing.T) {
	a, client, vip, arg := refreshLab(t)
	aMAC := addrtest.MAC(t, a, "eth1").String()
	daemon := fakeDaemon(t)
	env := map[string]string{"HA_ARP_COUNT": "2", "HA_ARP_FAST": "2", "HA_ARP_FAST_MS": "20",
		agent.EnvDaemonPID: fmt.Sprint(daemon.Process.Pid)}
	ipaddrAgent.MustRun(t, a, env, arg, "start")
	client.MustExec("ping", "-c", "1", "-W", "1", vip.String())
	time.Sleep(300 * time.Millisecond) // the burst is over
	capture := captureARP(t, client, "eth1")
	client.MustExec("ip", "neigh", "replace", vip.String(), "lladdr", bogusMAC, "dev", "eth1", "nud", "stale")
	changed := time.Now()
	time.Sleep(2500 * time.Millisecond)
	if got := neighMAC(t, client, vip); got != bogusMAC {
		t.Errorf("client's entry %q, want it left at %s: nothing may re-announce after the burst", got, bogusMAC)
	}
	if n := garpsFrom(capture.stop(), aMAC, vip, changed); n != 0 {
		t.Errorf("a sent %d gratuitous frames after the burst without arp_refresh", n)
	}
	if pids := nodePIDs(t, a); len(pids) != 0 {
		t.Errorf("processes left in a's namespace: %v", pids)
	}
}
