package membership

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// Network is an in-memory cluster of Tables joined by broadcast links, like
// etcd raft's test network: it can stop a node (kill -9), cut one node's
// medium (both directions), and drop a share of packets, all
// deterministically from a seed. Every node also receives its own broadcasts
// back, as with real bcast.
type Network struct {
	t       *testing.T
	now     time.Time
	links   []string
	names   []string
	tables  map[string]*Table
	stopped map[string]bool
	cut     map[string]map[string]bool // node -> link -> cut
	loss    float64
	rng     *rand.Rand
	queue   []packet
	latency time.Duration
	// tickEvery is how often every node ticks (50 ms by default); with
	// wake set, a node ticks only when its NextWake has come, as the
	// daemon does.
	tickEvery time.Duration
	wake      bool
	ticks     int // Tick events stepped, all nodes

	// history of every action, per node, with its time.
	events map[string][]timedAction
}

type packet struct {
	at   time.Time
	to   string
	link string
	msg  *wire.Message
}

type timedAction struct {
	at time.Time
	a  Action
}

func newNetwork(t *testing.T, seed int64, names ...string) *Network {
	n := &Network{
		t: t, now: t0, links: []string{"eth1", "eth2"}, names: names,
		tables: map[string]*Table{}, stopped: map[string]bool{},
		cut: map[string]map[string]bool{}, rng: rand.New(rand.NewSource(seed)),
		latency: time.Millisecond, events: map[string][]timedAction{},
		tickEvery: 50 * time.Millisecond,
	}
	for i, name := range names {
		cfg := labConfig(name, names...)
		cfg.Seed = seed + int64(i)
		cfg.Generation = 1000 + uint64(i)
		tb, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.tables[name] = tb
		n.cut[name] = map[string]bool{}
	}
	return n
}

func (n *Network) step(name string, ev Event) {
	if n.stopped[name] {
		return
	}
	for _, a := range n.tables[name].Step(n.now, ev) {
		n.events[name] = append(n.events[name], timedAction{n.now, a})
		if tx, ok := a.(Transmit); ok {
			n.broadcast(name, tx.Msg)
		}
	}
}

func (n *Network) broadcast(from string, m *wire.Message) {
	for _, l := range n.links {
		if n.cut[from][l] {
			continue
		}
		for _, to := range n.names {
			if n.cut[to][l] || (to != from && n.rng.Float64() < n.loss) {
				continue
			}
			n.queue = append(n.queue, packet{at: n.now.Add(n.latency), to: to, link: l, msg: m.Clone()})
		}
	}
}

// start starts the nodes one after the other, gap apart.
func (n *Network) start(gap time.Duration) {
	for i, name := range n.names {
		if i > 0 {
			n.run(gap)
		}
		n.step(name, Start{LoadAvg: "0.00 0.00 0.00 1/100 1"})
	}
}

// run advances the network by d in 1 ms steps, ticking the nodes (see
// tickEvery and wake).
func (n *Network) run(d time.Duration) {
	end := n.now.Add(d)
	for n.now.Before(end) {
		n.now = n.now.Add(time.Millisecond)
		var due []packet
		kept := n.queue[:0]
		for _, p := range n.queue {
			if p.at.After(n.now) {
				kept = append(kept, p)
			} else {
				due = append(due, p)
			}
		}
		n.queue = kept
		for _, p := range due {
			n.step(p.to, Received{Msg: p.msg, Link: p.link})
		}
		for _, name := range n.names {
			if n.stopped[name] {
				continue
			}
			if n.wake {
				if w := n.tables[name].NextWake(); !w.IsZero() && !n.now.Before(w) {
					n.ticks++
					n.step(name, Tick{})
				}
			} else if n.now.Sub(t0)%n.tickEvery == 0 {
				n.ticks++
				n.step(name, Tick{})
			}
		}
	}
}

