//go:build netns

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"heartbeatd/tests/netlab"
)

// Issue 14 item 2: keepalives that survive loss. These tests run in labs
// of their own ("hbk…" namespaces, 10.235.0.0/16) so that they can run
// beside the other suites.

// lossTiming is the issue's: keepalive 10 ms, deadtime 50 ms.
var lossTiming = timing{"10ms", "50ms", "30ms", "3"}

// newLossCluster is newCluster in the hbk namespaces, without a client.
func newLossCluster(t *testing.T, name string) *cluster {
	t.Helper()
	lab := netlab.NewAt(t, name, "hbk", 235)
	c := &cluster{t: t, lab: lab, nodes: map[string]*hbNode{}}
	c.br[0] = lab.AddBridge("link1")
	c.br[1] = lab.AddBridge("link2")
	return c
}

// cpuOf is the CPU time of process pid: the sum of its threads'
// schedstat (nanoseconds on the CPU), and utime+stime from /proc/PID/stat
// (clock ticks, 10 ms).
func cpuOf(t *testing.T, pid int) (sched, ticks time.Duration) {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, ts := range tasks {
		if b, err := os.ReadFile(ts); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				sched += time.Duration(ns)
			}
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("cpu of %d: %v", pid, err)
	}
	// Fields after the command name in parentheses: state is field 3,
	// utime 14 and stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return sched, time.Duration(ut+st) * 10 * time.Millisecond
}

// txPackets is how many packets node n sent on eth1 and eth2.
func txPackets(t *testing.T, n *hbNode) uint64 {
	t.Helper()
	out, err := n.ns.Exec("cat", "/proc/net/dev")
	if err != nil {
		t.Fatalf("/proc/net/dev in %s: %v", n.name, err)
	}
	var sum uint64
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "eth1" && name != "eth2") {
			continue
		}
		if f := strings.Fields(rest); len(f) >= 10 {
			v, _ := strconv.ParseUint(f[9], 10, 64)
			sum += v
		}
	}
	return sum
}

// usage is what both daemons used over a window.
type usage struct {
	window      time.Duration
	sched, tick [2]time.Duration // per node
	packets     [2]uint64        // sent on eth1+eth2, per node
}

func (u usage) String() string {
	s := ""
	for i := range u.sched {
		s += fmt.Sprintf("  n%d: CPU %.3f s/min (schedstat), %.2f s/min (utime+stime); %.0f packets/s sent\n", i+1,
			perMin(u.sched[i], u.window), perMin(u.tick[i], u.window), float64(u.packets[i])/u.window.Seconds())
	}
	return s
}

func perMin(d, window time.Duration) float64 { return d.Seconds() * 60 / window.Seconds() }

// measure runs for window and returns what the two daemons used.
func measure(t *testing.T, nodes [2]*hbNode, window time.Duration) usage {
	t.Helper()
	u := usage{window: window}
	var s0, k0 [2]time.Duration
	var p0 [2]uint64
	for i, n := range nodes {
		s0[i], k0[i] = cpuOf(t, n.cmd.Process.Pid)
		p0[i] = txPackets(t, n)
	}
	time.Sleep(window)
	for i, n := range nodes {
		s, k := cpuOf(t, n.cmd.Process.Pid)
		u.sched[i], u.tick[i] = s-s0[i], k-k0[i]
		u.packets[i] = txPackets(t, n) - p0[i]
	}
	return u
}

