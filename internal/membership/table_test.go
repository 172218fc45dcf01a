package membership

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

func TestConfigValidation(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"local missing":     func(c *Config) { c.Local = "pa9" },
		"upper case":        func(c *Config) { c.Nodes = []string{"pa1", "PA2"} },
		"duplicate node":    func(c *Config) { c.Nodes = []string{"pa1", "pa1"} },
		"no media":          func(c *Config) { c.Links = nil },
		"deadtime too low":  func(c *Config) { c.Deadtime = 2 * time.Second },
		"initdead too low":  func(c *Config) { c.Initdead = time.Second },
		"warntime too high": func(c *Config) { c.Warntime = 6 * time.Second },
		"generation zero":   func(c *Config) { c.Generation = 0 },
		"no rexmit delay":   func(c *Config) { c.MaxRexmitDelay = 0 },
	} {
		c := labConfig("pa1")
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
	if _, err := New(labConfig("pa1")); err != nil {
		t.Fatalf("lab config rejected: %v", err)
	}
}

// The first three packets of A-main: status init seq 1, up seq 2, up seq 3,
// all advertising dt=1b58 (deadtime + 2000 ms), in Heartbeat's field order.
func TestStartSendsInitThenUp(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	acts := r.start()
	st := transmits(acts, "status")
	if len(st) != 3 {
		t.Fatalf("got %d status messages, want 3", len(st))
	}
	for i, want := range []string{"init", "up", "up"} {
		m := st[i]
		if got := fieldNames(m); got != "t st dt protocol src srcuuid seq hg ts ld ttl" {
			t.Fatalf("field order %q", got)
		}
		if m.Value("st") != want || m.Value("seq") != string(rune('1'+i)) {
			t.Errorf("status %d: st=%s seq=%s", i, m.Value("st"), m.Value("seq"))
		}
		if m.Value("dt") != "1b58" || m.Value("protocol") != "1" || m.Value("ttl") != "3" ||
			m.Value("hg") != "6b02481e" || m.Value("src") != "pa1" ||
			m.Value("ts") != "6b02481d" || m.Value("ld") != "0.01 0.07 0.08 1/109 24690" {
			t.Errorf("status %d fields: %v", i, m.Fields)
		}
		if u, _ := m.Binary("srcuuid"); [16]byte(u) != uuids["pa1"] {
			t.Errorf("srcuuid %x", u)
		}
	}
	r.wantLog(acts, "info: Local status now set to: 'up'")
	if r.tb.LocalStatus() != StatusUp {
		t.Errorf("local status %s", r.tb.LocalStatus())
	}
}

func TestKeepaliveAndStartupDeadtime(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	r.start()
	acts := r.advance(4 * time.Second)
	if n := len(transmits(acts, "status")); n != 4 {
		t.Fatalf("%d status messages in 4 s, want 4", n)
	}
	acts = r.advance(2 * time.Second)
	st := transmits(acts, "status")
	// t=5 s: the keepalive and the dt drop (two statuses), t=6 s: keepalive.
	var dts []string
	for _, m := range st {
		dts = append(dts, m.Value("dt"))
	}
	if strings.Join(dts, ",") != "1b58,1388,1388" {
		t.Fatalf("dt sequence %v", dts)
	}
}

// With initdead 10 s and nobody else alive, the node declares the peer dead
// and goes active by itself, without reqnodes.
func TestAloneGoesActiveAfterInitdead(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	r.start()
	acts := r.advance(10 * time.Second)
	if _, ok := findAction[NodeStatus](acts); ok {
		t.Fatalf("peer declared dead before initdead")
	}
	acts = r.advance(300 * time.Millisecond)
	r.wantLog(acts, "WARN: node pa2: is dead")
	r.wantLog(acts, "info: Comm_now_up(): updating status to active")
	if _, ok := findAction[CommUp](acts); !ok {
		t.Fatalf("no CommUp")
	}
	if len(transmits(acts, "reqnodes")) != 0 {
		t.Fatalf("reqnodes sent while alone")
	}
	if r.tb.LocalStatus() != StatusActive {
		t.Fatalf("local status %s", r.tb.LocalStatus())
	}
	if st := transmits(acts, "status"); len(st) == 0 || st[len(st)-1].Value("st") != "active" {
		t.Fatalf("no active status sent")
	}
}

