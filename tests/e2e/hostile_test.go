//go:build netns

package e2e

// Hostile peers with real daemons (issue 12: item 8, and the flood of
// item 2; item 9 is seqgap_test.go): an attacker on the cluster's segment
// records a live pair's traffic and plays it back after a peer's death,
// after our own restart and while both nodes run; it replays a recorded
// NS_rexmit and NS_ackmsg a thousand times each, and floods one link with
// forged packets. Each attack is judged by what an admin would see
// change: node and link status, group starts and stops, drbdadm runs, the
// log lines of a death, a return or a takeover. TestHostilePeer counts the
// attacks and how many of them changed anything (the goal is none) and
// logs one summary line; TestHostileReplayAfterOwnCrash is the one replay
// that needs a fresh pair (our crash while the peer was alive).

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostileMarker is the marker resource with a journal: every start and
// stop is appended to the shared journal, so a group that moves and comes
// back is seen as well as one that stays moved.
const hostileMarker = `#!/bin/sh
name=svc
if [ $# -ge 2 ]; then name=$1; shift; fi
f=%[1]s/marker.$HA_CURHOST.$name
case "$1" in
start) echo running > "$f"; echo "$HA_CURHOST start $name" >> %[1]s/journal ;;
stop) rm -f "$f"; echo "$HA_CURHOST stop $name" >> %[1]s/journal ;;
status) if [ -f "$f" ]; then echo running; else echo stopped; fi ;;
esac
`

// stateChange matches the log lines of something an attack must never
// cause: a status or link change, a death, a restart or heal, a takeover
// or release, an outdate, a peer's shutdown, an accepted message out of
// order, a heartbeat judged late.
var stateChange = regexp.MustCompile(`Status update for node|: is dead|Link [^ ]+ (up|dead)\.|Heartbeat restart on node|returning after partition|Resources being acquired|Taking over resource group|Giving up|relinquished|[Ss]tandby|acquisition complete|takeover complete|asks to outdate|drbdadm outdate|Received shutdown notice|lost packet\(s\)|Late heartbeat|Both machines own|No one owns`)

// peerPacketLog matches membership's lines about a peer's packets, the
// ones its per-peer log budget bounds (internal/membership/limit.go).
var peerPacketLog = regexp.MustCompile(`Cannot rexmit pkt|Rexmit of seq \d+ requested|corrupted ackseq|Irretrievably lost packet|Invalid rexmit seqnos|bad nak seq number|replayed packet \[|attempted replay attack|suppressed \(rate limit\)`)

// hostileLab is the pair n1/n2 (groups "n1 marker::a" and "n2
// marker::b", auto_failback on, both with a drbdadm that logs its calls)
// plus the attacker.
type hostileLab struct {
	*cluster
	evil    *attacker
	running map[string]bool
	fake    string // the fake drbdadm

	tried   int
	changed []string    // attacks that changed something
	current hostileView // taken before the attack under way
}

func newHostileLab(t *testing.T) *hostileLab {
	t.Helper()
	c := newCluster(t, "hostile", false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	h := &hostileLab{cluster: c, evil: c.addAttacker(66), running: map[string]bool{}, fake: fakeDrbdadm(t)}
	t.Cleanup(func() { dumpLogs(t, c) })
	c.shared = t.TempDir()
	os.Chmod(c.shared, 0o777)
	for _, n := range []*hbNode{n1, n2} {
		state := filepath.Join(c.shared, "drbd."+n.name+".json")
		drbdState(state)
		wrapper := filepath.Join(n.dir, "drbdadm")
		script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec %s \"$@\"\n", h.drbdCalls(n.name), h.fake)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		n.env = []string{"DRBDADM=" + wrapper, "FAKE_DRBD_STATE=" + state, "FAKE_DRBD_VERSION=8.4"}
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", "auto_failback on\n"), "n1 marker::a\nn2 marker::b\n")
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(hostileMarker, c.shared)), 0o755)
	}
	return h
}

func (h *hostileLab) drbdCalls(node string) string {
	return filepath.Join(h.shared, "drbdadm."+node+".calls")
}

func (h *hostileLab) start(name string) {
	h.t.Helper()
	h.nodes[name].start()
	h.running[name] = true
}

