package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/node"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/status/statustest"
)

var t0 = statustest.T0

const (
	keepalive = statustest.Keepalive
	deadtime  = statustest.Deadtime
	group1    = statustest.Group1
	group2    = statustest.Group2
)

func snapshot(p *statustest.Pair, i int) *Snapshot {
	return Build("3.0.6 (heartbeatd)", p.Node(i), p.Now)
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func group(t *testing.T, s *Snapshot, key string) Group {
	t.Helper()
	for _, g := range s.Groups {
		if g.Key == key {
			return g
		}
	}
	t.Fatalf("no group %q in %+v", key, s.Groups)
	return Group{}
}

func link(t *testing.T, s *Snapshot, nodeName, name string) Link {
	t.Helper()
	for _, n := range s.Nodes {
		for _, l := range n.Links {
			if n.Name == nodeName && l.Name == name {
				return l
			}
		}
	}
	t.Fatalf("no link %s:%s", nodeName, name)
	return Link{}
}

// TestBuildThroughAFailover drives two real nodes: start, a medium cut and
// repaired, then kill -9 of pa2 and pa1's takeover, and checks what pa1's
// snapshot says at each stage.
func TestBuildThroughAFailover(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	p.Run(20 * time.Second)

	s := snapshot(p, 0)
	if s.Local != "pa1" || s.Resources != "local" || len(s.Nodes) != 2 {
		t.Fatalf("settled pair: local %q resources %q, %d nodes", s.Local, s.Resources, len(s.Nodes))
	}
	for _, n := range s.Nodes {
		if n.Status != "active" || n.Generation == 0 || n.LastHeard == nil || len(n.Links) != 2 {
			t.Errorf("settled pair: node %+v", n)
		}
		for _, l := range n.Links {
			if l.Status != "up" || l.LossPct != 0 || l.Late != 0 || l.Received == 0 {
				t.Errorf("settled pair: %s link %+v", n.Name, l)
			}
		}
	}
	if g := group(t, s, group1); g.Owner != "pa1" || g.State != "running" {
		t.Errorf("pa1's own group: %+v", g)
	}
	// pa2's group runs there: pa1 knows from pa2's resource claim.
	if g := group(t, s, group2); g.Owner != "pa2" || g.State != "running" || g.Home != "pa2" {
		t.Errorf("pa2's group seen from pa1: %+v", g)
	}
	if s.LastFailover != nil || s.Failovers != 0 {
		t.Errorf("failover before any death: %+v", s.LastFailover)
	}

	// eth2 loses everything for 8 s (past deadtime: the link dies), then
	// carries again: its own gap shows as loss and a late status.
	p.Cut["eth2"] = true
	p.Run(8 * time.Second)
	if l := link(t, snapshot(p, 0), "pa2", "eth2"); l.Status != "dead" {
		t.Errorf("cut eth2 after 8 s: %+v", l)
	}
	if l := link(t, snapshot(p, 0), "pa2", "eth1"); l.Status != "up" || l.Lost != 0 {
		t.Errorf("eth1 while eth2 is cut: %+v", l)
	}
	p.Cut["eth2"] = false
	p.Run(3 * time.Second)
	s = snapshot(p, 0)
	if l := link(t, s, "pa2", "eth2"); l.Status != "up" || l.Lost < 6 || l.Late != 1 || l.LossPct < 10 {
		t.Errorf("eth2 after the repair: %+v", l)
	}
	if n := s.Nodes[1]; n.Status != "active" {
		t.Errorf("pa2 while one link was cut: %+v", n)
	}

	// pa2's daemon dies: pa1 declares it dead after deadtime and takes its
	// group over.
	p.Run(2 * time.Minute) // the loss window moves on
	if l := link(t, snapshot(p, 0), "pa2", "eth2"); l.LossPct != 0 {
		t.Errorf("eth2 loss two minutes later: %+v", l)
	}
	killedAt := p.Now
	p.Kill(1)
	p.Run(10 * time.Second)
	s = snapshot(p, 0)
	if s.Nodes[1].Status != "dead" || s.Nodes[1].Links[0].Status != "dead" {
		t.Errorf("pa2 after kill -9: %+v", s.Nodes[1])
	}
	g := group(t, s, group2)
	if g.Owner != "pa1" || g.State != "running" {
		t.Errorf("pa2's group after the takeover: %+v", g)
	}
	f := s.LastFailover
	if f == nil || s.Failovers != 1 {
		t.Fatalf("no failover recorded: %d %+v", s.Failovers, f)
	}
	if f.Peer != "pa2" || !f.OK || !slices.Equal(f.Groups, []string{group2}) ||
		!strings.HasPrefix(f.Reason, "node pa2 dead: no status for 5") {
		t.Errorf("failover: %+v", f)
	}
	// Declared dead one deadtime (plus the dead check) after the last
	// status; over after the group's status probe and start.
	if d := f.Began.Sub(*f.PeerLastHeard); d < deadtime || d > deadtime+10*time.Millisecond {
		t.Errorf("death declared %v after the last status", d)
	}
	if f.PeerLastHeard.Before(killedAt.Add(-keepalive)) || f.PeerLastHeard.After(killedAt.Add(time.Millisecond)) { // one in flight
		t.Errorf("peer last heard %v, killed at %v", f.PeerLastHeard, killedAt)
	}
	if f.DurationMS < int64((statustest.StartTook+statustest.ProbeTook)/time.Millisecond) || f.DurationMS > 1000 {
		t.Errorf("takeover took %d ms", f.DurationMS)
	}
	if !g.Since.Equal(f.Ended) {
		t.Errorf("group running since %v, takeover ended %v", g.Since, f.Ended)
	}
	if s.Fencing.Attempts != 0 || s.Fencing.Last != nil || s.Fencing.Devices != nil {
		t.Errorf("fencing without a device: %+v", s.Fencing)
	}
}

// TestStartingAtTheDeath: the takeover's start shows as "starting" on the
// event that declares the peer dead, and the failover is recorded only
// when it is over.
func TestStartingAtTheDeath(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	p.Run(20 * time.Second)
	p.Kill(1)
	for i := 0; snapshot(p, 0).Nodes[1].Status != "dead"; i++ {
		if i > 10000 {
			t.Fatal("pa2 never declared dead")
		}
		p.Run(time.Millisecond)
	}
	s := snapshot(p, 0)
	if g := group(t, s, group2); g.State != "starting" || g.Owner != "pa1" || !g.Since.Equal(s.Time) {
		t.Errorf("pa2's group when pa2 is declared dead: %+v", g)
	}
	if s.LastFailover != nil {
		t.Errorf("failover recorded before it ended: %+v", s.LastFailover)
	}
	p.Run(2 * time.Second)
	if s := snapshot(p, 0); s.Failovers != 1 || group(t, s, group2).State != "running" {
		t.Errorf("after the takeover: %d failovers, %+v", s.Failovers, group(t, s, group2))
	}
}

// TestLegacyFailover: in legacy mode the peer claims nothing; a live peer
// is taken to hold its home groups, and a takeover is recorded the same.
func TestLegacyFailover(t *testing.T) {
	p := statustest.New(t, rm.FailbackLegacy)
	p.Run(20 * time.Second)
	s := snapshot(p, 0)
	if g := group(t, s, group2); g.Owner != "pa2" || g.State != "running" {
		t.Errorf("pa2's group seen from pa1, legacy: %+v", g)
	}
	if g := group(t, snapshot(p, 1), group1); g.Owner != "pa1" || g.State != "running" {
		t.Errorf("pa1's group seen from pa2, legacy: %+v", g)
	}
	p.Kill(1)
	p.Run(10 * time.Second)
	s = snapshot(p, 0)
	if f := s.LastFailover; s.Failovers != 1 || f == nil || !f.OK || !slices.Equal(f.Groups, []string{group2}) {
		t.Errorf("legacy takeover: %d %+v", s.Failovers, f)
	}
}

// TestShutdownIsNoFailover: a peer that stops cleanly hands its groups
// over; that is no failover, though it goes silent afterwards.
func TestShutdownIsNoFailover(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	p.Run(20 * time.Second)
	p.Shutdown(1)
	p.Run(5 * time.Second)
	p.Kill(1)
	p.Run(20 * time.Second)
	s := snapshot(p, 0)
	if g := group(t, s, group2); g.Owner != "pa1" || g.State != "running" {
		t.Errorf("pa2's group after pa2 stopped: %+v", g)
	}
	if s.Failovers != 0 || s.LastFailover != nil {
		t.Errorf("a clean stop recorded as a failover: %+v", s.LastFailover)
	}
}

// TestGolden pins the JSON layout and the table: a change to either shows
// in the diff of testdata/*.golden (regenerate with -update), and the JSON
// keys must also match the list in heartbeatd(8).
func TestGolden(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	p.Run(20 * time.Second)
	p.Kill(1)
	p.Run(10 * time.Second)
	s := snapshot(p, 0)

	var js bytes.Buffer
	if err := json.Indent(&js, []byte(s.JSON()), "", "  "); err != nil {
		t.Fatal(err)
	}
	js.WriteByte('\n')
	golden(t, "status.json.golden", js.Bytes())
	golden(t, "status.txt.golden", []byte(Render(s)))

	back, err := Parse([]byte(s.JSON()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("JSON round trip (-built +parsed):\n%s", diff)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// schemaKeys is the JSON schema as heartbeatd(8) documents it: every key
// path a fully populated snapshot has. Adding a field adds a line here and
// in the man page; renaming or removing one breaks scripts and is refused.
var schemaKeys = []string{
	"failovers",
	"fencing", "fencing.attempts", "fencing.devices", "fencing.devices[].checked", "fencing.devices[].name",
	"fencing.devices[].state", "fencing.failed", "fencing.last", "fencing.last.at", "fencing.last.node",
	"fencing.last.ok", "fencing.succeeded",
	"groups", "groups[].home", "groups[].key", "groups[].monitor_restarts", "groups[].owner", "groups[].refused_until",
	"groups[].resources", "groups[].since", "groups[].state",
	"last_failover", "last_failover.began", "last_failover.duration_ms", "last_failover.ended",
	"last_failover.groups", "last_failover.ok", "last_failover.peer", "last_failover.peer_last_heard",
	"last_failover.reason",
	"local",
	"nodes", "nodes[].generation", "nodes[].last_heard", "nodes[].links", "nodes[].links[].last_heard",
	"nodes[].links[].late", "nodes[].links[].loss_pct", "nodes[].links[].lost", "nodes[].links[].name",
	"nodes[].links[].received", "nodes[].links[].status", "nodes[].local", "nodes[].name", "nodes[].status",
	"nodes[].type",
	"resources", "schema", "time", "version",
}

func TestSchemaKeys(t *testing.T) {
	now := t0
	full := &Snapshot{
		Nodes:        []Node{{LastHeard: &now, Links: []Link{{LastHeard: &now}}}},
		Groups:       []Group{{Resources: []string{"x"}, RefusedUntil: &now}},
		Fencing:      Fencing{Devices: []FenceDevice{{Checked: &now}}, Last: &Fence{}},
		LastFailover: &Failover{PeerLastHeard: &now, Groups: []string{"x"}},
	}
	var v any
	if err := json.Unmarshal([]byte(full.JSON()), &v); err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				got = append(got, p)
				walk(p, x)
			}
		case []any:
			for _, x := range v {
				if _, obj := x.(map[string]any); obj {
					walk(prefix+"[]", x)
				}
			}
		}
	}
	walk("", v)
	sort.Strings(got)
	got = slices.Compact(got)
	if diff := cmp.Diff(schemaKeys, got); diff != "" {
		t.Errorf("JSON keys (-documented +built):\n%s", diff)
	}
	// Empty lists are [] and absent times null, never missing keys.
	empty := (&Snapshot{Nodes: []Node{}, Groups: []Group{}}).JSON()
	for _, want := range []string{`"nodes":[]`, `"groups":[]`, `"last_failover":null`, `"devices":null`, `"last":null`} {
		if !strings.Contains(empty, want) {
			t.Errorf("empty snapshot %s lacks %s", empty, want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		400 * time.Millisecond: "0.4s", 12 * time.Second: "12s", 184 * time.Second: "3m04s",
		2*time.Hour + 3*time.Minute: "2h03m", 5*24*time.Hour + 2*time.Hour: "5d02h",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestManPageDocumentsSchema: heartbeatd(8)'s STATUS JSON section names
// every key of the schema.
func TestManPageDocumentsSchema(t *testing.T) {
	page, err := os.ReadFile("../../man/heartbeatd.8")
	if err != nil {
		t.Fatal(err)
	}
	text := string(page)
	i, j := strings.Index(text, ".SH STATUS JSON"), strings.Index(text, ".SH METRICS")
	if i < 0 || j < i {
		t.Fatal("heartbeatd.8 has no STATUS JSON section before METRICS")
	}
	section := strings.ReplaceAll(text[i:j], `\-`, "-")
	for _, k := range schemaKeys {
		leaf := k[strings.LastIndexAny(k, ".]")+1:]
		if !strings.Contains(section, ".B "+leaf+"\n") && !strings.Contains(section, ".BR "+leaf+" ") &&
			!strings.Contains(section, ".BR "+leaf+",") && !strings.Contains(section, ".B "+leaf+" ") &&
			!strings.Contains(section, `" `+leaf+` "`) && !strings.Contains(section, `.BR `+leaf+` "`) {
			t.Errorf("heartbeatd.8 STATUS JSON does not name %s (%s)", leaf, k)
		}
	}
}

// The fence devices' last checks, as the shell reports them, show with
// their state and time; a device that fails its check shows "failing".
func TestFenceDeviceStates(t *testing.T) {
	p := statustest.New(t, rm.FailbackOn)
	n := p.Node(0)
	n.Step(p.Now, node.FenceDeviceChecked{Name: "stonith_host * external/ipmi", OK: true})
	n.Step(p.Now, node.FenceDeviceChecked{Name: "fence_agent * ipmilan", OK: false})
	p.Run(time.Second)
	n.Step(p.Now, node.FenceDeviceChecked{Name: "stonith_host * external/ipmi", OK: false})
	s := Build("test", n, p.Now)
	d := s.Fencing.Devices
	if len(d) != 2 || d[0].Name != "stonith_host * external/ipmi" || d[0].State != "failing" ||
		d[1].State != "failing" || d[0].Checked == nil || !d[0].Checked.Equal(p.Now.UTC()) && !d[0].Checked.Equal(p.Now) {
		t.Fatalf("devices %+v", d)
	}
}

// What resource monitoring did to a group is one line under the table,
// and nothing for a group it never touched.
func TestRenderMonitorLine(t *testing.T) {
	until := t0.Add(29*time.Minute + 30*time.Second)
	s := &Snapshot{Time: t0, Local: "pa1", Groups: []Group{
		{Key: "10.0.0.1", State: "running", Owner: "pa2", Since: t0, Resources: []string{"10.0.0.1"}, MonitorRestarts: 2, RefusedUntil: &until},
		{Key: "10.0.0.2", State: "running", Owner: "pa1", Since: t0, Resources: []string{"10.0.0.2"}},
		{Key: "10.0.0.3", State: "running", Owner: "pa1", Since: t0, Resources: []string{"10.0.0.3"}, MonitorRestarts: 1},
	}}
	out := Render(s)
	for _, want := range []string{
		"  monitor: 10.0.0.1 restarted 2 times here for monitor failures within monitor_window; handed to the peer for monitor failures; " +
			"not taken back here before 2026-12-02 03:29:30 (29m30s from now) or `heartbeatd cleanup 10.0.0.1`\n",
		"  monitor: 10.0.0.3 restarted once here for monitor failures within monitor_window\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "monitor: 10.0.0.2") {
		t.Errorf("a monitor line for a group monitoring never touched:\n%s", out)
	}
}