// firstLog returns the time name first logged text at or after since.
func (n *Network) firstLog(name, text string, since time.Time) (time.Time, bool) {
	for _, e := range n.events[name] {
		if l, ok := e.a.(Log); ok && !e.at.Before(since) && l.Text == text {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// lastStatusSent is when name last transmitted a status message.
func (n *Network) lastStatusSent(name string) time.Time {
	var at time.Time
	for _, e := range n.events[name] {
		if tx, ok := e.a.(Transmit); ok && tx.Msg.Type() == "status" {
			at = e.at
		}
	}
	return at
}

func (n *Network) logsOf(name string, since time.Time) []string {
	var out []string
	for _, e := range n.events[name] {
		if l, ok := e.a.(Log); ok && !e.at.Before(since) {
			out = append(out, string(l.Level)+": "+l.Text)
		}
	}
	return out
}

func bothActive(t *testing.T, n *Network) {
	t.Helper()
	for _, name := range n.names {
		if st := n.tables[name].LocalStatus(); st != StatusActive {
			t.Fatalf("%s is %s, want active; logs:\n%s", name, st, strings.Join(n.logsOf(name, t0), "\n"))
		}
		for _, ni := range n.tables[name].Nodes() {
			if ni.Status != StatusActive {
				t.Fatalf("%s sees %s as %s", name, ni.Name, ni.Status)
			}
			for _, li := range n.tables[name].Links(ni.Name) {
				if li.Status != LinkUp {
					t.Fatalf("%s sees link %s:%s %s", name, ni.Name, li.Name, li.Status)
				}
			}
		}
	}
}

func TestNetworkJoinAndKill(t *testing.T) {
	n := newNetwork(t, 1, "pa1", "pa2")
	n.start(2 * time.Second)
	n.run(3 * time.Second)
	bothActive(t, n)
	for _, name := range n.names {
		if _, ok := n.firstLog(name, "Comm_now_up(): updating status to active", t0); !ok {
			t.Fatalf("%s never went active through comm up", name)
		}
	}

	// Let the start-up dt bonus expire, then kill pa1.
	n.run(5 * time.Second)
	n.stopped["pa1"] = true
	killed := n.lastStatusSent("pa1")
	n.run(7 * time.Second)
	at, ok := n.firstLog("pa2", "node pa1: is dead", killed)
	if !ok {
		t.Fatalf("pa2 never declared pa1 dead:\n%s", strings.Join(n.logsOf("pa2", killed), "\n"))
	}
	limit := 5*time.Second + time.Second + 250*time.Millisecond
	if d := at.Sub(killed); d <= 5*time.Second || d > limit {
		t.Fatalf("declared dead %v after the last status, want (5s, %v]", d, limit)
	}
	for _, l := range []string{"eth1", "eth2"} {
		if _, ok := n.firstLog("pa2", "Link pa1:"+l+" dead.", killed); !ok {
			t.Fatalf("link %s of pa1 not dead", l)
		}
	}
	if n.tables["pa2"].LocalStatus() != StatusActive {
		t.Fatal("survivor not active")
	}
}

func TestNetworkOneLinkCut(t *testing.T) {
	n := newNetwork(t, 2, "pa1", "pa2")
	n.start(500 * time.Millisecond)
	n.run(8 * time.Second)
	bothActive(t, n)
	cutAt := n.now
	n.cut["pa2"]["eth2"] = true
	n.run(10 * time.Second)
	if _, ok := n.firstLog("pa1", "Link pa2:eth2 dead.", cutAt); !ok {
		t.Fatal("pa1 did not see pa2:eth2 die")
	}
	if _, ok := n.firstLog("pa2", "Link pa1:eth2 dead.", cutAt); !ok {
		t.Fatal("pa2 did not see pa1:eth2 die")
	}
	for _, name := range n.names {
		for _, l := range n.logsOf(name, cutAt) {
			if strings.Contains(l, "is dead") || strings.Contains(l, "eth1 dead") {
				t.Fatalf("%s: %s", name, l)
			}
		}
	}
	if got := n.tables["pa1"].Links("pa2"); got[0].Status != LinkUp || got[1].Status != LinkDead {
		t.Fatalf("pa1 links of pa2: %+v", got)
	}
	// Repair: the link comes back.
	n.cut["pa2"]["eth2"] = false
	n.run(2 * time.Second)
	bothActive(t, n)
}

// Both links cut: each side declares the other dead; on repair each sees the
// other return with the same generation (a healed partition).
func TestNetworkPartitionAndHeal(t *testing.T) {
	n := newNetwork(t, 3, "pa1", "pa2")
	n.start(time.Second)
	n.run(8 * time.Second)
	bothActive(t, n)
	cutAt := n.now
	n.cut["pa2"]["eth1"], n.cut["pa2"]["eth2"] = true, true
	n.run(7 * time.Second)
	if _, ok := n.firstLog("pa1", "node pa2: is dead", cutAt); !ok {
		t.Fatal("pa1 did not declare pa2 dead")
	}
	if _, ok := n.firstLog("pa2", "node pa1: is dead", cutAt); !ok {
		t.Fatal("pa2 did not declare pa1 dead")
	}
	healAt := n.now
	n.cut["pa2"]["eth1"], n.cut["pa2"]["eth2"] = false, false
	n.run(2 * time.Second)
	for _, pair := range [][2]string{{"pa1", "pa2"}, {"pa2", "pa1"}} {
		if _, ok := n.firstLog(pair[0], "Cluster node "+pair[1]+" returning after partition.", healAt); !ok {
			t.Fatalf("%s did not notice %s returning:\n%s", pair[0], pair[1], strings.Join(n.logsOf(pair[0], healAt), "\n"))
		}
	}
	bothActive(t, n)
}

// With 20% loss on every link, nobody is declared dead, and every message
// an upper layer sends is delivered exactly once thanks to retransmission
// (a recovered message is delivered when it arrives, after later ones, as in
// Heartbeat).
func TestNetworkLossyDelivery(t *testing.T) {
	for seed := int64(10); seed < 20; seed++ {
		n := newNetwork(t, seed, "pa1", "pa2")
		n.start(200 * time.Millisecond)
		n.run(6 * time.Second)
		n.loss = 0.2
		lossAt := n.now
		for i := 0; i < 100; i++ {
			m := wire.New("resource")
			m.Set("n", itoa3(i))
			n.step("pa1", Send{Msg: m})
			n.run(50 * time.Millisecond)
		}
		n.loss = 0
		n.run(3 * time.Second)
		var got []string
		for _, e := range n.events["pa2"] {
			if d, ok := e.a.(Deliver); ok && d.Msg.Type() == "resource" && d.Msg.Value("src") == "pa1" {
				got = append(got, d.Msg.Value("n"))
			}
		}
		seen := map[string]bool{}
		for _, v := range got {
			if seen[v] {
				t.Fatalf("seed %d: message %s delivered twice", seed, v)
			}
			seen[v] = true
		}
		if len(seen) != 100 {
			t.Fatalf("seed %d: %d of 100 delivered; stats %+v", seed, len(seen), n.tables["pa2"].Stats())
		}
		for _, l := range n.logsOf("pa2", lossAt) {
			if strings.Contains(l, "is dead") {
				t.Fatalf("seed %d: %s", seed, l)
			}
		}
		if n.tables["pa1"].Stats().Retransmitted == 0 {
			t.Fatalf("seed %d: no retransmissions under loss", seed)
		}
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}
