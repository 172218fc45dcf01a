package membership

import (
	"encoding/hex"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/scenario"
	"heartbeatd/internal/wire"
)

// TestScenarios runs testdata/scenarios/*.txt (format: internal/scenario)
// against one Table, the local node pa1 with the lab's ha.cf; its peers
// are played by the file. Besides the clock commands (advance ticks at
// every NextWake, as the daemon does), a file may say:
//
//	config key=value...    before anything else: local, nodes, links (comma
//	                       lists), keepalive, deadtime, warntime, initdead,
//	                       deadcheck, records (comma list of NODE:GEN:SEQ,
//	                       hex: the stored PeerRecords)
//	start, tick            Start, Tick
//	recv NODE LINKS t=TYPE field=value...
//	                       a message from peer NODE on each of LINKS (comma
//	                       list; the second copy is the usual duplicate).
//	                       src, srcuuid, seq, hg, ts and ttl are filled in as
//	                       a Heartbeat peer sends them (seq counts up per
//	                       peer); seq=HEX or hg=HEX override them
//	restart NODE           the peer's daemon restarts: next generation, seq 1
//	replay NODE LINKS [seq=HEX] [hg=HEX] [t=TYPE] [count=N]
//	                       a recording of one of NODE's earlier messages
//	                       played back, byte for byte (same ts), count
//	                       times on each of LINKS: the one with that seq
//	                       (and generation, default the current), or the
//	                       last one of type TYPE (NS_ messages have no
//	                       seq), or the last one built
//	send field=value...    Send on behalf of an upper layer
//	sendmany N field=value...
//	                       N Sends at once; one summary line instead of
//	                       the actions
//	peers                  each peer's sequence tracking: generation, last
//	                       and floor seq, what it ACKed, what was stored
//	stats                  the counters about replays and rate limits
//	shutdown [restart]     Shutdown
//	nodes                  the node and link table, as cl_status shows it
//	keepalives NODE N every=D [loss=PCT] [copies=K] [seed=S] [links=L,...]
//	                       N statuses from NODE, one every D (the clock
//	                       runs, ticking at every NextWake), each sent
//	                       K times (default 1) on each of the links
//	                       (default eth1,eth2; the others are cut), every
//	                       copy lost with PCT percent chance (seeded, S
//	                       default 1); our NS_rexmit are answered at
//	                       once, without loss. Summed up in two lines (what NODE
//	                       sent and lost; what we sent, counted, with
//	                       the lost-packet lines, the NS_ traffic and
//	                       the periodic persists);
//	                       any other action is shown as it happened
//	copies                 the redundancy state: copies per message, and
//	                       per peer the level, the copies it sends and
//	                       the estimated loss per link
//
// config also takes maxcopies (Config.MaxCopies).
//
// Our own broadcasts are not fed back on the links (the daemon does), so
// our own links stay dead in "nodes"; nothing else depends on them.
//
// The envelope every message carries (src, srcuuid, destuuid, hg, ts, ld,
// ttl) is left out of the output: it is the same on every line and checked
// by the field-order tests; seq stays, it is what the scenarios are about.
func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/scenarios", t0, func(clk *scenario.Clock) scenario.Core {
		return &memScenario{clk: clk, cfg: labConfig("pa1"), peers: map[string]*peer{}}
	})
}

type memScenario struct {
	clk   *scenario.Clock
	cfg   Config
	tb    *Table
	peers map[string]*peer
	// tape holds every message recv built, for replay: by peer and
	// "gen/seq", and the last one per peer under "last".
	tape map[string]map[string]*wire.Message
	rng  *rand.Rand // keepalives' loss
	// streamed holds the statuses keepalives built, by seq, to answer
	// retransmission requests.
	streamed map[uint64]*wire.Message
}

// envelope are the fields the sender's table adds to every message.
var envelope = map[string]bool{"src": true, "srcuuid": true, "destuuid": true, "hg": true, "ts": true, "ld": true, "ttl": true}

