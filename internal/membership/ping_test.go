package membership

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

const pingHost = "10.201.0.254"

// pingConfig is pa1 alone with one ping node: the cluster is up at once,
// so deadping (not initdead) applies from the start.
func pingConfig() Config {
	c := labConfig("pa1", "pa1")
	c.PingNames = []string{pingHost}
	c.Deadping = 4 * time.Second
	return c
}

// pingReply is what the ping medium delivers: the echoed status it sent,
// stamped with the ts of our status at that time.
func pingReply(at time.Time, kv ...string) *wire.Message {
	m := wire.New("NS_st")
	m.Set("st", "ping")
	m.Set("info", "ping")
	m.Set("src", pingHost)
	m.Set("ts", strconv.FormatInt(at.Unix(), 16))
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return m
}

// pingLines keeps what is about ping nodes of acts: their log lines and
// status actions.
func pingLines(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case Log:
			if strings.Contains(a.Text, pingHost) {
				out = append(out, string(a.Level)+": "+a.Text)
			}
		case PingNodeStatus:
			out = append(out, "ping-status "+a.Node+" "+a.Old.String()+"->"+a.New.String())
		case LinkStatus:
			if a.Node == pingHost {
				out = append(out, "link-status "+a.Link+" "+a.Status.String())
			}
		case NodeStatus:
			if a.Node == pingHost {
				out = append(out, "NODE-STATUS for a ping node")
			}
		}
	}
	return out
}

func samePing(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got: %q\nwant: %q", what, got, want)
	}
}