// The A-main join: peer status brings its links up, reqnodes goes to it
// (with destuuid) every second until repnodes arrives; then we go active.
func TestJoinWithReqnodes(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	p := newPeer(r, "pa2")
	r.start()
	r.advance(2 * time.Second)
	acts := r.recvBoth(p.status("init", 7000))
	r.wantLog(acts, "info: Link pa2:eth1 up.")
	r.wantLog(acts, "info: Link pa2:eth2 up.")
	// Nodes start as init, so a peer's init status is no change (A-main:
	// pa1 logs only "status up" for pa2).
	r.noLog(acts, "Status update")
	req := transmits(acts, "reqnodes")
	if len(req) != 1 {
		t.Fatalf("want one reqnodes, got %d", len(req))
	}
	if got := fieldNames(req[0]); got != "t dest destuuid src srcuuid seq hg ts ld ttl" {
		t.Fatalf("reqnodes fields %q", got)
	}
	acts = r.advance(1050 * time.Millisecond)
	if len(transmits(acts, "reqnodes")) != 1 {
		t.Fatalf("reqnodes not repeated after 1 s")
	}
	rep := &wire.Message{}
	rep.Set("dest", "pa1")
	rep.Set("t", "repnodes")
	rep.Set("nodelist", "pa1 pa2 ")
	rep.Set("delnodelist", " ")
	p.seq++
	rep.Set("src", "pa2")
	rep.Set("seq", "2")
	rep.Set("hg", "6b024820")
	rep.Set("ts", "6b024822")
	acts = r.recv("eth1", rep)
	r.wantLog(acts, "info: Comm_now_up(): updating status to active")
	if _, ok := findAction[CommUp](acts); !ok {
		t.Fatal("no CommUp")
	}
	acts = r.advance(3 * time.Second)
	if len(transmits(acts, "reqnodes")) != 0 {
		t.Fatal("reqnodes repeated after repnodes")
	}
	if got := r.tb.Nodes(); got[1].Status != "init" || got[0].Status != "active" {
		t.Fatalf("nodes %+v", got)
	}
}

func TestAnswersReqnodesWithAllNodes(t *testing.T) {
	r := newRig(t, labConfig("pa1", "pa1", "pa2", "pa3"))
	p := newPeer(r, "pa2")
	r.start()
	acts := r.recv("eth1", p.msg("reqnodes", "dest", "pa1"))
	rep := transmits(acts, "repnodes")
	if len(rep) != 1 {
		t.Fatalf("no repnodes")
	}
	if got := fieldNames(rep[0]); got != "dest t nodelist delnodelist destuuid src srcuuid seq hg ts ld ttl" {
		t.Fatalf("repnodes fields %q", got)
	}
	if rep[0].Value("nodelist") != "pa1 pa2 pa3 " || rep[0].Value("delnodelist") != " " || rep[0].Value("dest") != "pa2" {
		t.Fatalf("repnodes %v", rep[0].Fields)
	}
	if rep[0].Value("ttl") != "4" {
		t.Fatalf("ttl %s with 3 nodes and hopfudge 1", rep[0].Value("ttl"))
	}
}

// steadyPair returns a rig whose peer pa2 is active and heard on both links.
func steadyPair(t *testing.T) (*rig, *peer) {
	r := newRig(t, labConfig("pa1"))
	p := newPeer(r, "pa2")
	r.start()
	r.recvBoth(p.status("up", 7000))
	r.recvBoth(p.status("active", 5000))
	r.recvBoth(p.msg("repnodes", "dest", "pa1", "nodelist", "pa1 pa2 ", "delnodelist", " "))
	if r.tb.LocalStatus() != StatusActive {
		t.Fatalf("setup: local status %s", r.tb.LocalStatus())
	}
	return r, p
}

func TestLateHeartbeatWarnThenCritDead(t *testing.T) {
	r, p := steadyPair(t)
	r.advance(3480 * time.Millisecond)
	acts := r.recvBoth(p.status("active", 5000))
	r.wantLog(acts, "WARN: Late heartbeat: Node pa2: interval 3480 ms")
	r.noLog(acts, "is dead")

	// Interval beyond deadtime but before the 250 ms dead check ran: only
	// possible if we were not stepped; skip the ticks by jumping time.
	r.now = r.now.Add(5100 * time.Millisecond)
	acts = r.recvBoth(p.status("active", 5000))
	r.wantLog(acts, "CRIT: Late heartbeat: Node pa2: interval 5100 ms (> deadtime)")
	r.wantLog(acts, "WARN: node pa2: is dead")
	r.wantLog(acts, "info: Status update for node pa2: status active")
}