// statusCopies captures d of n's eth1 and counts, per seq, how often
// src's status went by: seqs seen once, twice, three times.
func statusCopies(t *testing.T, n *hbNode, src string, d time.Duration) map[int]int {
	t.Helper()
	var out strings.Builder
	dump := n.ns.Command("tcpdump", "-l", "-n", "-A", "-i", "eth1", "udp port 694")
	dump.Stdout = &out
	// The window starts once tcpdump listens: on a loaded machine its
	// start-up took the whole window once, and it saw nothing.
	stderr, err := dump.StderrPipe()
	if err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	if err := dump.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(listening)
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Errorf("tcpdump did not say it was listening within 10 s")
	}
	time.Sleep(d)
	dump.Process.Signal(syscall.SIGINT)
	dump.Wait()
	re := regexp.MustCompile(`t=status,.*\(0\)src=` + regexp.QuoteMeta(src) + `,.*\(0\)seq=([0-9a-f]+),`)
	perSeq := map[string]int{}
	for _, line := range strings.Split(out.String(), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			perSeq[m[1]]++
		}
	}
	hist := map[int]int{}
	for _, k := range perSeq {
		hist[k]++
	}
	return hist
}

// deaths lists the lines of log that declare a node or its process dead.
func deaths(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, ": is dead") || strings.Contains(l, "(> deadtime)") || strings.Contains(l, "returning after partition") {
			out = append(out, l)
		}
	}
	return out
}

// TestLossNoFalseFailover: two heartbeatd at keepalive 10 ms, deadtime
// 50 ms, both links losing 30 % of the packets in each direction (nft
// random drop on every node's input) for 60 s: neither declares the
// other dead. Before, a clean minute is measured as the baseline of the
// CPU cost of the extra copies; after, the copies stop within seconds.
func TestLossNoFalseFailover(t *testing.T) {
	c := newLossCluster(t, "loss")
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, lossTiming, "bcast eth1 eth2", "auto_failback on\n"), "")
		n.start()
	}
	waitFor(t, 15*time.Second, "both nodes active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})
	c.started = time.Now()
	c.pastStartupDeadtime()
	nodes := [2]*hbNode{n1, n2}
	window := 60 * time.Second
	if testing.Short() {
		window = 15 * time.Second
	}

	start := [2]int{len(n1.log()), len(n2.log())}
	clean := measure(t, nodes, window)
	t.Logf("clean links, %v:\n%s", window, clean)
	for i, n := range nodes {
		if d := deaths(n.log()[start[i]:]); len(d) > 0 {
			t.Fatalf("%s declared a death on clean links (the machine is too loaded for deadtime 50 ms):\n%s", n.name, strings.Join(d, "\n"))
		}
	}

	mark := [2]int{len(n1.log()), len(n2.log())}
	for _, n := range nodes {
		n.ns.DropIn(30, "eth1", "eth2")
	}
	lossy := measure(t, nodes, window)
	t.Logf("30%% loss on both links, %v:\n%s", window, lossy)
	hist := statusCopies(t, n2, "n1", 2*time.Second)
	t.Logf("n1's statuses seen on n2's eth1 under loss, by copies per seq: %v", hist)
	for i, n := range nodes {
		log := n.log()[mark[i]:]
		if d := deaths(log); len(d) > 0 {
			t.Errorf("%s: false failover under 30%% loss:\n%s", n.name, strings.Join(d, "\n"))
		}
		if !strings.Contains(log, "takeover message 3 times") {
			t.Errorf("%s never went to three copies:\n%s", n.name, grepLines(log, "takeover message"))
		}
		t.Logf("%s: %d lost-packet lines in %v of loss; copies:\n%s", n.name, strings.Count(log, "lost packet(s)"), window, grepLines(log, "takeover message"))
	}
	if hist[3] == 0 {
		t.Errorf("no status of n1 went by three times on n2's eth1: %v", hist)
	}
	for _, who := range [][2]string{{"n1", "n2"}, {"n2", "n1"}} {
		if s := c.nodes[who[0]].nodeStatus(who[1]); s != "active" {
			t.Errorf("%s sees %s %s after the loss", who[0], who[1], s)
		}
	}
	for i := range nodes {
		t.Logf("n%d: extra CPU %.3f s/min (schedstat) for %.1fx the packets", i+1,
			perMin(lossy.sched[i]-clean.sched[i], window), float64(lossy.packets[i])/float64(clean.packets[i]))
	}

	// The loss ends: both go back to one copy (64 clean statuses, then a
	// step down every 2 s).
	mark = [2]int{len(n1.log()), len(n2.log())}
	for _, n := range nodes {
		n.ns.DropIn(0)
	}
	for i, n := range nodes {
		waitFor(t, 15*time.Second, n.name+" back to one copy", func() bool {
			return strings.Contains(n.log()[mark[i]:], "Loss on the links is over")
		})
	}
}

