//go:build netns

package e2e

// Crash takeover (issue 10): the active node's daemon dies (kill -9) or
// hangs (SIGSTOP) but the node's kernel stays up, keeps the floating IP
// configured and keeps answering ARP for it. The survivor must take over
// anyway: heartbeatd's IPaddr skips its duplicate-address probe on a
// takeover from a dead peer, takes the address, announces it and logs
// which MAC still answered. Each case runs with heartbeatd on both nodes
// and with real Heartbeat 3.0.6 (Debian's stock IPaddr) in either role.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashPair builds n1 (home and active node of "n1 IPaddr::VIP/24/eth1
// marker") and n2, each heartbeatd (with its native IPaddr, default probe
// settings) or, when real1/real2, real Heartbeat with the stock IPaddr of
// its /etc/ha.d copy; plus a client on link 1. auto_failback is off, so
// the group stays wherever a takeover put it unless a node returns.
func crashPair(t *testing.T, name string, real1, real2 bool) (*cluster, string) {
	t.Helper()
	c := newCluster(t, name, true)
	n1, n2 := c.addDaemonNode("n1", 1, real1), c.addDaemonNode("n2", 2, real2)
	t.Cleanup(func() { dumpLogs(t, c) })
	vip := c.br[0].Addr(100).Addr().String()
	c.shared = t.TempDir()
	os.Chmod(c.shared, 0o777)
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, failoverTiming, "bcast eth1 eth2", "auto_failback off\n"), fmt.Sprintf("n1 IPaddr::%s/24/eth1 marker\n", vip))
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, c.shared)), 0o755)
	}
	return c, vip
}

// addDaemonNode adds a heartbeatd node with the native IPaddr, or a real
// Heartbeat node (whose /etc/ha.d copy has Debian's IPaddr).
func (c *cluster) addDaemonNode(name string, host int, real bool) *hbNode {
	c.t.Helper()
	if real {
		return c.addRealNode(name, host)
	}
	n := c.addNode(name, host)
	n.installIPaddr(nativeIPaddr)
	return n
}

// launch starts the node's daemon, real Heartbeat or heartbeatd.
func (n *hbNode) launch() {
	n.c.t.Helper()
	if n.real {
		n.startReal()
	} else {
		n.start()
	}
}

// crash kills the node's daemon and nothing else, as a daemon crash does:
// heartbeatd's process, or real Heartbeat's master control process. The
// node's kernel, its addresses and any resource processes stay.
func (n *hbNode) crash() {
	n.c.t.Helper()
	if !n.real {
		n.kill9()
		return
	}
	pid := n.mcpPID()
	if pid == 0 {
		n.c.t.Fatalf("real heartbeat on %s is not running", n.name)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(n.c.t, 5*time.Second, "real heartbeat's master control process gone on "+n.name, func() bool { return n.mcpPID() == 0 })
}

// signalDaemon sends sig to the daemon: heartbeatd's process (a process
// signal: SIGSTOP stops all its threads), or every process of real
// Heartbeat (master control, FIFO reader, the media's read and write
// children).
func (n *hbNode) signalDaemon(sig syscall.Signal) {
	n.c.t.Helper()
	if !n.real {
		n.cmd.Process.Signal(sig)
		return
	}
	sent := 0
	for pid, cmdline := range n.processes() {
		if strings.HasPrefix(cmdline, "heartbeat:") {
			syscall.Kill(pid, sig)
			sent++
		}
	}
	if sent == 0 {
		n.c.t.Fatalf("no real heartbeat process on %s to send %v", n.name, sig)
	}
}

// holdsVIP: the node's kernel has vip configured on eth1.
func (n *hbNode) holdsVIP(vip string) bool {
	out, _ := n.ns.Exec("ip", "-o", "addr", "show", "dev", "eth1")
	return strings.Contains(out, " "+vip+"/")
}

// holders lists the nodes that have vip configured.
func (c *cluster) holders(vip string) []string {
	var on []string
	for _, name := range []string{"n1", "n2"} {
		if c.nodes[name].holdsVIP(vip) {
			on = append(on, name)
		}
	}
	return on
}

// announcing: a background ARP sender of an IPaddr start still runs on
// the node (real Heartbeat's send_arp, heartbeatd's IPaddr-garp-tail). It
// outlives a crash of the daemon and keeps announcing the address from the
// old node, so a test that crashes a node during it sees the client's
// entry flip back.
func (n *hbNode) announcing() bool {
	for _, cmdline := range n.processes() {
		if strings.Contains(cmdline, "send_arp") || strings.Contains(cmdline, "IPaddr-garp-tail") {
			return true
		}
	}
	return false
}

// processes maps the pid of every process in the node's network namespace
// to its command line (arguments joined by NULs).
func (n *hbNode) processes() map[int]string {
	procs := map[int]string{}
	out, _ := exec.Command("ip", "netns", "pids", n.ns.NS).Output()
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if cl, rerr := os.ReadFile("/proc/" + f + "/cmdline"); err == nil && rerr == nil {
			procs[pid] = string(cl)
		}
	}
	return procs
}

