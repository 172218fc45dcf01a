//go:build netns

package e2e

// Sequence gaps seen by a real Heartbeat peer (issue 12, item 9): the lab
// showed "1 lost packet(s) for [pa1] [3:5]" on the Heartbeat node whenever
// heartbeatd joined, because heartbeatd's reqnodes, sent from inside the
// loopback of its own status, went on the wire before that status. Over a
// heartbeatd start, heartbeatd restarts (clean and kill -9, at several
// phases of the peer's keepalive) and restarts of the Heartbeat peer, the
// real node's log must have no lost-packet line for the heartbeatd node. A
// capture on the bridge shows, on failure, what heartbeatd sent around
// the gap.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var lostFor = regexp.MustCompile(`(\d+) lost packet\(s\) for \[(\w+)\] \[(\d+):(\d+)\]`)

func TestSeqGapWithRealHeartbeat(t *testing.T) {
	c := newCluster(t, "seqgap", false)
	real, ours := c.addRealNode("n1", 1), c.addNode("n2", 2)
	obs := c.addAttacker(66) // only listens
	t.Cleanup(func() { dumpLogs(t, c) })
	for _, n := range []*hbNode{real, ours} {
		n.writeConf(c.haCF(n, interopTiming, "bcast eth1 eth2", "auto_failback on\n"), "")
	}
	cp := obs.capture()
	bothActive := func(why string) {
		t.Helper()
		waitFor(t, 30*time.Second, why+": real and heartbeatd see each other active", func() bool {
			return real.nodeStatus("n2") == "active" && ours.nodeStatus("n1") == "active"
		})
		// Past the join: the reqnodes/repnodes exchange, the first ACKs
		// and any retransmission request.
		time.Sleep(1500 * time.Millisecond)
	}
	var steps []string
	step := func(what string, do func()) {
		t.Helper()
		do()
		bothActive(what)
		steps = append(steps, what)
	}

	step("real Heartbeat alone, then heartbeatd starts", func() {
		real.startReal()
		time.Sleep(4 * time.Second) // past its initdead: it runs alone
		ours.start()
	})
	// Restarts at different phases of the real node's 250 ms keepalive:
	// the gap came when its status arrived just before ours was due.
	for i, pause := range []time.Duration{0, 60 * time.Millisecond, 130 * time.Millisecond, 190 * time.Millisecond} {
		step(fmt.Sprintf("heartbeatd clean restart %d (+%v)", i+1, pause), func() {
			ours.stop(15 * time.Second)
			time.Sleep(pause)
			ours.start()
		})
	}
	step("heartbeatd kill -9 and restart", func() {
		ours.kill9()
		ours.start()
	})
	for i := 0; i < 2; i++ {
		step(fmt.Sprintf("real Heartbeat restart %d", i+1), func() {
			real.stopReal(30 * time.Second)
			real.startReal()
		})
	}
	step("real Heartbeat kill -9 and restart", func() {
		real.killReal()
		real.startReal()
	})
	cp.stop()

	log := real.log()
	bad := 0
	for _, m := range lostFor.FindAllStringSubmatch(log, -1) {
		if m[2] != "n2" {
			continue
		}
		bad++
		from, _ := strconv.Atoi(m[3])
		to, _ := strconv.Atoi(m[4])
		t.Errorf("real Heartbeat logged %q; heartbeatd's packets around it on the wire:\n%s", m[0], seqsAround(cp.packets(time.Time{}), "n2", uint64(from), uint64(to)))
	}
	own := grepLines(ours.log(), "lost packet")
	t.Logf("over %d steps (%s): real Heartbeat logged %d lost-packet lines for heartbeatd (n2); heartbeatd logged %d for the real node",
		len(steps), strings.Join(steps, "; "), bad, len(lostFor.FindAllString(own, -1)))
	for _, m := range lostFor.FindAllStringSubmatch(own, -1) {
		from, _ := strconv.Atoi(m[3])
		to, _ := strconv.Atoi(m[4])
		t.Logf("heartbeatd logged %q (not asserted); the real node's packets around it:\n%s", m[0], seqsAround(cp.packets(time.Time{}), m[2], uint64(from), uint64(to)))
	}
}

// seqsAround lists node's packets on eth1 whose seq lies within two of
// [from, to], in wire order. When seq to went on the wire before one
// between from and to in some generation (a reorder by the sender, not a
// loss), only those generations are shown.
func seqsAround(pkts []capPkt, node string, from, to uint64) string {
	var mine []capPkt
	sent, reordered := map[uint64]bool{}, map[uint64]bool{}
	for _, p := range pkts {
		if p.src != node || p.link != "eth1" || p.seq == 0 {
			continue
		}
		mine = append(mine, p)
		if p.seq == to {
			sent[p.gen] = true
		} else if p.seq > from && p.seq < to && sent[p.gen] {
			reordered[p.gen] = true
		}
	}
	var out []string
	for _, p := range mine {
		if p.seq+2 < from || p.seq > to+2 || (len(reordered) > 0 && !reordered[p.gen]) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s seq=%d hg=%x st=%s", p.at.Format("15:04:05.000"), p.typ, p.seq, p.gen, p.msg.Value("st")))
	}
	if len(reordered) > 0 {
		out = append([]string{"(reordered by the sender, not lost on the wire)"}, out...)
	}
	return strings.Join(out, "\n")
}