// Peers are judged by THEIR advertised dt; detection runs every 250 ms.
func TestDeadByAdvertisedDeadtime(t *testing.T) {
	r, p := steadyPair(t)
	r.recvBoth(p.status("active", 8000)) // peer advertises 8 s
	acts := r.advance(7900 * time.Millisecond)
	r.noLog(acts, "is dead")
	// Links are judged by our own deadtime (5 s), as Heartbeat does in
	// G-partition; the node by the 8 s it advertised.
	r.wantLog(acts, "info: Link pa2:eth1 dead.")
	r.wantLog(acts, "info: Link pa2:eth2 dead.")
	acts = r.advance(600 * time.Millisecond)
	r.wantLog(acts, "WARN: node pa2: is dead")
	ns, _ := findAction[NodeStatus](acts)
	if ns.Node != "pa2" || ns.Old != "active" || ns.New != "dead" || ns.Msg.Value("st") != "dead" || ns.Msg.Value("src") != "pa2" {
		t.Fatalf("NodeStatus %+v", ns)
	}
}

// A-main 05: with equal dead times the node's death is logged before its
// links'.
func TestDeadLoggedBeforeLinks(t *testing.T) {
	r, _ := steadyPair(t)
	acts := r.advance(6 * time.Second)
	want := "WARN: node pa2: is dead\ninfo: Link pa2:eth1 dead.\ninfo: Link pa2:eth2 dead."
	if got := strings.Join(logs(acts), "\n"); got != want {
		t.Fatalf("logs:\n%s", got)
	}
}

func TestOneLinkCutNodeStaysUp(t *testing.T) {
	r, p := steadyPair(t)
	var acts []Action
	for i := 0; i < 8; i++ {
		acts = append(acts, r.advance(time.Second)...)
		acts = append(acts, r.recv("eth1", p.status("active", 5000))...)
	}
	r.wantLog(acts, "info: Link pa2:eth2 dead.")
	r.noLog(acts, "Link pa2:eth1 dead")
	r.noLog(acts, "is dead")
	if got := r.tb.Links("pa2"); got[0].Status != "up" || got[1].Status != "dead" {
		t.Fatalf("links %+v", got)
	}
	// The link comes back with the next packet on it.
	acts = r.recv("eth2", p.status("active", 5000))
	r.wantLog(acts, "info: Link pa2:eth2 up.")
}

func TestOwnLinksComeUpFromLoopback(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	acts := r.start()
	st := transmits(acts, "status")
	// The shell feeds our own broadcast back: a duplicate of the last one.
	acts = r.recv("eth1", st[len(st)-1])
	r.wantLog(acts, "info: Link pa1:eth1 up.")
	if r.tb.Stats().Duplicates != 1 {
		t.Fatalf("stats %+v", r.tb.Stats())
	}
	// An older own packet coming back is dropped and does not refresh eth2.
	acts = r.recv("eth2", st[0])
	r.noLog(acts, "Link pa1:eth2")
}

func TestGenerationReplayAndRestart(t *testing.T) {
	r, p := steadyPair(t)
	old := &peer{name: "pa2", gen: p.gen - 1, seq: 100, now: p.now}
	acts := r.recv("eth1", old.status("active", 5000))
	r.wantLog(acts, "ERROR: should_drop_message: attempted replay attack [pa2]? [gen = 1795311647, curgen = 1795311648]")
	if r.tb.Stats().Replays != 1 {
		t.Fatalf("stats %+v", r.tb.Stats())
	}

	p.gen++
	p.seq = 0
	acts = r.recv("eth1", p.status("init", 7000))
	r.wantLog(acts, "info: Heartbeat restart on node pa2")
	r.wantLog(acts, "info: Status update for node pa2: status init")
	r.noLog(acts, "lost packet")
	if _, ok := findAction[PeerRestarted](acts); !ok {
		t.Fatal("no PeerRestarted")
	}
	acts = r.recv("eth1", p.status("up", 7000))
	r.wantLog(acts, "info: Status update for node pa2: status up")
}