// startActiveN1 starts both daemons and waits until n1 runs the group,
// n2 is standby, n1's start-up ARP burst is over and the client's
// neighbour entry for the VIP is n1's MAC, then past the start-up
// deadtime.
func startActiveN1(c *cluster, vip string) {
	c.t.Helper()
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	n1.launch()
	n2.launch()
	c.started = time.Now()
	waitFor(c.t, 40*time.Second, "n1 runs the group, n2 standby", func() bool {
		s1, _ := n1.clStatus("rscstatus")
		s2, _ := n2.clStatus("rscstatus")
		on := c.runsOn()
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active" &&
			len(on) == 1 && on[0] == "n1" && n1.holdsVIP(vip) && !n2.holdsVIP(vip) &&
			(s1 == "local" || s1 == "all") && (s2 == "none" || s2 == "local")
	})
	waitFor(c.t, 10*time.Second, "n1's start-up ARP burst over", func() bool { return !n1.announcing() })
	c.client.Exec("ping", "-c", "1", "-W", "1", vip)
	waitFor(c.t, 5*time.Second, "client's entry for the VIP on n1", func() bool { return c.neighOwner(vip) == "n1" })
	c.pastStartupDeadtime()
}

// pinger pings the VIP from the client (`ping -c 1 -W 1`, one at a time,
// 100 ms apart: Debian may have iputils' or inetutils' ping, and only these
// options mean the same in both) until longestGap stops it.
type pinger struct {
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	// Written by the pinging goroutine until done.
	replies []time.Time
	failed  []pingFailure
}

// pingFailure: a ping that had no reply, and the client's neighbour entry
// for the VIP after it.
type pingFailure struct {
	at    time.Time
	entry string
}

func (c *cluster) startPinger(vip string) *pinger {
	p := &pinger{start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			at := time.Now()
			if _, err := c.client.Exec("ping", "-c", "1", "-W", "1", vip); err == nil {
				p.replies = append(p.replies, time.Now())
			} else {
				p.failed = append(p.failed, pingFailure{at, c.neighOwner(vip)})
			}
		}
	}()
	c.t.Cleanup(p.halt)
	return p
}

func (p *pinger) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// longestGap stops the pinger and returns the longest interval without a
// reply between its start and now, and when that interval began.
func (p *pinger) longestGap() (gap time.Duration, from time.Time) {
	p.halt()
	times := append(append([]time.Time{p.start}, p.replies...), time.Now())
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d > gap {
			gap, from = d, times[i-1]
		}
	}
	return gap, from
}

