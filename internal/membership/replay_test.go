package membership

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// A peer that stayed up while we restarted goes on with the same
// generation and higher seqs: taken at once, without a restart line, and
// its record moves with it.
func TestRecordsLetLivePeerContinue(t *testing.T) {
	cfg := labConfig("pa1")
	cfg.PeerRecords = map[string]PeerRecord{"pa2": {Gen: 0x6b024820, Seq: 20}}
	r := newRig(t, cfg)
	p := newPeer(r, "pa2")
	p.seq = 20
	r.start()
	acts := r.recvBoth(p.status("active", 5000))
	r.noLog(acts, "restart")
	r.noLog(acts, "replay")
	if ns, ok := findAction[NodeStatus](acts); !ok || ns.New != StatusActive {
		t.Fatalf("peer not taken: %v", logs(acts))
	}
	if pp, ok := findAction[PersistPeer](acts); ok && !pp.Periodic {
		t.Fatal("stored again although the generation is the stored one")
	}
	acts = r.recvBoth(p.msg("resource", "rsc_hold", "all"))
	if _, ok := findAction[Deliver](acts); !ok {
		t.Fatal("message not delivered")
	}
	if got := r.tb.Records(); len(got) != 1 || got["pa2"] != (PeerRecord{0x6b024820, 22}) {
		t.Fatalf("Records %v", got)
	}
}

// Records of unknown nodes, of ourselves and of generation 0 are ignored.
func TestRecordsIgnoredWhenMeaningless(t *testing.T) {
	cfg := labConfig("pa1")
	cfg.PeerRecords = map[string]PeerRecord{"pa9": {5, 5}, "pa1": {0xffffffff, 5}, "pa2": {0, 99}}
	r := newRig(t, cfg)
	p := newPeer(r, "pa2")
	r.start()
	acts := r.recvBoth(p.status("up", 7000))
	if _, ok := findAction[NodeStatus](acts); !ok {
		t.Fatalf("peer refused: %v", logs(acts))
	}
	if st := transmits(r.all, "status"); st[0].Value("hg") != strconv.FormatUint(cfg.Generation, 16) {
		t.Fatal("own generation changed")
	}
	if got := r.tb.Records(); len(got) != 1 || got["pa2"].Gen != p.gen {
		t.Fatalf("Records %v", got)
	}
}

// PersistPeer: at a peer's first status of a generation, at its shutdone,
// at its death; never twice for the same record.
func TestPersistPeerWhenItMatters(t *testing.T) {
	r, p := steadyPair(t)
	if got := persisted(r.all); got != "pa2:6b024820:1" {
		t.Fatalf("at first contact: %s", got)
	}
	r.recvBoth(p.msg("resource", "rsc_hold", "none"))
	acts := r.recvBoth(p.msg("shutdone", "st", "dead"))
	if got := persisted(acts); got != "pa2:6b024820:5" {
		t.Fatalf("at shutdone: %q", got)
	}
	r.recvBoth(p.status("active", 5000))
	acts = r.advance(6 * time.Second)
	if got := persisted(acts); got != "pa2:6b024820:6" {
		t.Fatalf("at death: %q", got)
	}
	acts = r.advance(6 * time.Second)
	if got := persisted(acts); got != "" {
		t.Fatalf("stored again: %q", got)
	}
	p.gen++
	p.seq = 0
	acts = r.recvBoth(p.status("init", 7000))
	if got := persisted(acts); got != "pa2:6b024821:1" {
		t.Fatalf("at restart: %q", got)
	}
}

func persisted(acts []Action) string {
	var out []string
	for _, a := range acts {
		if p, ok := a.(PersistPeer); ok && !p.Periodic {
			out = append(out, p.Node+":"+strconv.FormatUint(p.Gen, 16)+":"+strconv.FormatUint(p.Seq, 10))
		}
	}
	return strings.Join(out, " ")
}

// A message other than status from a generation no status has announced
// is not taken: it would share the old generation's seq window.
func TestUnannouncedGenerationRefused(t *testing.T) {
	r, p := steadyPair(t)
	p.gen++
	p.seq = 2 // the old generation's seq 4 would be next in order
	p.msg("status")
	acts := r.recvBoth(p.msg("hb_takeover", "rsc_hold", "all"))
	if _, ok := findAction[Deliver](acts); ok || r.tb.Stats().Stale != 2 {
		t.Fatalf("taken: %v, stats %+v", acts, r.tb.Stats())
	}
	acts = r.recvBoth(p.status("up", 7000))
	r.wantLog(acts, "info: Heartbeat restart on node pa2")
	acts = r.recvBoth(p.msg("hb_takeover", "rsc_hold", "all"))
	if _, ok := findAction[Deliver](acts); !ok {
		t.Fatal("not taken once the generation was announced")
	}
}