func (s *memScenario) Do(c scenario.Cmd) ([]string, error) {
	if c.Name == "config" {
		return nil, s.configure(c)
	}
	if s.tb == nil {
		tb, err := New(s.cfg)
		if err != nil {
			return nil, err
		}
		s.tb = tb
	}
	switch c.Name {
	case "start":
		return s.step(Start{}), nil
	case "tick":
		return s.Tick(), nil
	case "recv":
		return s.recv(c)
	case "restart":
		p, err := s.peer(c.Pos())
		if err != nil {
			return nil, err
		}
		p.gen++
		p.seq = 0
		return nil, nil
	case "replay":
		return s.replay(c)
	case "send":
		return s.step(Send{Msg: buildMsg(c.KVs())}), nil
	case "sendmany":
		return s.sendMany(c)
	case "peers":
		var out []string
		for _, n := range s.tb.nodes {
			if n == s.tb.self {
				continue
			}
			tr := n.track
			out = append(out, fmt.Sprintf("%s gen=%x last=%x floor=%x acked=%x stored=%x:%x",
				n.name, tr.generation, tr.lastSeq, tr.floor, tr.peerAck, n.persisted.Gen, n.persisted.Seq))
		}
		return out, nil
	case "shutdown":
		return s.step(Shutdown{Restart: len(c.Args) == 1 && c.Args[0] == "restart"}), nil
	case "nodes":
		var out []string
		for _, n := range s.tb.Nodes() {
			line := n.Name + " " + n.Status.String()
			for _, l := range s.tb.Links(n.Name) {
				line += " " + l.Name + "=" + l.Status.String()
			}
			out = append(out, line)
		}
		return out, nil
	case "keepalives":
		return s.keepalives(c)
	case "copies":
		n, info := s.tb.Copies()
		out := []string{fmt.Sprintf("copies=%d", n)}
		for _, ci := range info {
			line := fmt.Sprintf("%s level=%d sends=%d", ci.Node, ci.Level, ci.Peer)
			for _, l := range s.cfg.Links {
				line += fmt.Sprintf(" %s=%.0f%%", l, 100*ci.Loss[l])
			}
			out = append(out, line)
		}
		return out, nil
	case "stats":
		st := s.tb.Stats()
		return []string{fmt.Sprintf("replays=%d stale=%d retransmitted=%d naks=%d rexmit-limited=%d logs-suppressed=%d",
			st.Replays, st.Stale, st.Retransmitted, st.Naks, st.RexmitLimited, st.LogsSuppressed)}, nil
	}
	return nil, fmt.Errorf("unknown command %q", c.Name)
}

func (s *memScenario) NextWake() time.Time {
	if s.tb == nil {
		return time.Time{}
	}
	return s.tb.NextWake()
}

func (s *memScenario) Tick() []string { return s.step(Tick{}) }

func (s *memScenario) step(ev Event) []string {
	if s.tb == nil {
		return nil
	}
	return scenario.Render(s.clk, s.tb.Step(s.clk.Now, ev), renderAction)
}

func (s *memScenario) configure(c scenario.Cmd) error {
	if s.tb != nil {
		return fmt.Errorf("config after the table was created")
	}
	for _, kv := range c.KVs() {
		var d *time.Duration
		switch kv.Key {
		case "local":
			s.cfg.Local, s.cfg.UUID = kv.Value, uuids[kv.Value]
			continue
		case "nodes":
			s.cfg.Nodes = strings.Split(kv.Value, ",")
			continue
		case "links":
			s.cfg.Links = strings.Split(kv.Value, ",")
			continue
		case "keepalive":
			d = &s.cfg.Keepalive
		case "deadtime":
			d = &s.cfg.Deadtime
		case "warntime":
			d = &s.cfg.Warntime
		case "initdead":
			d = &s.cfg.Initdead
		case "deadcheck":
			d = &s.cfg.DeadCheck
		case "maxcopies":
			n, err := strconv.Atoi(kv.Value)
			if err != nil {
				return fmt.Errorf("maxcopies %q", kv.Value)
			}
			s.cfg.MaxCopies = n
			continue
		case "records":
			s.cfg.PeerRecords = map[string]PeerRecord{}
			for _, r := range strings.Split(kv.Value, ",") {
				var name string
				var rec PeerRecord
				if n, err := fmt.Sscanf(strings.ReplaceAll(r, ":", " "), "%s %x %x", &name, &rec.Gen, &rec.Seq); n != 3 || err != nil {
					return fmt.Errorf("records: %q is not NODE:GEN:SEQ", r)
				}
				s.cfg.PeerRecords[name] = rec
			}
			continue
		default:
			return fmt.Errorf("unknown config key %q", kv.Key)
		}
		v, err := time.ParseDuration(kv.Value)
		if err != nil {
			return err
		}
		*d = v
	}
	return nil
}

