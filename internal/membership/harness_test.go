package membership

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// t0 is the lab's start time (A-main 01-startup); only ts depends on it.
var t0 = time.Date(2026, 11, 22, 1, 40, 45, 0, time.UTC)

var uuids = map[string][16]byte{
	"pa1": {0x7f, 0x52, 0xf7, 0x2a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1},
	"pa2": {0x1b, 0x24, 0xc2, 0xe6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2},
	"pa3": {0x33, 0x33, 0x33, 0x33, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 3},
}

// labConfig is the lab's ha.cf: keepalive 1, deadtime 5, warntime 3,
// initdead 10, bcast eth1 eth2.
func labConfig(local string, nodes ...string) Config {
	if len(nodes) == 0 {
		nodes = []string{"pa1", "pa2"}
	}
	return Config{
		Local:          local,
		Nodes:          nodes,
		Links:          []string{"eth1", "eth2"},
		Keepalive:      time.Second,
		Deadtime:       5 * time.Second,
		Warntime:       3 * time.Second,
		Initdead:       10 * time.Second,
		MaxRexmitDelay: 250 * time.Millisecond,
		Generation:     0x6b02481e,
		UUID:           uuids[local],
		HopFudge:       1,
		Seed:           1,
	}
}

// rig drives one Table with a fake time base in milliseconds and keeps
// every action it produced.
type rig struct {
	t    *testing.T
	tb   *Table
	now  time.Time
	all  []Action
	last []Action // actions of the most recent step/advance
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	tb, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &rig{t: t, tb: tb, now: t0}
}

func (r *rig) step(ev Event) []Action {
	acts := r.tb.Step(r.now, ev)
	r.all = append(r.all, acts...)
	r.last = acts
	return acts
}

func (r *rig) start() []Action { return r.step(Start{LoadAvg: "0.01 0.07 0.08 1/109 24690"}) }

// advance moves time forward in 10 ms steps, ticking every 50 ms.
func (r *rig) advance(d time.Duration) []Action {
	var acts []Action
	end := r.now.Add(d)
	for r.now.Before(end) {
		r.now = r.now.Add(10 * time.Millisecond)
		if r.now.Sub(t0)%(50*time.Millisecond) == 0 {
			acts = append(acts, r.step(Tick{})...)
		}
	}
	r.last = acts
	return acts
}

func (r *rig) recv(link string, m *wire.Message) []Action {
	return r.step(Received{Msg: m, Link: link})
}

// recvBoth delivers m on eth1 and then (as the usual duplicate) on eth2.
func (r *rig) recvBoth(m *wire.Message) []Action {
	a := r.recv("eth1", m)
	b := r.recv("eth2", m.Clone())
	r.last = append(a, b...)
	return r.last
}

func logs(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if l, ok := a.(Log); ok {
			out = append(out, string(l.Level)+": "+l.Text)
		}
	}
	return out
}

func transmits(acts []Action, typ string) []*wire.Message {
	var out []*wire.Message
	for _, a := range acts {
		if x, ok := a.(Transmit); ok && (typ == "" || x.Msg.Type() == typ) {
			out = append(out, x.Msg)
		}
	}
	return out
}

func hasLog(acts []Action, want string) bool {
	for _, l := range logs(acts) {
		if l == want {
			return true
		}
	}
	return false
}

func (r *rig) wantLog(acts []Action, want string) {
	r.t.Helper()
	if !hasLog(acts, want) {
		r.t.Fatalf("missing log %q; got:\n%s", want, strings.Join(logs(acts), "\n"))
	}
}

func (r *rig) noLog(acts []Action, prefix string) {
	r.t.Helper()
	for _, l := range logs(acts) {
		if strings.Contains(l, prefix) {
			r.t.Fatalf("unexpected log %q", l)
		}
	}
}

func fieldNames(m *wire.Message) string {
	var names []string
	for _, f := range m.Fields {
		names = append(names, f.Name)
	}
	return strings.Join(names, " ")
}

// peer builds messages as a real Heartbeat peer would send them.
type peer struct {
	name string
	gen  uint64
	seq  uint64
	now  func() time.Time
}

func newPeer(r *rig, name string) *peer {
	return &peer{name: name, gen: 0x6b024820, now: func() time.Time { return r.now }}
}

// msg builds the next message of type typ with body fields kv. NS_
// messages carry no seq and use up none.
func (p *peer) msg(typ string, kv ...string) *wire.Message {
	if strings.HasPrefix(typ, "NS_") {
		return p.msgSeq(0, typ, kv...)
	}
	p.seq++
	return p.msgSeq(p.seq, typ, kv...)
}

func (p *peer) msgSeq(seq uint64, typ string, kv ...string) *wire.Message {
	m := wire.New(typ)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	u := uuids[p.name]
	m.Set("src", p.name)
	m.SetBinary("srcuuid", u[:])
	if !strings.HasPrefix(typ, "NS_") {
		m.Set("seq", strconv.FormatUint(seq, 16))
	}
	m.Set("hg", strconv.FormatUint(p.gen, 16))
	m.Set("ts", strconv.FormatInt(p.now().Unix(), 16))
	m.Set("ttl", "3")
	return m
}

func (p *peer) status(st string, dtMS int) *wire.Message {
	return p.msg("status", "st", st, "dt", fmt.Sprintf("%x", dtMS), "protocol", "1")
}

func findAction[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if x, ok := a.(T); ok {
			return x, true
		}
	}
	var zero T
	return zero, false
}
