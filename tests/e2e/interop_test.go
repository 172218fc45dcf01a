//go:build netns

package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// interopTiming keeps real Heartbeat's fixed 250 ms dead check well inside
// the "deadtime plus one keepalive" detection budget.
var interopTiming = timing{"250ms", "1", "500ms", "3"}

// startInterop starts real Heartbeat 3.0.6 on n1 and heartbeatd on n2, and
// waits until each reports the other active.
func startInterop(t *testing.T, name, haresources, extra string) (c *cluster, real, ours *hbNode) {
	t.Helper()
	c = newCluster(t, name, haresources != "")
	real, ours = c.addRealNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	for _, n := range []*hbNode{real, ours} {
		n.writeConf(c.haCF(n, interopTiming, "bcast eth1 eth2", extra), haresources)
	}
	real.startReal()
	ours.start()
	waitFor(t, 20*time.Second, "real and heartbeatd see each other active", func() bool {
		return real.nodeStatus("n2") == "active" && ours.nodeStatus("n1") == "active"
	})
	c.started = time.Now()
	return c, real, ours
}

// checkRealLogClean asserts what the issue asks of the real node's log.
func checkRealLogClean(t *testing.T, real *hbNode) {
	t.Helper()
	log := real.log()
	for _, bad := range []string{"failed authentication", "Message hist queue is filling up", "paused", "bad node", "Irretrievably lost", "Cannot rexmit", "Both machines own", "No one owns"} {
		if strings.Contains(log, bad) {
			t.Errorf("real Heartbeat logged %q:\n%s", bad, grepLines(log, bad))
		}
	}
	if n := strings.Count(log, "lost packet(s)"); n > 5 {
		t.Errorf("real Heartbeat logged %d lost-packet warnings (storm):\n%s", n, grepLines(log, "lost packet"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestInteropMembershipWithRealHeartbeat(t *testing.T) {
	c, real, ours := startInterop(t, "interop", "", "auto_failback on\n")

	// Both links up in both directions.
	for _, l := range []string{"eth1", "eth2"} {
		waitFor(t, 5*time.Second, "real sees n2:"+l+" up", func() bool { return real.linkStatus("n2", l) == "up" })
		waitFor(t, 5*time.Second, "heartbeatd sees n1:"+l+" up", func() bool { return ours.linkStatus("n1", l) == "up" })
	}
	// A few seconds of steady state: ACKs, no retransmission storm, no auth
	// failures, API clients not paused.
	c.pastStartupDeadtime()
	checkRealLogClean(t, real)

	// kill -9 heartbeatd: the real node declares it dead within deadtime
	// plus one keepalive (1.25 s; 150 ms slack for our polling).
	start := time.Now()
	ours.kill9()
	waitFor(t, 5*time.Second, "real declares n2 dead", func() bool { return real.nodeStatus("n2") == "dead" })
	took := time.Since(start)
	t.Logf("real Heartbeat detected kill -9 of heartbeatd after %v", took)
	if took > 1400*time.Millisecond {
		t.Errorf("real Heartbeat needed %v to detect heartbeatd's death (deadtime 1 s, keepalive 250 ms)", took)
	}

	// Restart heartbeatd: a new generation, which the real node accepts.
	ours.start()
	waitFor(t, 15*time.Second, "real accepts restarted heartbeatd", func() bool {
		return real.nodeStatus("n2") == "active" && ours.nodeStatus("n1") == "active"
	})
	if !regexp.MustCompile(`(Heartbeat restart on node n2|Status update for node n2: status (up|active))`).MatchString(real.log()) {
		t.Errorf("real Heartbeat did not log the return of n2")
	}
	c.started = time.Now()
	c.pastStartupDeadtime()
	checkRealLogClean(t, real)

	// kill -9 real Heartbeat: heartbeatd detects it within deadtime plus one
	// keepalive.
	start = time.Now()
	real.kill9()
	waitFor(t, 5*time.Second, "heartbeatd declares n1 dead", func() bool { return ours.nodeStatus("n1") == "dead" })
	took = time.Since(start)
	t.Logf("heartbeatd detected kill -9 of real Heartbeat after %v", took)
	if testing.Verbose() {
		t.Logf("real node log:\n%s", real.log())
	}
	if took > 1400*time.Millisecond {
		t.Errorf("heartbeatd needed %v to detect real Heartbeat's death", took)
	}
}