func (s *memScenario) peer(pos []string) (*peer, error) {
	if len(pos) == 0 {
		return nil, fmt.Errorf("no peer node named")
	}
	name := pos[0]
	if _, ok := uuids[name]; !ok || name == s.cfg.Local {
		return nil, fmt.Errorf("%q is not a peer (known: pa1, pa2, pa3, not the local node)", name)
	}
	p := s.peers[name]
	if p == nil {
		p = &peer{name: name, gen: 0x6b024820, now: func() time.Time { return s.clk.Now }}
		s.peers[name] = p
	}
	return p, nil
}

// recv builds the peer's next message and delivers a copy on each link.
func (s *memScenario) recv(c scenario.Cmd) ([]string, error) {
	pos := c.Pos()
	p, err := s.peer(pos)
	if err != nil {
		return nil, err
	}
	if len(pos) != 2 {
		return nil, fmt.Errorf("usage: recv NODE LINK[,LINK] t=TYPE field=value...")
	}
	kvs := c.KVs()
	if len(kvs) == 0 || kvs[0].Key != "t" {
		return nil, fmt.Errorf("recv: the first field must be t=TYPE")
	}
	var body []string
	var over []scenario.KV
	for _, kv := range kvs[1:] {
		switch {
		case kv.Key == "seq":
			v, err := strconv.ParseUint(kv.Value, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("recv: seq %q is not hex", kv.Value)
			}
			p.seq = v - 1 // msg counts up to it
		case envelope[kv.Key]:
			over = append(over, kv)
		default:
			body = append(body, kv.Key, kv.Value)
		}
	}
	m := p.msg(kvs[0].Value, body...)
	for _, kv := range over {
		m.Set(kv.Key, kv.Value)
	}
	s.record(p.name, m)
	var out []string
	for _, link := range strings.Split(pos[1], ",") {
		out = append(out, s.step(Received{Msg: m.Clone(), Link: link})...)
	}
	return out, nil
}

func (s *memScenario) record(name string, m *wire.Message) {
	if s.tape == nil {
		s.tape = map[string]map[string]*wire.Message{}
	}
	if s.tape[name] == nil {
		s.tape[name] = map[string]*wire.Message{}
	}
	s.tape[name]["last"] = m.Clone()
	s.tape[name]["type/"+m.Type()] = m.Clone()
	if seq, ok := m.Get("seq"); ok {
		s.tape[name][m.Value("hg")+"/"+seq] = m.Clone()
	}
}

// replay plays a recorded message of a peer back, as an attacker on the
// wire would: the peer's own state (seq, generation) does not change.
func (s *memScenario) replay(c scenario.Cmd) ([]string, error) {
	pos := c.Pos()
	p, err := s.peer(pos)
	if err != nil {
		return nil, err
	}
	if len(pos) != 2 {
		return nil, fmt.Errorf("usage: replay NODE LINK[,LINK] [seq=HEX] [hg=HEX] [count=N]")
	}
	key := "last"
	if typ, ok := c.Get("t"); ok {
		key = "type/" + typ
	}
	if seq, ok := c.Get("seq"); ok {
		hg, ok := c.Get("hg")
		if !ok {
			hg = strconv.FormatUint(p.gen, 16)
		}
		key = hg + "/" + seq
	}
	m := s.tape[p.name][key]
	if m == nil {
		return nil, fmt.Errorf("replay: no recorded message %s of %s", key, p.name)
	}
	count := 1
	if v, ok := c.Get("count"); ok {
		if count, err = strconv.Atoi(v); err != nil || count < 1 {
			return nil, fmt.Errorf("replay: count %q", v)
		}
	}
	var out []string
	for i := 0; i < count; i++ {
		for _, link := range strings.Split(pos[1], ",") {
			out = append(out, s.step(Received{Msg: m.Clone(), Link: link})...)
		}
	}
	return out, nil
}