// NS_ messages must carry the peer's current generation: without hg, or
// with an older or newer one, they are refused, and do not refresh links.
func TestNSNeedsCurrentGeneration(t *testing.T) {
	r, p := steadyPair(t)
	for i := 0; i < 3; i++ {
		r.step(Send{Msg: wire.New("resource")})
	}
	r.advance(time.Second)
	ask := func(hg string) []Action {
		m := p.msg("NS_rexmit", "dest", "pa1", "firstseq", "6", "lastseq", "6")
		if hg == "" {
			m.Fields = deleteField(m.Fields, "hg")
		} else {
			m.Set("hg", hg)
		}
		return r.recv("eth1", m)
	}
	for _, hg := range []string{"", "6b02481f", "6b024821", "0"} {
		if acts := ask(hg); len(transmits(acts, "")) != 0 {
			t.Fatalf("hg %q served", hg)
		}
	}
	if acts := ask("6b024820"); len(transmits(acts, "resource")) != 1 {
		t.Fatal("current generation not served")
	}
	nak := p.msg("NS_nak_rexmit", "firstseq", "4", "dest", "pa1", "info", "seqno too low")
	nak.Set("hg", "6b02481f")
	r.noLog(r.recv("eth1", nak), "Irretrievably")
	if r.tb.Stats().Stale != 5 {
		t.Fatalf("stats %+v", r.tb.Stats())
	}
}

func deleteField(fs []wire.Field, name string) []wire.Field {
	out := fs[:0]
	for _, f := range fs {
		if f.Name != name {
			out = append(out, f)
		}
	}
	return out
}

// A request beyond our highest seq, replayed: no answer, a bounded number
// of lines.
func TestRexmitAboveMaxReplayedBoundedLogs(t *testing.T) {
	r, p := steadyPair(t)
	m := p.msg("NS_rexmit", "dest", "pa1", "firstseq", "9999", "lastseq", "9999")
	var acts []Action
	for i := 0; i < 1000; i++ {
		acts = append(acts, r.recv("eth1", m.Clone())...)
	}
	if n := len(transmits(acts, "")); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
	if n := len(logs(acts)); n != logBurst {
		t.Fatalf("%d log lines: %v", n, logs(acts))
	}
	r.wantLog(acts, "WARN: Rexmit of seq 9999 requested. 5 is max.")
	// The next line after the pause counts what was left out.
	r.recvBoth(p.status("active", 5000))
	r.now = r.now.Add(logEvery)
	acts = r.recv("eth1", m.Clone())
	r.wantLog(acts, "WARN: 995 log line(s) about packets from pa2 suppressed (rate limit)")
}

// Retransmissions: 50 at once, then 50 a second; a request refused for
// budget is answered when asked again.
func TestRexmitBudget(t *testing.T) {
	r, p := steadyPair(t)
	for i := 0; i < 200; i++ {
		r.step(Send{Msg: wire.New("resource")})
	}
	ask := func(first, last int) int {
		m := p.msg("NS_rexmit", "dest", "pa1", "firstseq", strconv.Itoa(first), "lastseq", strconv.Itoa(last))
		return len(transmits(r.recv("eth1", m), "resource"))
	}
	if n := ask(10, 200); n != maxRexmitBatch {
		t.Fatalf("first request: %d", n)
	}
	if n := ask(100, 100); n != 0 {
		t.Fatalf("budget spent, still %d", n)
	}
	r.now = r.now.Add(rexmitEvery)
	if n := ask(100, 101); n != 1 {
		t.Fatalf("after %v: %d", rexmitEvery, n)
	}
	r.now = r.now.Add(time.Second)
	if n := ask(110, 200); n != maxRexmitBatch {
		t.Fatalf("after a second: %d", n)
	}
	if s := r.tb.Stats(); s.RexmitLimited != 2 || s.Retransmitted != 2*maxRexmitBatch+1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTokenBucket(t *testing.T) {
	var b tokenBucket
	now := t0
	for i := 0; i < 3; i++ {
		if !b.take(now, 3, time.Second) {
			t.Fatalf("take %d of the burst refused", i)
		}
	}
	if b.take(now, 3, time.Second) {
		t.Fatal("a fourth at once")
	}
	if b.take(now.Add(999*time.Millisecond), 3, time.Second) {
		t.Fatal("refilled early")
	}
	if !b.take(now.Add(time.Second), 3, time.Second) || b.take(now.Add(time.Second), 3, time.Second) {
		t.Fatal("not exactly one after a second")
	}
	// A long pause refills to the burst, no further.
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if !b.take(now, 3, time.Second) {
			t.Fatalf("take %d after an hour refused", i)
		}
	}
	if b.take(now, 3, time.Second) {
		t.Fatal("saved up beyond the burst")
	}
	// Time going backwards (it must not, but) refills nothing.
	if b.take(now.Add(-time.Minute), 3, time.Second) {
		t.Fatal("refilled by a clock going back")
	}
}

// A live peer's record follows its sequence numbers, once a second at
// most, so that after a crash of ours (no clean stop to save it) a replay
// of what it sent before is refused.
func TestPersistLivePeerPeriodically(t *testing.T) {
	r, p := steadyPair(t)
	var periodic []PersistPeer
	for i := 0; i < 5; i++ {
		for _, a := range r.recvBoth(p.status("active", 5000)) {
			if pp, ok := a.(PersistPeer); ok && pp.Periodic {
				periodic = append(periodic, pp)
			}
		}
		for _, a := range r.advance(400 * time.Millisecond) {
			if pp, ok := a.(PersistPeer); ok && pp.Periodic {
				periodic = append(periodic, pp)
			}
		}
	}
	if len(periodic) < 1 || len(periodic) > 3 {
		t.Fatalf("%d periodic records over 2 s of packets, want 1 to 3: %+v", len(periodic), periodic)
	}
	if last := periodic[len(periodic)-1]; last.Seq < 3 {
		t.Errorf("the record did not follow the peer: %+v", last)
	}
}