// G-partition 03 as seen by pa1: the peer was declared dead, then its status
// arrives with the same generation and a newer seq.
func TestPartitionHeal(t *testing.T) {
	r, p := steadyPair(t)
	acts := r.advance(6 * time.Second)
	r.wantLog(acts, "WARN: node pa2: is dead")
	acts = r.recv("eth1", p.status("active", 5000))
	want := []string{
		"CRIT: Cluster node pa2 returning after partition.",
		"info: For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain",
		"WARN: Deadtime value may be too small.",
		"info: See FAQ for information on tuning deadtime.",
		"info: URL: http://linux-ha.org/wiki/FAQ#Heavy_Load",
		"info: Link pa2:eth1 up.",
		"CRIT: Late heartbeat: Node pa2: interval 6000 ms (> deadtime)",
		"WARN: node pa2: is dead",
		"info: Status update for node pa2: status active",
	}
	if got := strings.Join(logs(acts), "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("logs:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if _, ok := findAction[PartitionHealed](acts); !ok {
		t.Fatal("no PartitionHealed")
	}
	if len(transmits(acts, "status")) != 1 {
		t.Fatal("no status sent on partition heal")
	}
	// A stale status (older seq) from a dead node is dropped silently.
	r.advance(6 * time.Second)
	acts = r.recv("eth1", p.msgSeq(2, "status", "st", "active", "dt", "1388", "protocol", "1"))
	if len(logs(acts)) != 0 {
		t.Fatalf("stale status produced %v", logs(acts))
	}
}

func TestDuplicatesAndOldPackets(t *testing.T) {
	r, p := steadyPair(t)
	before := r.tb.Stats()
	m := p.msg("resource", "rsc_hold", "none")
	a := r.recv("eth1", m)
	b := r.recv("eth2", m.Clone())
	if d, ok := findAction[Deliver](a); !ok || d.Msg.Value("rsc_hold") != "none" || d.Link != "eth1" {
		t.Fatalf("first copy not delivered: %v", a)
	}
	if _, ok := findAction[Deliver](b); ok {
		t.Fatal("duplicate delivered")
	}
	p.msg("resource") // seq consumed but lost
	r.recv("eth1", p.msg("resource"))
	acts := r.recv("eth1", p.msgSeq(1, "resource"))
	if _, ok := findAction[Deliver](acts); ok {
		t.Fatal("old packet delivered")
	}
	s := r.tb.Stats()
	if s.Duplicates-before.Duplicates != 1 || s.OldDropped-before.OldDropped != 1 || s.Lost-before.Lost != 1 {
		t.Fatalf("stats before %+v after %+v", before, s)
	}
}

// A-main 03: a reordering between the links gives "1 lost packet(s)" then
// "No pkts missing"; the late message is still delivered and no NS_rexmit is
// sent because it arrived within 50 ms.
func TestReorderingTolerated(t *testing.T) {
	r, p := steadyPair(t)
	for p.seq < 70 {
		r.recvBoth(p.msg("resource"))
	}
	m71 := p.msg("resource", "n", "71")
	m72 := p.msg("resource", "n", "72")
	acts := r.recv("eth1", m72)
	r.wantLog(acts, "WARN: 1 lost packet(s) for [pa2] [70:72]")
	acts = append(r.recv("eth2", m71), r.advance(40*time.Millisecond)...)
	r.wantLog(acts, "info: No pkts missing from pa2!")
	d, ok := findAction[Deliver](acts)
	if !ok || d.Msg.Value("n") != "71" {
		t.Fatalf("missing message not delivered")
	}
	acts = r.advance(time.Second)
	if len(transmits(acts, "NS_rexmit")) != 0 {
		t.Fatal("rexmit requested for a message that arrived")
	}
}

func TestRexmitRequestedAndRepeated(t *testing.T) {
	r, p := steadyPair(t)
	p.msg("resource") // lost
	start := r.now
	r.recvBoth(p.msg("resource"))
	var first time.Time
	var reqs []*wire.Message
	for i := 0; i < 100 && len(reqs) < 3; i++ {
		acts := r.advance(10 * time.Millisecond)
		for _, m := range transmits(acts, "NS_rexmit") {
			if first.IsZero() {
				first = r.now
			}
			reqs = append(reqs, m)
		}
	}
	if len(reqs) < 3 {
		t.Fatalf("only %d requests in 1 s", len(reqs))
	}
	if d := first.Sub(start); d < 50*time.Millisecond || d > 260*time.Millisecond {
		t.Fatalf("first request after %v, want 50..250 ms", d)
	}
	m := reqs[0]
	if got := fieldNames(m); got != "t dest firstseq lastseq destuuid src srcuuid hg ts ttl" {
		t.Fatalf("NS_rexmit fields %q", got)
	}
	// seq 4 (hex "4") — decimal 4 on the wire; use a bigger one below.
	if m.Value("dest") != "pa2" || m.Value("firstseq") != "4" || m.Value("lastseq") != "4" {
		t.Fatalf("NS_rexmit %v", m.Fields)
	}
	// Now the retransmission arrives: requests stop.
	r.recv("eth1", p.msgSeq(4, "resource"))
	acts := r.advance(time.Second)
	if len(transmits(acts, "NS_rexmit")) != 0 {
		t.Fatal("requests continue after the message arrived")
	}

	// Decimal, not hex: seq 0x1a is requested as 26.
	for p.seq < 0x18 {
		r.recvBoth(p.msg("resource"))
	}
	p.msg("resource") // 0x19 lost
	r.recvBoth(p.msg("resource"))
	acts = r.advance(300 * time.Millisecond)
	req := transmits(acts, "NS_rexmit")
	if len(req) == 0 || req[0].Value("firstseq") != "25" {
		t.Fatalf("request for seq 0x19: %v", req)
	}
}

func TestNakStopsRequests(t *testing.T) {
	r, p := steadyPair(t)
	p.msg("resource") // seq 4 lost
	r.recvBoth(p.msg("resource"))
	acts := r.recv("eth1", p.msg("NS_nak_rexmit", "firstseq", "4", "dest", "pa1", "info", "seqno too low"))
	r.wantLog(acts, "ERROR: Irretrievably lost packet: node pa2 seq 4")
	r.wantLog(acts, "info: No pkts missing from pa2!")
	acts = r.advance(time.Second)
	if len(transmits(acts, "NS_rexmit")) != 0 {
		t.Fatal("still asking after NAK")
	}
}

func TestLostALotResets(t *testing.T) {
	r, p := steadyPair(t)
	p.seq += 300
	acts := r.recv("eth1", p.msg("resource"))
	r.wantLog(acts, "WARN: 300 lost packet(s) for [pa2] [3:304]")
	r.wantLog(acts, "ERROR: lost a lot of packets!")
	acts = r.advance(time.Second)
	if len(transmits(acts, "NS_rexmit")) != 0 {
		t.Fatal("asked for packets after reset")
	}
	acts = r.recv("eth1", p.msg("resource"))
	r.noLog(acts, "lost")
}

func TestServeRexmit(t *testing.T) {
	r, p := steadyPair(t)
	var sent []*wire.Message
	for i := 0; i < 10; i++ {
		acts := r.step(Send{Msg: wire.New("resource")})
		sent = append(sent, transmits(acts, "resource")...)
	}
	want := sent[3]
	v, _ := parseHex(want.Value("seq"))
	seqDec := strconv.FormatUint(v, 10) // NS_rexmit numbers are decimal
	ask := func() []Action {
		return r.recv("eth1", p.msg("NS_rexmit", "dest", "pa1", "firstseq", seqDec, "lastseq", seqDec))
	}
	acts := ask()
	got := transmits(acts, "resource")
	if len(got) != 1 || fieldNames(got[0]) != fieldNames(want) || got[0].Value("seq") != want.Value("seq") || got[0].Value("ts") != want.Value("ts") {
		t.Fatalf("retransmission %v, want %v", got, want.Fields)
	}
	if len(transmits(ask(), "resource")) != 0 {
		t.Fatal("re-sent twice within 240 ms")
	}
	r.advance(250 * time.Millisecond)
	if len(transmits(ask(), "resource")) != 1 {
		t.Fatal("not re-sent after 240 ms")
	}
	// Above our highest seq: only a warning.
	acts = r.recv("eth1", p.msg("NS_rexmit", "dest", "pa1", "firstseq", "9999", "lastseq", "9999"))
	if len(transmits(acts, "")) != 0 || len(logs(acts)) != 1 || !strings.HasPrefix(logs(acts)[0], "WARN: Rexmit of seq 9999 requested.") {
		t.Fatalf("above max: %v", logs(acts))
	}
	// Garbage range.
	acts = r.recv("eth1", p.msg("NS_rexmit", "dest", "pa1", "firstseq", "x", "lastseq", "3"))
	r.wantLog(acts, "ERROR: Invalid rexmit seqnos")
	// Addressed to another node: not ours to serve.
	acts = r.recv("eth1", p.msg("NS_rexmit", "dest", "pa3", "firstseq", seqDec, "lastseq", seqDec))
	if len(transmits(acts, "")) != 0 {
		t.Fatal("served a request addressed to another node")
	}
}

func TestServeRexmitNakTooLow(t *testing.T) {
	r, p := steadyPair(t)
	for i := 0; i < historySize+20; i++ {
		r.step(Send{Msg: wire.New("resource")})
	}
	acts := r.recv("eth1", p.msg("NS_rexmit", "dest", "pa1", "firstseq", "5", "lastseq", "5"))
	nak := transmits(acts, "NS_nak_rexmit")
	if len(nak) != 1 {
		t.Fatalf("no NAK: %v", logs(acts))
	}
	if got := fieldNames(nak[0]); got != "t firstseq dest info destuuid src srcuuid hg ts ttl" {
		t.Fatalf("nak fields %q", got)
	}
	if nak[0].Value("firstseq") != "5" || nak[0].Value("info") != "seqno too low" || nak[0].Value("dest") != "pa2" {
		t.Fatalf("nak %v", nak[0].Fields)
	}
	r.wantLog(acts, "ERROR: Cannot rexmit pkt 5 for pa2: seqno too low")
	// A huge range is bounded to 50 answers.
	acts = r.recv("eth1", p.msg("NS_rexmit", "dest", "pa1", "firstseq", "1", "lastseq", "100000"))
	if n := len(transmits(acts, "")); n > maxRexmitBatch+1 {
		t.Fatalf("%d messages for one request", n)
	}
}

func TestAcksOnTrigger(t *testing.T) {
	r, p := steadyPair(t)
	trigger := r.tb.byName["pa2"].track.ackTrigger
	var acks []*wire.Message
	for p.seq < 40 {
		acks = append(acks, transmits(r.recvBoth(p.msg("resource")), "NS_ackmsg")...)
	}
	if len(acks) < 3 {
		t.Fatalf("%d acks for 37 messages", len(acks))
	}
	for _, a := range acks {
		v, ok := parseHex(a.Value("ackseq"))
		if !ok || v%10 != trigger || a.Value("dest") != "pa2" {
			t.Fatalf("ack %v (trigger %d)", a.Fields, trigger)
		}
		if got := fieldNames(a); got != "t dest ackseq destuuid src srcuuid hg ts ttl" {
			t.Fatalf("ack fields %q", got)
		}
	}
}

func TestDestForOtherNodeAdvancesSeq(t *testing.T) {
	r := newRig(t, labConfig("pa1", "pa1", "pa2", "pa3"))
	p := newPeer(r, "pa2")
	r.start()
	r.recv("eth1", p.status("up", 5000))
	acts := r.recv("eth1", p.msg("ip-request-resp", "dest", "pa3", "ipaddr", "10.0.0.1"))
	if _, ok := findAction[Deliver](acts); ok {
		t.Fatal("message for pa3 delivered to pa1")
	}
	if o, ok := findAction[Overheard](acts); !ok || o.Msg.Value("dest") != "pa3" {
		t.Fatalf("message for pa3 not reported as overheard: %v", acts)
	}
	acts = r.recv("eth1", p.msg("ip-request", "ipaddr", "10.0.0.1"))
	if _, ok := findAction[Overheard](acts); ok {
		t.Fatal("a message for everybody reported as overheard")
	}
	r.noLog(acts, "lost")
	if _, ok := findAction[Deliver](acts); !ok {
		t.Fatal("next message not delivered")
	}
	if r.tb.Stats().NotForUs != 1 {
		t.Fatalf("stats %+v", r.tb.Stats())
	}
}

func TestBadMessagesDropped(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	p := newPeer(r, "pa2")
	r.start()
	stranger := &peer{name: "px", gen: 1, now: p.now}
	acts := r.recv("eth1", stranger.status("active", 5000))
	r.wantLog(acts, "ERROR: process_status_message: bad node [px] in message")

	for _, del := range []string{"src", "ts", "t"} {
		m := p.msg("resource")
		m.Del(del)
		r.wantLog(r.recv("eth1", m), "ERROR: process_clustermsg: missing from/ts/type: iface eth1, from "+map[bool]string{true: "<?>", false: "pa2"}[del == "src"])
	}
	m := p.msg("resource")
	m.Del("seq")
	r.wantLog(r.recv("eth1", m), "ERROR: process_clustermsg: missing seqno: iface eth1, from pa2")
	m = p.msg("resource")
	m.Set("seq", "zz")
	r.wantLog(r.recv("eth1", m), "ERROR: process_clustermsg: has bad cseq: iface eth1, from pa2")
	m = p.msg("resource")
	m.Set("ts", "0")
	acts = r.recv("eth1", m)
	if len(acts) != 0 {
		t.Fatalf("ts=0 produced %v", acts)
	}
	acts = r.recv("eth1", p.msg("status", "st", "bogus"))
	r.wantLog(acts, "ERROR: HBDoMsg_T_STATUS: unknown status [bogus] from node pa2")
	s := r.tb.Stats()
	if s.UnknownNode != 1 || s.Malformed != 7 {
		t.Fatalf("stats %+v", s)
	}
	if acts := r.step(Received{Msg: nil, Link: "eth1"}); len(acts) != 0 {
		t.Fatal("nil message produced actions")
	}
}

func TestSendAddsFieldsAndLoopsBack(t *testing.T) {
	r, _ := steadyPair(t)
	// dopd puts src early; Heartbeat modifies it in place.
	m := wire.New("start_outdate")
	m.Set("src", "pa1")
	m.Set("dop_res", "r0")
	m.Set("dest", "pa2")
	acts := r.step(Send{Msg: m})
	tx := transmits(acts, "start_outdate")
	if len(tx) != 1 {
		t.Fatalf("transmits %v", acts)
	}
	if got := fieldNames(tx[0]); got != "t src dop_res dest destuuid srcuuid seq hg ts ld ttl" {
		t.Fatalf("fields %q", got)
	}
	if len(m.Fields) != 4 {
		t.Fatal("caller's message modified")
	}
	// A message for everybody is delivered to ourselves too (loopback).
	acts = r.step(Send{Msg: wire.New("hb_takeover")})
	d, ok := findAction[Deliver](acts)
	if !ok || d.Link != "" || d.Msg.Value("src") != "pa1" {
		t.Fatalf("own message not delivered: %v", acts)
	}
}

func TestShutdown(t *testing.T) {
	r, p := steadyPair(t)
	acts := r.step(Shutdown{Restart: true})
	sd := transmits(acts, "shutdone")
	if len(sd) != 1 || sd[0].Value("st") != "dead" {
		t.Fatalf("shutdone %v", acts)
	}
	st := transmits(acts, "status")
	if len(st) != 1 || st[0].Value("dt") != "88b8" {
		t.Fatalf("restart status %v", st)
	}
	acts = r.recv("eth1", p.msg("shutdone", "st", "dead"))
	r.wantLog(acts, "info: Received shutdown notice from 'pa2'.")
	if ps, ok := findAction[PeerShutdown](acts); !ok || ps.Node != "pa2" {
		t.Fatal("no PeerShutdown")
	}
}

func TestFlowControlDisabledByOldPeer(t *testing.T) {
	r := newRig(t, labConfig("pa1"))
	p := newPeer(r, "pa2")
	r.start()
	acts := r.recv("eth1", p.msg("status", "st", "active", "dt", "1388"))
	r.wantLog(acts, "info: flow control disabled due to different version heartbeat")
	r.wantLog(acts, "info: Comm_now_up(): updating status to active")
	if len(transmits(acts, "reqnodes")) != 0 {
		t.Fatal("reqnodes sent to an old peer")
	}
}