// sendMany sends N messages and sums up what came of them, so that a file
// can run past the retransmission history without 500 lines of sends.
func (s *memScenario) sendMany(c scenario.Cmd) ([]string, error) {
	pos := c.Pos()
	if len(pos) != 1 {
		return nil, fmt.Errorf("usage: sendmany N field=value...")
	}
	count, err := strconv.Atoi(pos[0])
	if err != nil || count < 1 {
		return nil, fmt.Errorf("sendmany: count %q", pos[0])
	}
	var first, last string
	kinds := map[string]int{}
	for i := 0; i < count; i++ {
		for _, a := range s.tb.Step(s.clk.Now, Send{Msg: buildMsg(c.KVs())}) {
			kinds[strings.Fields(renderAction(a))[0]]++
			if tx, ok := a.(Transmit); ok && tx.Msg.Type() == c.KVs()[0].Value {
				if first == "" {
					first = tx.Msg.Value("seq")
				}
				last = tx.Msg.Value("seq")
			}
		}
	}
	var sum []string
	for _, k := range []string{"send", "deliver", "log"} {
		if kinds[k] > 0 {
			sum = append(sum, fmt.Sprintf("%d %s", kinds[k], k))
		}
		delete(kinds, k)
	}
	if len(kinds) > 0 {
		return nil, fmt.Errorf("sendmany: unexpected actions %v", kinds)
	}
	return []string{fmt.Sprintf("%s sent %d, seq=%s..%s (%s)", s.clk.Stamp(s.clk.Now), count, first, last, strings.Join(sum, ", "))}, nil
}

func buildMsg(kvs []scenario.KV) *wire.Message {
	m := &wire.Message{}
	for _, kv := range kvs {
		m.Set(kv.Key, kv.Value)
	}
	return m
}

// body renders a message without its envelope.
func body(m *wire.Message) string {
	var kvs []scenario.KV
	for _, f := range m.Fields {
		if envelope[f.Name] {
			continue
		}
		v := string(f.Value)
		if f.Type == wire.TypeBinary {
			v = hex.EncodeToString(f.Value)
		}
		kvs = append(kvs, scenario.KV{Key: f.Name, Value: v})
	}
	return scenario.FormatKVs(kvs)
}

func renderAction(a Action) string {
	switch a := a.(type) {
	case Transmit:
		return "send " + body(a.Msg)
	case Log:
		return "log " + string(a.Level) + ": " + a.Text
	case NodeStatus:
		return fmt.Sprintf("node-status %s %s->%s", a.Node, a.Old, a.New)
	case LinkStatus:
		return fmt.Sprintf("link-status %s:%s %s", a.Node, a.Link, a.Status)
	case Deliver:
		link := a.Link
		if link == "" {
			link = "(own)"
		}
		return "deliver " + link + " " + body(a.Msg)
	case CommUp:
		return "comm-up"
	case PeerShutdown:
		return "peer-shutdown " + a.Node
	case PeerRestarted:
		return "peer-restarted " + a.Node
	case PartitionHealed:
		return "partition-healed " + a.Node
	case Overheard:
		return "overheard " + body(a.Msg)
	case PersistPeer:
		if a.Periodic {
			return fmt.Sprintf("persist %s gen=%x seq=%x (periodic)", a.Node, a.Gen, a.Seq)
		}
		return fmt.Sprintf("persist %s gen=%x seq=%x", a.Node, a.Gen, a.Seq)
	}
	return fmt.Sprintf("unknown action %#v", a)
}