// crashTakeover is the body of every TestCrashTakeover*: n1 runs the
// group, its daemon is killed (stop false) or stopped (stop true) with
// the VIP left configured and answering ARP, and n2 must take over within
// deadtime + keepalive + 1 s (real Heartbeat's survivor: + its 250 ms
// dead-check period). With stop, n1 is then resumed and the pair must end
// with one owner that the client reaches.
func crashTakeover(t *testing.T, name string, real1, real2, stop bool) {
	c, vip := crashPair(t, name, real1, real2)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	startActiveN1(c, vip)

	fault := "kill -9"
	start := time.Now()
	if stop {
		fault = "SIGSTOP"
		n1.signalDaemon(syscall.SIGSTOP)
	} else {
		n1.crash()
	}
	if !n1.holdsVIP(vip) {
		t.Fatalf("after %s of n1's daemon the VIP is gone from n1: the test would not test a crash", fault)
	}
	if o := c.arpOwner(vip); o != "n1" {
		t.Fatalf("after %s of n1's daemon the client's ARP request for the VIP was answered by %q, want n1", fault, o)
	}
	var dead, moved time.Duration
	waitFor(t, 6*time.Second, "n2 declares n1 dead and the client's entry for the VIP moves to n2", func() bool {
		if dead == 0 && n2.nodeStatus("n1") == "dead" {
			dead = time.Since(start)
		}
		if moved == 0 && c.neighOwner(vip) == "n2" {
			moved = time.Since(start)
		}
		return dead > 0 && moved > 0
	})
	limit := 600*time.Millisecond + 100*time.Millisecond + time.Second
	if real2 {
		limit += 250 * time.Millisecond
	}
	t.Logf("%s of n1's daemon (%s): n2 declared n1 dead after %v, client's entry moved to n2 after %v (limit %v)",
		fault, map[bool]string{true: "real Heartbeat", false: "heartbeatd"}[real1], dead.Round(time.Millisecond), moved.Round(time.Millisecond), limit)
	if moved > limit {
		t.Errorf("takeover took %v, want within deadtime + keepalive + 1 s (%v)", moved, limit)
	}
	waitFor(t, 5*time.Second, "n2 holds the VIP and runs the service", func() bool {
		on := c.runsOn()
		return n2.holdsVIP(vip) && len(on) > 0 && on[len(on)-1] == "n2"
	})
	if !n1.holdsVIP(vip) {
		t.Errorf("n1's VIP went away while its daemon was down")
	}
	if !real2 {
		// IPaddr reports the old holder after its start has settled
		// (agent.IO.Settle): the line may follow the service's start.
		for deadline := time.Now().Add(2 * time.Second); !strings.Contains(n2.log(), "still answered") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if log := n2.log(); !real2 {
		if strings.Contains(log, "refusing to start") {
			t.Errorf("n2's IPaddr refused to start:\n%s", grepLines(log, "refusing"))
		}
		if !strings.Contains(log, "still answered") {
			debug, _ := os.ReadFile(n2.logfile + ".debug")
			t.Errorf("n2 did not log which MAC still answered for the VIP; its debug log says:\n%s", grepLines(string(debug), "takeover of"))
		} else {
			t.Logf("n2: %s", grepLines(log, "still answered"))
		}
	}
	if !stop {
		if out, err := c.client.Exec("ping", "-c", "1", "-W", "1", vip); err != nil {
			t.Errorf("client cannot ping the VIP after the takeover: %v", err)
		} else if o := c.neighOwner(vip); o != "n2" {
			t.Errorf("client's entry for the VIP is on %q after its ping, want n2: %s", o, out)
		}
		return
	}

	// SIGCONT: the resumed node finds the peer holding its group.
	p := c.startPinger(vip)
	time.Sleep(300 * time.Millisecond)
	logAt := map[string]int{"n1": len(n1.log()), "n2": len(n2.log())}
	resumed := time.Now()
	n1.signalDaemon(syscall.SIGCONT)
	// Converged: the VIP configured on exactly one node and the service
	// running there, 2 s in a row (a release runs the group's scripts one
	// by one, so a single look can catch it half-way).
	var owner string
	var since time.Time
	waitFor(t, 30*time.Second, "one owner of the VIP and the service for 2 s after SIGCONT", func() bool {
		h, on := c.holders(vip), c.runsOn()
		if len(h) != 1 || len(on) != 1 || h[0] != on[0] {
			owner = ""
			return false
		}
		if h[0] != owner {
			owner, since = h[0], time.Now()
		}
		return time.Since(since) >= 2*time.Second
	})
	took := since.Sub(resumed)
	if limit := 5 * time.Second; took > limit {
		t.Errorf("one owner only %v after SIGCONT, want within %v", took, limit)
	}
	// The keeper announces the address again after the heal (heartbeatd:
	// "partition healed: announcing"); without that the client stays on
	// the loser's MAC until its neighbour entry fails (5 s and more).
	entry := ""
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end) && entry != owner; time.Sleep(20 * time.Millisecond) {
		entry = c.neighOwner(vip)
	}
	if entry != owner {
		said := grepLines(c.nodes[owner].log()[logAt[owner]:], "announc")
		if said == "" {
			said = "(nothing: no re-announcement)"
		}
		t.Errorf("client's entry for the VIP is on %q 3 s after %s became the one owner; %s's log about announcing since SIGCONT: %s", entry, owner, owner, said)
	}
	if out, err := c.client.Exec("ping", "-c", "1", "-W", "1", vip); err != nil {
		t.Errorf("client cannot ping the VIP at the end: %v: %s", err, out)
	}
	gap, from := p.longestGap()
	t.Logf("SIGCONT of n1: one owner (%s) after %v; the client's longest ping gap from 0.3 s before SIGCONT: %v (from %+.2fs after SIGCONT)",
		owner, took.Round(time.Millisecond), gap.Round(time.Millisecond), from.Sub(resumed).Seconds())
	for _, f := range p.failed {
		t.Logf("client's ping failed at %+.2fs after SIGCONT; its entry for the VIP was on %q", f.at.Sub(resumed).Seconds(), f.entry)
	}
	// The loser releases the address at once and the keeper announces it
	// again a moment later, so the client may miss a ping or two (each
	// failed ping takes 1 s here). A client left on the loser's MAC until
	// its neighbour entry times out (5 s and more) is what this catches.
	if limit := 4 * time.Second; gap > limit {
		t.Errorf("the client had no answer from the VIP for %v after SIGCONT, want at most %v", gap.Round(time.Millisecond), limit)
	}
	t.Logf("what the resumed n1 logged:\n%s", n1.log()[logAt["n1"]:])
}

// heartbeatd on both nodes.
func TestCrashTakeoverKill(t *testing.T) { crashTakeover(t, "crk", false, false, false) }
func TestCrashTakeoverStop(t *testing.T) { crashTakeover(t, "crs", false, false, true) }

// Real Heartbeat active and crashed, heartbeatd the survivor.
func TestCrashTakeoverKillRealActive(t *testing.T) { crashTakeover(t, "crkra", true, false, false) }
func TestCrashTakeoverStopRealActive(t *testing.T) { crashTakeover(t, "crsra", true, false, true) }

// heartbeatd active and crashed, real Heartbeat the survivor.
func TestCrashTakeoverKillRealSurvivor(t *testing.T) { crashTakeover(t, "crkrs", false, true, false) }
func TestCrashTakeoverStopRealSurvivor(t *testing.T) { crashTakeover(t, "crsrs", false, true, true) }
