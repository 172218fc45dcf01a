//go:build netns && bench

package e2e

// The measurements of the cluster bench besides failover (bench_test.go):
// false failovers under loss, idle resource use, and the time nobody holds
// the VIP after a partition heals. Each builds its own namespaces in a
// subtest (sub) and returns an error rather than a number when it could
// not measure.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// lossOnce runs two nodes (no resources) at tm with percent of the packets
// arriving on each node's eth1 and eth2 dropped (so each link loses
// percent in each direction, once), for window, and returns how many
// times a node declared the other dead ("node N: is dead", Heartbeat's
// and heartbeatd's wording): each is a false failover.
func lossOnce(t *testing.T, real bool, tm timing, percent int, window time.Duration) (int, error) {
	var deaths int
	err := sub(t, fmt.Sprintf("loss/%s/%d%%/%s", whoName(real), percent, tm.deadtime), func(t *testing.T) error {
		c := newCluster(t, "bls", false)
		n1, n2 := c.addDaemonNode("n1", 1, real), c.addDaemonNode("n2", 2, real)
		for _, n := range []*hbNode{n1, n2} {
			n.writeConf(c.haCF(n, tm, "bcast eth1 eth2", "auto_failback on\n"), "")
			n.launch()
		}
		waitFor(t, 30*time.Second, "both active", func() bool {
			return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
		})
		c.started = time.Now()
		c.pastStartupDeadtime()
		mark := [2]int{len(n1.log()), len(n2.log())}
		for _, n := range []*hbNode{n1, n2} {
			n.ns.DropIn(percent, "eth1", "eth2")
		}
		time.Sleep(window)
		for _, n := range []*hbNode{n1, n2} {
			n.ns.DropIn(0)
		}
		lines := benchDeaths([2]*hbNode{n1, n2}, mark)
		deaths = len(lines)
		if deaths > 0 {
			t.Logf("false failovers:\n%s", strings.Join(lines, "\n"))
		}
		return nil
	})
	return deaths, err
}

// idleSample is one node's idle use: CPU per minute and PSS, the mean of
// the two nodes.
type idleSample struct {
	cpuPerMin time.Duration
	pssKB     int
}

// idleOnce measures an idle two-node cluster on two links (bcast) for
// window: heartbeatd, real Heartbeat, or the floor program (who: hdName,
// hbName, floorName). Both nodes are averaged: with followPeer one node
// wakes once per keepalive and the other twice, and which is which depends
// on who started first.
func idleOnce(t *testing.T, who string, tm timing, window time.Duration, floorBin string) (idleSample, error) {
	var s idleSample
	err := sub(t, fmt.Sprintf("idle/%s/%s", who, tm.keepalive), func(t *testing.T) error {
		c := newCluster(t, "bid", false)
		var n1, n2 *hbNode
		if who == hbName {
			n1, n2 = c.addRealNode("n1", 1), c.addRealNode("n2", 2)
		} else {
			n1, n2 = c.addNode("n1", 1), c.addNode("n2", 2)
		}
		for _, n := range []*hbNode{n1, n2} {
			n.writeConf(c.haCF(n, tm, "bcast eth1 eth2", "auto_failback on\n"), "")
			switch who {
			case hbName:
				n.startReal()
			case hdName:
				n.start()
			default:
				n.startFloor(floorBin, tm.keepalive)
			}
		}
		if who == floorName {
			time.Sleep(5 * time.Second)
		} else {
			waitFor(t, 30*time.Second, "both active", func() bool {
				return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
			})
			time.Sleep(15 * time.Second) // past start-up and the resource negotiation
		}
		a0, _, _ := procUsage(n1.ns.NS)
		b0, _, _ := procUsage(n2.ns.NS)
		time.Sleep(window)
		a1, pssA, procsA := procUsage(n1.ns.NS)
		b1, pssB, procsB := procUsage(n2.ns.NS)
		if procsA == 0 || procsB == 0 {
			return fmt.Errorf("a node's daemon was gone at the end of the window")
		}
		s = idleSample{perMinute((a1+b1-a0-b0)/2, window), (pssA + pssB) / 2}
		return nil
	})
	return s, err
}

// arpProbeInterval is how often the client asks who has the VIP in
// partitionOnce; arpUnanswered requests in a row without a claim count as
// "held by nobody". Counting unanswered requests rather than silences
// keeps a stall of the prober itself (a loaded machine) out of the result.
const (
	arpProbeInterval = 10 * time.Millisecond
	arpUnanswered    = 5
)

// partitionSettled is how long one node must have answered every request
// before partitionOnce stops watching early.
const partitionSettled = 10 * time.Second