// keepalives plays a stream of the peer's statuses over lossy links and
// sums it up (see TestScenarios).
func (s *memScenario) keepalives(c scenario.Cmd) ([]string, error) {
	pos := c.Pos()
	if len(pos) != 2 {
		return nil, fmt.Errorf("usage: keepalives NODE N every=D [loss=PCT] [copies=K] [seed=S]")
	}
	p, err := s.peer(pos[:1])
	if err != nil {
		return nil, err
	}
	count, err := strconv.Atoi(pos[1])
	if err != nil || count < 1 {
		return nil, fmt.Errorf("keepalives: count %q", pos[1])
	}
	ev, _ := c.Get("every")
	every, err := time.ParseDuration(ev)
	if err != nil || every <= 0 {
		return nil, fmt.Errorf("keepalives: every=%q", ev)
	}
	num := func(key string, def int) (int, error) {
		v, ok := c.Get(key)
		if !ok {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("keepalives: %s=%q", key, v)
		}
		return n, nil
	}
	loss, err := num("loss", 0)
	if err != nil {
		return nil, err
	}
	copies, err := num("copies", 1)
	if err != nil {
		return nil, err
	}
	seed, err := num("seed", 1)
	if err != nil {
		return nil, err
	}
	if _, reseed := c.Get("seed"); s.rng == nil || reseed {
		s.rng = rand.New(rand.NewSource(int64(seed)))
	}
	dt := strconv.FormatInt(s.cfg.Deadtime.Milliseconds(), 16)
	links := []string{"eth1", "eth2"}
	if v, ok := c.Get("links"); ok {
		links = strings.Split(v, ",")
	}
	var out []string
	lostOn := map[string]int{}
	var lostBoth, copiesLost, copiesSent int
	// What the table did, by kind: our statuses (first copy / extra
	// copies, by seq), NS_ traffic and the lost-packet lines, summed up;
	// everything else as it happened.
	var ours, extra, acks, rexmits, lostLines, recovered, persists int
	seen := map[string]bool{}
	absorb := func(lines []string) {
		for _, l := range lines {
			_, body, _ := strings.Cut(l, " ")
			switch {
			case strings.HasPrefix(body, "send t=status "):
				seq := body[strings.LastIndex(body, "seq="):]
				if seen[seq] {
					extra++
				} else {
					seen[seq] = true
					ours++
				}
			case strings.HasPrefix(body, "send t=NS_ackmsg "):
				acks++
			case strings.HasPrefix(body, "send t=NS_rexmit "):
				rexmits++
			case strings.HasPrefix(body, "log WARN: ") && strings.Contains(body, " lost packet(s) for ["):
				lostLines++
			case strings.HasPrefix(body, "log info: No pkts missing from "):
				recovered++
			case strings.HasPrefix(body, "persist ") && strings.HasSuffix(body, " (periodic)"):
				persists++
			default:
				out = append(out, l)
			}
		}
	}
	// The peer answers our NS_rexmit as Heartbeat does: the stored
	// message again, on both links, with the same loss.
	if s.streamed == nil {
		s.streamed = map[uint64]*wire.Message{}
	}
	sentMsgs := s.streamed
	deliver := func(m *wire.Message) map[string]bool {
		arrived := map[string]bool{}
		for k := 0; k < copies; k++ {
			for _, l := range links {
				copiesSent++
				if s.rng.Intn(100) < loss {
					copiesLost++
					continue
				}
				arrived[l] = true
				absorb(s.stepAnswering(Received{Msg: m.Clone(), Link: l}, p.name, sentMsgs))
			}
		}
		return arrived
	}
	for i := 0; i < count; i++ {
		lines, err := s.clk.Advance(s.clk.Now.Add(every), s.NextWake, func() []string {
			return s.stepAnswering(Tick{}, p.name, sentMsgs)
		})
		absorb(lines)
		if err != nil {
			return out, err
		}
		m := p.msg("status", "st", string(StatusActive), "dt", dt, "protocol", "1")
		sentMsgs[p.seq] = m
		arrived := deliver(m)
		for _, l := range []string{"eth1", "eth2"} {
			if !arrived[l] {
				lostOn[l]++
			}
		}
		if len(arrived) == 0 {
			lostBoth++
		}
	}
	at := s.clk.Stamp(s.clk.Now)
	sum := []string{
		fmt.Sprintf("%s %s sent %d statuses x%d: %d of %d copies lost; seqs lost on eth1 %d, on eth2 %d, on both %d",
			at, p.name, count, copies, copiesLost, copiesSent, lostOn["eth1"], lostOn["eth2"], lostBoth),
		fmt.Sprintf("%s we sent %d statuses + %d copies, %d NS_ackmsg, %d NS_rexmit (answered); %d lost-packet lines, %d no-pkts-missing lines; %d periodic persists",
			at, ours, extra, acks, rexmits, lostLines, recovered, persists),
	}
	return append(out, sum...), nil
}

// stepAnswering steps the table and renders its actions; a NS_rexmit
// for peer is answered at once with the stored message (on both links,
// without loss: the scripted retransmission is not the subject here).
func (s *memScenario) stepAnswering(ev Event, peer string, stored map[uint64]*wire.Message) []string {
	acts := s.tb.Step(s.clk.Now, ev)
	out := scenario.Render(s.clk, acts, renderAction)
	for _, a := range acts {
		tx, ok := a.(Transmit)
		if !ok || tx.Msg.Type() != "NS_rexmit" || tx.Msg.Value("dest") != peer {
			continue
		}
		seq, _ := strconv.ParseUint(tx.Msg.Value("firstseq"), 10, 64)
		if m := stored[seq]; m != nil {
			for _, l := range []string{"eth1", "eth2"} {
				out = append(out, s.stepAnswering(Received{Msg: m.Clone(), Link: l}, peer, stored)...)
			}
		}
	}
	return out
}