// A ping node is alive (status ping) while its echoes come back, dead
// deadping after the last one (on the dead-check grid, found by ticking
// only at NextWake), and alive again with the next reply. It never
// produces a NodeStatus, which the node core would hand to rm as the
// peer's.
func TestPingNodeAliveDeadAlive(t *testing.T) {
	tb, err := New(pingConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	tb.Step(now, Start{})
	if got := tb.pingInfos(); got[0].Status != StatusInit || got[0].Type != TypePing {
		t.Fatalf("before any reply: %+v", got)
	}
	var acts []Action
	recv := func(m *wire.Message, link string) { acts = append(acts, tb.Step(now, Received{Msg: m, Link: link})...) }

	now = now.Add(300 * time.Millisecond)
	recv(pingReply(now), pingHost)
	samePing(t, "first reply", pingLines(acts),
		"info: Link 10.201.0.254:10.201.0.254 up.", "link-status 10.201.0.254 up",
		"info: Status update for node 10.201.0.254: status ping", "ping-status 10.201.0.254 init->ping")
	if l := tb.Links(pingHost); len(l) != 1 || l[0] != (LinkInfo{pingHost, LinkUp}) {
		t.Errorf("links of the ping node: %+v", l)
	}
	lastReply := now

	// Replies every second keep it alive, quietly.
	acts = nil
	for i := 0; i < 5; i++ {
		now = now.Add(time.Second)
		acts = append(acts, tb.Step(now, Tick{})...)
		recv(pingReply(now), pingHost)
		lastReply = now
	}
	samePing(t, "steady replies", pingLines(acts))

	// The target stops answering: dead deadping after the last reply,
	// at the first wake-up after it.
	acts = nil
	for i := 0; i < 100 && tb.pingInfos()[0].Status != StatusDead; i++ {
		now = tb.NextWake()
		acts = append(acts, tb.Step(now, Tick{})...)
	}
	if d := now.Sub(lastReply); d <= 4*time.Second || d > 4*time.Second+250*time.Millisecond {
		t.Errorf("declared dead %v after the last reply, want just over deadping 4s", d)
	}
	samePing(t, "silence", pingLines(acts),
		"WARN: node 10.201.0.254: is dead", "ping-status 10.201.0.254 ping->dead",
		"info: Link 10.201.0.254:10.201.0.254 dead.", "link-status 10.201.0.254 dead")

	// It answers again.
	acts = nil
	now = now.Add(700 * time.Millisecond)
	recv(pingReply(now), pingHost)
	samePing(t, "back", pingLines(acts),
		"info: Link 10.201.0.254:10.201.0.254 up.", "link-status 10.201.0.254 up",
		"info: Status update for node 10.201.0.254: status ping", "ping-status 10.201.0.254 dead->ping")
	if s := tb.pingInfos()[0].Status; s != StatusPing {
		t.Errorf("status %q after the reply, want ping", s)
	}
}

// Only the echoed ping status on the node's own medium counts: a peer
// speaking for the router, a reply on another link, one without st=ping
// or an old echo (replayed) leaves the node as it is, and none of them
// reaches the normal receive path.
func TestPingNodeRefusesOthers(t *testing.T) {
	tb, err := New(pingConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	tb.Step(now, Start{})
	before := tb.Stats()
	now = now.Add(time.Second)
	for _, c := range []struct {
		m    *wire.Message
		link string
	}{
		{pingReply(now), "eth1"},
		{pingReply(now, "st", "active"), pingHost},
		{pingReply(now, "info", "other"), pingHost},
		{pingReply(now, "t", "status", "seq", "1"), pingHost},
		{pingReply(now.Add(-10 * time.Second)), pingHost},
	} {
		if acts := pingLines(tb.Step(now, Received{Msg: c.m, Link: c.link})); len(acts) != 0 {
			t.Errorf("%v on %s: %q", c.m, c.link, acts)
		}
	}
	if s := tb.pingInfos()[0].Status; s != StatusInit {
		t.Errorf("status %q, want init", s)
	}
	st := tb.Stats()
	if st.Malformed-before.Malformed != 4 || st.Stale-before.Stale != 1 || st.UnknownNode != before.UnknownNode {
		t.Errorf("stats %+v, before %+v", st, before)
	}
}

// A ping node that never answers is dead the initdead after our start
// while the peer has not been heard from (Heartbeat resets every node's
// clock at start).
func TestPingNodeNeverAnswers(t *testing.T) {
	cfg := pingConfig()
	cfg.Nodes = []string{"pa1", "pa2"}
	tb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	tb.Step(now, Start{})
	for i := 0; i < 100 && tb.pingInfos()[0].Status != StatusDead; i++ {
		now = tb.NextWake()
		tb.Step(now, Tick{})
	}
	if d := now.Sub(t0); d <= 10*time.Second || d > 10*time.Second+250*time.Millisecond {
		t.Errorf("dead %v after start, want just over initdead 10s", d)
	}
}

// ttl counts the ping nodes: 3 in a two-node cluster, 4 with one ping
// node (hopfudge 1).
func TestPingNodeCountsInTTL(t *testing.T) {
	for _, c := range []struct {
		pings []string
		want  string
	}{{nil, "3"}, {[]string{pingHost}, "4"}} {
		cfg := pingConfig()
		cfg.Nodes = []string{"pa1", "pa2"}
		cfg.PingNames, cfg.PingNodes = c.pings, 0
		tb, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range tb.Step(t0, Start{}) {
			if tx, ok := a.(Transmit); ok {
				if got := tx.Msg.Value("ttl"); got != c.want {
					t.Errorf("ping nodes %v: ttl %s, want %s", c.pings, got, c.want)
				}
				break
			}
		}
	}
}

func TestPingConfigChecked(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Deadping = 2 * time.Second },
		func(c *Config) { c.PingNames = []string{"PA1"} },
		func(c *Config) { c.PingNames = []string{pingHost, pingHost} },
		func(c *Config) { c.PingNames = []string{"a b"} },
	} {
		c := pingConfig()
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// Details (heartbeatd status) lists ping nodes too, with type ping.
func TestDetailsListsPingNodes(t *testing.T) {
	tb, err := New(pingConfig())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range tb.Details() {
		got = append(got, d.Name+"/"+d.Type)
	}
	if strings.Join(got, " ") != "pa1/normal "+pingHost+"/ping" {
		t.Errorf("Details: %q", got)
	}
}