// partitionOnce: n1 holds the VIP (auto_failback on, so n1 is its home),
// both of n1's links are cut for cut (n2 takes the VIP too: split brain,
// no STONITH), then healed. The client broadcasts an ARP request for the
// VIP every 10 ms throughout and captures every frame claiming it; the
// result is how long after the heal no node claimed the VIP (silences of
// arpUnanswered requests or more). It watches until exactly one node holds
// the VIP and every request was answered for partitionSettled, at most
// watch; a pair that has not settled by then is a failed measurement.
func partitionOnce(t *testing.T, real bool, tm timing, cut, watch time.Duration) (time.Duration, error) {
	var nobody time.Duration
	err := sub(t, fmt.Sprintf("partition/%s", whoName(real)), func(t *testing.T) error {
		c, vip := benchPair(t, "bpt", real, tm, "auto_failback on\n")
		n1 := c.nodes["n1"]
		arp := c.captureARP()
		stop, err := c.probeARP(vip, arpProbeInterval)
		if err != nil {
			return err
		}
		defer stop()
		time.Sleep(500 * time.Millisecond)
		cutAt := time.Now()
		n1.ns.Cut("eth1")
		n1.ns.Cut("eth2")
		waitFor(t, cut, "n2 took the VIP during the partition", func() bool { return c.nodes["n2"].holdsVIP(vip) })
		time.Sleep(time.Until(cutAt.Add(cut)))
		healAt := time.Now()
		n1.ns.Heal("eth1")
		n1.ns.Heal("eth2")
		for {
			time.Sleep(time.Second)
			now := time.Now()
			spans := silences(arp.path, vip, healAt, now)
			nobody = 0
			lastEnd := healAt
			for _, sp := range spans {
				nobody += sp[1].Sub(sp[0])
				lastEnd = sp[1]
			}
			h := c.holders(vip)
			settled := len(h) == 1 && now.Sub(lastEnd) >= partitionSettled
			if settled || now.Sub(healAt) >= watch {
				for _, sp := range spans {
					t.Logf("no claim for the VIP from %v to %v after the heal", sp[0].Sub(healAt).Round(time.Millisecond), sp[1].Sub(healAt).Round(time.Millisecond))
				}
			}
			if settled {
				return nil
			}
			if now.Sub(healAt) >= watch {
				return fmt.Errorf("%v after the heal the VIP is on %v, want one node answering for %v (held by nobody for %v so far)", watch, h, partitionSettled, nobody.Round(time.Millisecond))
			}
		}
	})
	return nobody, err
}

// silences returns the spans between from and to in which the client's
// capture at path shows arpUnanswered requests for vip or more and no
// claim of it; a silence still running at to ends at to.
func silences(path, vip string, from, to time.Time) [][2]time.Time {
	claims, asks := arpTimes(path, vip)
	claims = append(claims, to)
	var spans [][2]time.Time
	prev := from
	for _, at := range claims {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			at = to
		}
		unanswered := 0
		for _, q := range asks {
			if q.After(prev) && q.Before(at) {
				unanswered++
			}
		}
		if unanswered >= arpUnanswered {
			spans = append(spans, [2]time.Time{prev, at})
		}
		prev = at
	}
	return spans
}

// envInt is an integer knob from the environment (the bench's smoke-run
// settings), def when unset; a malformed value stops the bench.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// envSecs is envInt in seconds.
func envSecs(t *testing.T, name string, def int) time.Duration {
	return time.Duration(envInt(t, name, def)) * time.Second
}

// arpTimes returns, from the tcpdump -e -tt capture at path, when any
// node claimed vip (a gratuitous ARP or a reply for it) and when someone
// asked for it (the client's probes).
func arpTimes(path, vip string) (claims, asks []time.Time) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ts, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		at := time.Unix(0, int64(ts*1e9))
		switch {
		case claimsAddress(line, vip):
			claims = append(claims, at)
		case strings.Contains(line, "who-has "+vip+" tell "):
			asks = append(asks, at)
		}
	}
	return claims, asks
}

// probeARP broadcasts an ARP request for vip from the client's eth1 every
// interval until stop is called (arping takes whole seconds only). The
// socket is created in the client's namespace and used from a goroutine
// of this process.
func (c *cluster) probeARP(vip string, interval time.Duration) (stop func(), err error) {
	mac, err := net.ParseMAC(strings.TrimSpace(c.client.MustExec("cat", "/sys/class/net/eth1/address")))
	if err != nil {
		return nil, fmt.Errorf("client's MAC: %v", err)
	}
	src, dst := c.br[0].Addr(200).Addr().As4(), netip.MustParseAddr(vip).As4()
	req := []byte{0, 1, 8, 0, 6, 4, 0, 1} // Ethernet, IPv4, request
	req = append(append(append(append(req, mac...), src[:]...), make([]byte, 6)...), dst[:]...)
	fd := -1
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	err = c.client.Do(func() error {
		ifi, err := net.InterfaceByName("eth1")
		if err != nil {
			return err
		}
		to.Ifindex = ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ARP socket on the client: %v", err)
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			unix.Sendto(fd, req, 0, to)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished; unix.Close(fd) }, nil
}