// TestLossCopiesInteropWithRealHeartbeat: real Heartbeat 3.0.6 on n1,
// heartbeatd on n2, each with a marker group, at the interop timing
// (keepalive 250 ms, deadtime 1 s). Only what n1 sends is lost (15 %
// dropped on n2's input: enough for three copies at this timing, little
// enough that the real node's single copies do not make n2 declare it
// dead; at 30 % that happened once in a test run), so heartbeatd goes to
// three copies while every copy it sends reaches the real node: whatever
// the real node logs about n2's packets from then on comes from the
// duplicates. At three
// copies heartbeatd goes standby and takes its group back (ask_resources
// and resource messages, copied too). The real node must take each
// message once and log nothing about the copies: no lost packet, no
// replay, no late heartbeat.
func TestLossCopiesInteropWithRealHeartbeat(t *testing.T) {
	c := newLossCluster(t, "lossint")
	real, ours := c.addRealNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	c.shared = t.TempDir()
	os.Chmod(c.shared, 0o777)
	for _, n := range []*hbNode{real, ours} {
		n.writeConf(c.haCF(n, interopTiming, "bcast eth1 eth2", "auto_failback on\n"), "n1 marker::g1\nn2 marker::g2\n")
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, c.shared)), 0o755)
	}
	real.startReal()
	ours.start()
	c.placement("n1", "n2", 40*time.Second, "initial acquisition")
	waitFor(t, 20*time.Second, "both stable", func() bool {
		a, _ := real.clStatus("rscstatus")
		b, _ := ours.clStatus("rscstatus")
		return a == "local" && b == "local"
	})

	mark := len(real.log())
	ours.ns.DropIn(15, "eth1", "eth2")
	waitFor(t, 60*time.Second, "heartbeatd at three copies", func() bool {
		return strings.Contains(ours.log(), "takeover message 3 times")
	})
	hist := statusCopies(t, real, "n2", 5*time.Second)
	t.Logf("heartbeatd's statuses on the real node's eth1, by copies per seq: %v", hist)
	if hist[3] == 0 || hist[3] < hist[1] {
		t.Errorf("the real node did not get three copies of most statuses: %v", hist)
	}
	ours.admin("hb_standby")
	c.placement("n1", "n1", 30*time.Second, "hb_standby on heartbeatd at three copies")
	waitFor(t, 20*time.Second, "stable after standby", func() bool { a, _ := real.clStatus("rscstatus"); return a == "all" })
	ours.admin("hb_takeover", "failback")
	c.placement("n1", "n2", 30*time.Second, "hb_takeover failback at three copies")
	time.Sleep(5 * time.Second)

	log := real.log()[mark:]
	for _, bad := range []string{"lost packet", "replay", "Late heartbeat", "is dead", "should_drop_message", "Duplicate", "Cannot rexmit", "Irretrievably", "failed authentication", "bad node", "Both machines own", "No one owns"} {
		if strings.Contains(log, bad) {
			t.Errorf("the real node logged %q while receiving heartbeatd's copies:\n%s", bad, grepLines(log, bad))
		}
	}
	if k := strings.Count(log, "acquire [all] resources from n2"); k != 1 {
		t.Errorf("the real node took n2's standby request %d times, want once:\n%s", k, grepLines(log, "standby"))
	}
	if s := real.nodeStatus("n2"); s != "active" {
		t.Errorf("the real node sees heartbeatd %s", s)
	}
	t.Logf("heartbeatd's lines about the loss:\n%s", grepLines(ours.log(), "takeover message"))
	if testing.Verbose() {
		t.Logf("real node's log since the loss began:\n%s", log)
	}
}