// kill9 is a crash of the node: the daemon killed, and its services gone
// with it (their marker files), so that "where does b run" has one answer.
func (h *hostileLab) kill9(name string) {
	h.t.Helper()
	h.nodes[name].kill9()
	h.running[name] = false
	ms, _ := filepath.Glob(filepath.Join(h.shared, "marker."+name+".*"))
	for _, m := range ms {
		os.Remove(m)
	}
}

func (h *hostileLab) stop(name string) {
	h.t.Helper()
	h.nodes[name].stop(20 * time.Second)
	h.running[name] = false
}

func fileText(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// hostileView is what an admin sees at one moment.
type hostileView struct {
	logOff  map[string]int    // length of each node's log
	journal int               // length of the group journal
	drbd    map[string]int    // length of each node's drbdadm call log
	status  map[string]string // "n1: n2" -> status, "n1: n2 eth1" -> link status
}

func (h *hostileLab) view() hostileView {
	v := hostileView{logOff: map[string]int{}, drbd: map[string]int{}, status: map[string]string{},
		journal: len(fileText(filepath.Join(h.shared, "journal")))}
	for _, me := range []string{"n1", "n2"} {
		v.logOff[me] = len(h.nodes[me].log())
		v.drbd[me] = len(fileText(h.drbdCalls(me)))
		if !h.running[me] {
			continue
		}
		other := map[string]string{"n1": "n2", "n2": "n1"}[me]
		n := h.nodes[me]
		v.status[me+": "+other] = n.nodeStatus(other)
		for _, l := range []string{"eth1", "eth2"} {
			v.status[me+": "+other+" "+l] = n.linkStatus(other, l)
		}
	}
	return v
}

// since returns what node's log gained after v.
func (h *hostileLab) since(v hostileView, node string) string {
	l := h.nodes[node].log()
	if off := v.logOff[node]; off <= len(l) {
		return l[off:]
	}
	return l
}

// changesSince lists everything that changed after v.
func (h *hostileLab) changesSince(v hostileView) []string {
	var ch []string
	now := h.view()
	for _, me := range []string{"n1", "n2"} {
		if s := grepLinesRE(h.since(v, me), stateChange); s != "" {
			ch = append(ch, fmt.Sprintf("%s logged:\n%s", me, s))
		}
		if d := fileText(h.drbdCalls(me)); len(d) > v.drbd[me] {
			ch = append(ch, fmt.Sprintf("drbdadm ran on %s: %q", me, d[v.drbd[me]:]))
		}
		if h.running[me] {
			select {
			case <-h.nodes[me].exited:
				ch = append(ch, me+"'s daemon exited")
			default:
			}
		}
	}
	if j := fileText(filepath.Join(h.shared, "journal")); len(j) > v.journal {
		ch = append(ch, fmt.Sprintf("groups started or stopped: %q", j[v.journal:]))
	}
	for k, was := range v.status {
		if is := now.status[k]; is != was {
			ch = append(ch, fmt.Sprintf("%s: %s -> %s", k, was, is))
		}
	}
	return ch
}

func grepLinesRE(text string, re *regexp.Regexp) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func countLinesRE(text string, re *regexp.Regexp) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// attack runs one attack, waits settle, and records whether anything
// changed. It returns the view taken before it.
func (h *hostileLab) attack(name string, settle time.Duration, run func()) hostileView {
	h.t.Helper()
	before := h.view()
	h.current = before
	run()
	time.Sleep(settle)
	h.tried++
	if ch := h.changesSince(before); len(ch) > 0 {
		h.changed = append(h.changed, name)
		h.t.Errorf("attack %q changed something:\n%s", name, strings.Join(ch, "\n"))
	} else {
		h.t.Logf("attack %q: nothing changed (%s)", name, h.refusals(before))
	}
	return before
}

// refusals says how many lines each node logged about the peers' packets
// (replays refused, requests beyond what was sent) since v.
func (h *hostileLab) refusals(v hostileView) string {
	var out []string
	for _, me := range []string{"n1", "n2"} {
		out = append(out, fmt.Sprintf("%s logged %d lines about replayed or bad packets", me, countLinesRE(h.since(v, me), peerPacketLog)))
	}
	return strings.Join(out, ", ")
}

// groupsAt: group a (marker::a) runs on node a and nowhere else, group b
// (marker::b) on node b and nowhere else.
func (h *hostileLab) groupsAt(a, b string) bool {
	ra, rb := h.runsOn("a"), h.runsOn("b")
	return len(ra) == 1 && ra[0] == a && len(rb) == 1 && rb[0] == b
}

// settled: both daemons report each other active and the groups are home.
func (h *hostileLab) settled() bool {
	n1, n2 := h.nodes["n1"], h.nodes["n2"]
	if n1.nodeStatus("n2") != "active" || n2.nodeStatus("n1") != "active" || !h.groupsAt("n1", "n2") {
		return false
	}
	s1, _ := n1.clStatus("rscstatus")
	s2, _ := n2.clStatus("rscstatus")
	return s1 == "local" && s2 == "local"
}

// vmRSS is the resident set of pid in kB (/proc/PID/status).
func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("rss of %d: %v", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func lineCount(s string) int { return strings.Count(s, "\n") }

// nsAnswer is what a node did in answer to a replayed NS_ message.
type nsAnswer struct {
	naks, rexmits, logLines int
	took                    time.Duration // sending the replays
}

// nsReplay plays p back count times, one every gap, waits settle, and
// reports what the node p is addressed to (its dest) did in answer, as seen
// on the wire (link eth1) and in its log: NAKs sent, old messages re-sent,
// log lines about the sender's packets.
func (h *hostileLab) nsReplay(cp *capture, p capPkt, count int, gap time.Duration, settle time.Duration) nsAnswer {
	h.t.Helper()
	target := p.dest
	before := h.view()
	// The highest seq of the target's current generation seen so far: a
	// packet from it at or below this seq after the start is a
	// retransmission.
	var hi, gen uint64
	for _, q := range cp.packets(time.Time{}) {
		if q.src == target && q.seq != 0 && q.gen >= gen {
			if q.gen > gen {
				gen, hi = q.gen, 0
			}
			hi = max(hi, q.seq)
		}
	}
	start := time.Now()
	for i := 0; i < count; i++ {
		if err := h.evil.sendOn(p.link, p.data); err != nil {
			h.t.Fatalf("send: %v", err)
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	took := time.Since(start)
	time.Sleep(settle)
	var a nsAnswer
	a.took = took
	for _, q := range cp.packets(start) {
		if q.src != target || q.link != "eth1" {
			continue
		}
		switch {
		case q.typ == "NS_nak_rexmit":
			a.naks++
		case q.seq != 0 && q.gen == gen && q.seq <= hi:
			a.rexmits++
		}
	}
	a.logLines = countLinesRE(h.since(before, target), peerPacketLog)
	return a
}

// nsBounds checks an nsAnswer against the per-peer budgets of
// internal/membership/limit.go over the time the replay took (plus the
// settle time): retransmissions 50 at once then 50 a second, NAKs 10 then
// one a second, log lines 5 then one per 10 s, plus the lines that say
// how many were left out.
func (h *hostileLab) nsBounds(what string, a nsAnswer, window time.Duration) {
	h.t.Helper()
	s := window.Seconds()
	maxRexmit := 50 + int(50*s) + 1
	maxNak := 10 + int(s) + 1
	maxLog := 5 + 2*(int(s/10)+1)
	h.t.Logf("%s: %d NAKs (bound %d), %d retransmissions (bound %d), %d log lines about the sender's packets (bound %d) in %v",
		what, a.naks, maxNak, a.rexmits, maxRexmit, a.logLines, maxLog, window.Round(time.Millisecond))
	if a.naks > maxNak {
		h.t.Errorf("%s: %d NAKs, more than the budget of %d", what, a.naks, maxNak)
	}
	if a.rexmits > maxRexmit {
		h.t.Errorf("%s: %d retransmissions, more than the budget of %d", what, a.rexmits, maxRexmit)
	}
	if a.logLines > maxLog {
		h.t.Errorf("%s: %d log lines about the sender's packets, more than the budget of %d", what, a.logLines, maxLog)
	}
}

func TestHostilePeer(t *testing.T) {
	began := time.Now()
	h := newHostileLab(t)
	n1, n2 := h.nodes["n1"], h.nodes["n2"]

	// 1. Record a live pair from its start: the start-up statuses, the
	// join, resource messages, drbd-peer-outdater requests both ways,
	// ACKs and, after a short cut of both of n1's links, requests for
	// the messages each side missed and their retransmissions.
	cp := h.evil.capture()
	h.start("n1")
	h.start("n2")
	h.cluster.started = time.Now()
	waitFor(t, 15*time.Second, "pair active with groups home", h.settled)
	for _, ask := range []struct{ from, to string }{{"n1", "n2"}, {"n2", "n1"}} {
		if code := h.nodes[ask.from].outdater(nil, "-p", ask.to, "-r", "r0", "-t", "5"); code != 4 {
			t.Fatalf("drbd-peer-outdater on %s for %s: exit %d, want 4 (peer's disk outdated)", ask.from, ask.to, code)
		}
	}
	h.pastStartupDeadtime()
	// Late enough that n1's seqs are well above what a restarted n1 will
	// have sent when the recording is played back to it (phase 3).
	time.Sleep(2 * time.Second)
	n1.ns.Cut("eth1")
	n1.ns.Cut("eth2")
	time.Sleep(350 * time.Millisecond)
	n1.ns.Heal("eth1")
	n1.ns.Heal("eth2")
	var rexmitReq, ackReq capPkt
	waitFor(t, 5*time.Second, "n2 asks n1 for what it missed (NS_rexmit on the wire)", func() bool {
		for _, p := range cp.packets(time.Time{}) {
			if p.typ == "NS_rexmit" && p.src == "n2" && p.dest == "n1" && p.link == "eth1" {
				rexmitReq = p
				return true
			}
		}
		return false
	})
	time.Sleep(time.Second)
	rec := cp.packets(time.Time{})
	for _, p := range rec {
		if p.typ == "NS_ackmsg" && p.src == "n2" && p.dest == "n1" && p.link == "eth1" {
			ackReq = p // the last one: the highest ackseq
		}
	}
	types := map[string]int{}
	for _, p := range rec {
		types[p.src+":"+p.typ]++
	}
	t.Logf("recorded %d packets in %v: %v", len(rec), rec[len(rec)-1].at.Sub(rec[0].at).Round(time.Millisecond), types)
	for _, want := range []string{"n1:status", "n2:status", "n1:start_outdate", "n2:outdate_rc", "n2:start_outdate", "n1:outdate_rc",
		"n1:resource", "n2:resource", "n2:NS_ackmsg", "n2:NS_rexmit", "n1:NS_rexmit"} {
		if types[want] == 0 {
			t.Fatalf("the recording has no %s packet: %v", want, types)
		}
	}
	t.Logf("NS_rexmit to replay: %s firstseq=%s; NS_ackmsg: %s ackseq=%s", rexmitReq, rexmitReq.msg.Value("firstseq"), ackReq, ackReq.msg.Value("ackseq"))
	if !h.settled() {
		t.Fatalf("pair not settled after the recording")
	}
	n2Tail := keepPkts(rec, func(p capPkt) bool { return p.src == "n2" && !p.at.Before(rec[len(rec)-1].at.Add(-3*time.Second)) })
	n2Only := keepPkts(rec, fromNode("n2"))
	n2Msgs := keepPkts(n2Only, func(p capPkt) bool { return p.typ != "status" })

	// 2c. Both nodes up: the recording played back, three times over at
	// line rate, and n2's last three seconds at their own pace.
	h.attack("whole recording x3, line rate, both up", time.Second, func() {
		for i := 0; i < 3; i++ {
			h.evil.replay(rec, false)
		}
	})
	h.attack("n2's last 3 s at their pace, both up", time.Second, func() { h.evil.replay(n2Tail, true) })

	// 3. A recorded NS_rexmit and NS_ackmsg of n2's, a thousand times
	// each, to n1 in the generations they were recorded in (A), and after
	// n1 restarted (B), where they name seqs the new n1 has not sent yet.
	var ans []string
	nsAttack := func(label string, p capPkt) {
		var a nsAnswer
		h.attack(label, 0, func() {
			a = h.nsReplay(cp, p, 1000, time.Millisecond, time.Second)
		})
		h.nsBounds(label, a, a.took+time.Second)
		ans = append(ans, fmt.Sprintf("%s: %d NAKs, %d retransmissions, %d log lines", label, a.naks, a.rexmits, a.logLines))
	}
	nsAttack("NS_rexmit x1000, both up", rexmitReq)
	nsAttack("NS_ackmsg x1000, both up", ackReq)

	h.stop("n1")
	h.start("n1")
	waitFor(t, 20*time.Second, "n1 back, groups home", h.settled)
	nsAttack("NS_rexmit x1000 after n1's restart", rexmitReq)
	nsAttack("NS_ackmsg x1000 after n1's restart", ackReq)
	h.attack("whole recording, line rate, after n1's restart", time.Second, func() { h.evil.replay(rec, false) })
	cp.stop()

	// 4. 100,000 forged packets (each with its own src, wrong key) at line
	// rate on link 1: the pair stays up, the daemons' memory and logs do
	// not grow with the flood.
	forged := forgedStatuses(t, 100000)
	pids := map[string]int{"n1": n1.cmd.Process.Pid, "n2": n2.cmd.Process.Pid}
	rssBefore := map[string]int{}
	for name, pid := range pids {
		rssBefore[name] = vmRSS(t, pid)
	}
	var floodTook time.Duration
	authLine := regexp.MustCompile(`failed authentication \(link`)
	summaryLine := regexp.MustCompile(`(\d+) packets? failed authentication from (.*) in the last`)
	fv := h.attack("100,000 forged packets on eth1", 0, func() {
		start := time.Now()
		if err := h.evil.flood("eth1", forged); err != nil {
			t.Fatalf("flood: %v", err)
		}
		floodTook = time.Since(start)
		// One summary line per 10 s interval, an interval starting with
		// its first failure: the interval the flood ended in is summed
		// up by the first summary logged after its end.
		end := h.view()
		waitFor(t, 25*time.Second, "the failed-authentication summary of the flood's last interval on both nodes", func() bool {
			return summaryLine.MatchString(h.since(end, "n1")) && summaryLine.MatchString(h.since(end, "n2"))
		})
	})
	t.Logf("flood: %d packets in %v (%.0f packets/s)", len(forged), floodTook.Round(time.Millisecond), float64(len(forged))/floodTook.Seconds())
	var floodReport []string
	for _, name := range []string{"n1", "n2"} {
		rss := vmRSS(t, pids[name])
		grew := rss - rssBefore[name]
		added := h.since(fv, name)
		individual, summaries := countLinesRE(added, authLine), countLinesRE(added, summaryLine)
		var counted int
		for _, m := range summaryLine.FindAllStringSubmatch(added, -1) {
			k, _ := strconv.Atoi(m[1])
			counted += k
		}
		floodReport = append(floodReport, fmt.Sprintf("%s: VmRSS %d -> %d kB (%+d kB), log +%d lines (%d per-source, %d summary: %d packets counted as failed)",
			name, rssBefore[name], rss, grew, lineCount(added), individual, summaries, counted))
		if grew >= 4096 {
			t.Errorf("%s: VmRSS grew by %d kB during the flood, want < 4 MB", name, grew)
		}
		// At most 16 sources named per interval, one summary per
		// interval, and as many intervals as the flood took 10 s (plus
		// the one it started in, and one for a summary that comes late).
		intervals := int(floodTook/(10*time.Second)) + 2
		if individual > 16*summaries || summaries > intervals {
			t.Errorf("%s: %d per-source and %d summary lines for a flood of %v, want at most 16 per-source lines per summary and one summary per 10 s interval (%d):\n%s",
				name, individual, summaries, floodTook.Round(time.Millisecond), intervals, grepLinesRE(added, summaryLine))
		}
		var other []string
		for _, l := range strings.Split(strings.TrimRight(added, "\n"), "\n") {
			if l != "" && !authLine.MatchString(l) && !summaryLine.MatchString(l) {
				other = append(other, l)
			}
		}
		if len(other) > 0 {
			t.Logf("%s: other lines logged during the flood:\n%s", name, strings.Join(other, "\n"))
		}
		if len(other) > 3 {
			t.Errorf("%s: the flood added %d other log lines", name, len(other))
		}
		if counted == 0 {
			t.Errorf("%s: no summary counted the forged packets", name)
		}
	}
	t.Logf("flood: %s", strings.Join(floodReport, "; "))

	// 2a. n2 dies (kill -9); once n1 has taken over its group, everything
	// n2 ever sent is played back to n1.
	h.kill9("n2")
	waitFor(t, 10*time.Second, "n1 declares n2 dead and takes its group", func() bool {
		return n1.nodeStatus("n2") == "dead" && h.groupsAt("n1", "n1") && strings.Contains(n1.log(), "mach_down takeover complete")
	})
	time.Sleep(500 * time.Millisecond)
	deathView := h.view()
	h.attack("n2's last 3 s at their pace, after its death", time.Second, func() { h.evil.replay(n2Tail, true) })
	h.attack("all of n2's packets x3, line rate, after its death", time.Second, func() {
		for i := 0; i < 3; i++ {
			h.evil.replay(n2Only, false)
		}
	})
	h.attack("n2's outdate, resource and NS_ messages x20, after its death", time.Second, func() {
		for i := 0; i < 20; i++ {
			h.evil.replay(n2Msgs, false)
		}
	})
	h.attack("whole recording, line rate, after n2's death", time.Second, func() { h.evil.replay(rec, false) })
	// The replays did reach n1: it refused them, and said so (within
	// its log budget for n2).
	if !strings.Contains(h.since(deathView, "n1"), "replayed packet [n2]") {
		t.Errorf("n1 logged no refused replay of n2's packets after n2's death: did the replays arrive?")
	}

	// 2b. Our own restart while n2 is dead: n1 stops cleanly (stopping
	// both groups) and starts again while the attacker plays n2's traffic
	// back all along. n2 must not come back; n1 takes both groups after
	// initdead as it would without the attacker. Then the same after a
	// crash of n1 (kill -9), which stores nothing at exit.
	for _, how := range []string{"clean stop", "kill -9"} {
		if how == "clean stop" {
			h.stop("n1")
		} else {
			h.kill9("n1")
		}
		label := "n2's traffic during n1's restart after a " + how + ", n2 dead"
		before := h.view()
		h.start("n1")
		restarted := time.Now()
		stopReplay := replayLoop(h.evil, n2Only, n2Tail)
		var deadAfter time.Duration
		waitFor(t, 15*time.Second, "n1 declares n2 dead after its restart", func() bool {
			if strings.Contains(h.since(before, "n1"), "node n2: is dead") {
				deadAfter = time.Since(restarted)
				return true
			}
			return false
		})
		waitFor(t, 15*time.Second, "n1 runs both groups", func() bool { return h.groupsAt("n1", "n1") })
		time.Sleep(time.Second)
		sent := stopReplay()
		h.tried++
		after := h.since(before, "n1")
		var bad []string
		if s := grepLinesRE(after, regexp.MustCompile(`Status update for node n2|Link n2:[^ ]+ up|Heartbeat restart on node n2|returning after partition|asks to outdate|answered outdate|Received shutdown notice`)); s != "" {
			bad = append(bad, "n1 logged:\n"+s)
		}
		if d := fileText(h.drbdCalls("n1")); len(d) > before.drbd["n1"] {
			bad = append(bad, fmt.Sprintf("drbdadm ran on n1: %q", d[before.drbd["n1"]:]))
		}
		// initdead is 3 s; n1 judges n2 on the grid right after it.
		if deadAfter > 4500*time.Millisecond {
			bad = append(bad, fmt.Sprintf("n2 declared dead %v after n1's start, want about initdead (3 s)", deadAfter))
		}
		if s := n1.nodeStatus("n2"); s != "dead" {
			bad = append(bad, "n1 sees n2 "+s)
		}
		if !strings.Contains(after, "replayed packet [n2]") {
			t.Errorf("%s: n1 logged no refused replay of n2's packets: did the replays arrive?", label)
		}
		t.Logf("%s: %d packets replayed; n2 declared dead %v after n1's start", label, sent, deadAfter.Round(time.Millisecond))
		if len(bad) > 0 {
			h.changed = append(h.changed, label)
			t.Errorf("attack %q changed something:\n%s", label, strings.Join(bad, "\n"))
		} else {
			t.Logf("attack %q: nothing changed (n1 took over after initdead as without the attacker)", label)
		}
	}

	t.Logf("NS replays: %s", strings.Join(ans, "; "))
	t.Logf("flood: %s", strings.Join(floodReport, "; "))
	t.Logf("HOSTILE SUMMARY: %d attacks tried, %d changed anything%s (run time %v)",
		h.tried, len(h.changed), listIfAny(h.changed), time.Since(began).Round(time.Second))
}

func listIfAny(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return ": " + strings.Join(s, "; ")
}

// TestHostileReplayAfterOwnCrash: n1 crashes (kill -9) while n2 is alive,
// n2 dies while n1 is down, and n1 starts again while the attacker plays
// n2's recorded traffic back, an outdate request included. n2 must not
// come back, nothing of its may be acted upon, and n1 must take over after
// initdead, as after a clean stop (TestHostilePeer, 2b).
func TestHostileReplayAfterOwnCrash(t *testing.T) {
	h := newHostileLab(t)
	n1, n2 := h.nodes["n1"], h.nodes["n2"]
	cp := h.evil.capture()
	h.start("n1")
	h.start("n2")
	h.cluster.started = time.Now()
	waitFor(t, 15*time.Second, "pair active with groups home", h.settled)
	if code := n2.outdater(nil, "-p", "n1", "-r", "r0", "-t", "5"); code != 4 {
		t.Fatalf("drbd-peer-outdater on n2 for n1: exit %d, want 4", code)
	}
	h.pastStartupDeadtime()
	rec := cp.packets(time.Time{})
	cp.stop()
	n2Only := keepPkts(rec, fromNode("n2"))
	n2Tail := keepPkts(n2Only, func(p capPkt) bool { return !p.at.Before(rec[len(rec)-1].at.Add(-3 * time.Second)) })
	if len(keepPkts(n2Only, func(p capPkt) bool { return p.typ == "start_outdate" })) == 0 {
		t.Fatalf("the recording has no start_outdate from n2")
	}
	t.Logf("n1's hb_peers when it crashes: %q", fileText(filepath.Join(n1.statedir, "hb_peers")))

	h.kill9("n1")
	h.kill9("n2")
	before := h.view()
	h.start("n1")
	restarted := time.Now()
	waitFor(t, 5*time.Second, "n1's media open", func() bool {
		return strings.Contains(h.since(before, "n1"), "Local status now set to: 'up'")
	})
	stopReplay := replayLoop(h.evil, n2Only, n2Tail)
	var deadAfter time.Duration
	waitFor(t, 20*time.Second, "n1 declares n2 dead after its restart", func() bool {
		if strings.Contains(h.since(before, "n1"), "node n2: is dead") {
			deadAfter = time.Since(restarted)
			return true
		}
		return false
	})
	waitFor(t, 15*time.Second, "n1 runs both groups", func() bool { return h.groupsAt("n1", "n1") })
	sent := stopReplay()
	after := h.since(before, "n1")
	h.tried++
	var bad []string
	if s := grepLinesRE(after, regexp.MustCompile(`Status update for node n2|Link n2:[^ ]+ up|Heartbeat restart on node n2|asks to outdate|drbdadm outdate`)); s != "" {
		bad = append(bad, "n1 logged:\n"+s)
	}
	if d := fileText(h.drbdCalls("n1")); len(d) > before.drbd["n1"] {
		bad = append(bad, fmt.Sprintf("drbdadm ran on n1: %q", d[before.drbd["n1"]:]))
	}
	if deadAfter > 4500*time.Millisecond {
		bad = append(bad, fmt.Sprintf("n2 declared dead %v after n1's start, want about initdead (3 s)", deadAfter))
	}
	t.Logf("%d packets replayed; n2 declared dead %v after n1's start", sent, deadAfter.Round(time.Millisecond))
	if len(bad) > 0 {
		h.changed = append(h.changed, "n2's traffic during n1's restart after its crash, n2 alive at the crash")
		t.Errorf("n1 took n2's replayed traffic for a live n2 after its own crash:\n%s", strings.Join(bad, "\n"))
	}
	t.Logf("HOSTILE SUMMARY (own crash): %d attacks tried, %d changed anything%s", h.tried, len(h.changed), listIfAny(h.changed))
}

// replayLoop replays all of first once, then tail at its original pace
// over and over, until the returned stop is called; stop returns how many
// packets were sent.
func replayLoop(a *attacker, first, tail []capPkt) (stop func() int) {
	quit, done := make(chan struct{}), make(chan int)
	go func() {
		sent := a.replay(first, false)
		for {
			select {
			case <-quit:
				done <- sent
				return
			default:
			}
			sent += a.replay(tail, true)
		}
	}()
	return func() int { close(quit); return <-done }
}
