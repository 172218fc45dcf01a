//go:build netns

package media

import (
	"testing"
	"time"

	"heartbeatd/internal/membership"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
	"heartbeatd/tests/netlab"
)

// A ping medium in node a pings node b, whose kernel answers the echo: the
// replies, decoded with our own keyring and stepped into a membership
// table as the daemon does, make b's address a ping node with status
// ping; when b stops answering (nftables drops everything on its side)
// the node is dead after deadping, and alive again once b answers.
func TestPingMediumMakesPingNodeAliveAndDead(t *testing.T) {
	l := netlab.New(t, t.Name())
	br := l.AddBridge("link1")
	a, b := l.AddNode("a"), l.AddNode("b")
	a.Connect(br, "eth1", "")
	b.Connect(br, "eth1", "")
	target := b.Addr("eth1").Addr().String()

	kr := testKeys(t)
	link, recv, rec := openLink(t, Spec{Kind: KindPing, Peer: target, Hosts: target},
		Config{NetnsPath: a.NetnsPath(), Keys: func() *wire.Keyring { return kr }})
	if !link.Up() {
		t.Fatalf("ping medium down: %v", rec.lines)
	}
	mem, err := membership.New(membership.Config{Local: "a", Nodes: []string{"a"}, Links: []string{"eth1"},
		Keepalive: 100 * time.Millisecond, Deadtime: time.Second, Warntime: 500 * time.Millisecond,
		Initdead: time.Second, MaxRexmitDelay: 250 * time.Millisecond, Generation: 1, HopFudge: 1,
		DeadCheck: 10 * time.Millisecond, PingNames: []string{target}, Deadping: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	do := func(acts []membership.Action) {
		for _, act := range acts {
			switch act := act.(type) {
			case membership.Transmit:
				pkt, err := kr.Seal(act.Msg)
				if err != nil {
					t.Fatal(err)
				}
				if err := link.Send(pkt); err != nil {
					t.Logf("send: %v", err)
				}
			case membership.Log:
				log = append(log, act.Text)
			}
		}
	}
	do(mem.Step(time.Now(), membership.Start{}))
	status := func() nodestatus.Status { return mem.PingNodes()[0].Status }
	waitFor := func(want nodestatus.Status) time.Duration {
		t.Helper()
		start := time.Now()
		deadline := start.Add(5 * time.Second)
		for status() != want && time.Now().Before(deadline) {
			select {
			case p := <-recv:
				m, err := wire.Decode(p.Data, kr)
				if err != nil {
					t.Fatalf("echo reply from %v does not verify: %v", p.From, err)
				}
				if p.Link != target || p.From.Addr().String() != target {
					t.Fatalf("reply on %s from %v", p.Link, p.From)
				}
				do(mem.Step(time.Now(), membership.Received{Msg: m, Link: p.Link}))
			case <-time.After(time.Until(mem.NextWake())):
				do(mem.Step(time.Now(), membership.Tick{}))
			}
		}
		if status() != want {
			t.Fatalf("ping node %s is %s, want %s; log %q", target, status(), want, log)
		}
		return time.Since(start)
	}
	waitFor(membership.StatusPing)
	b.Cut("eth1")
	if d := waitFor(membership.StatusDead); d < 500*time.Millisecond {
		t.Errorf("dead %v after the cut, deadping is 600ms", d)
	}
	b.Heal("eth1")
	waitFor(membership.StatusPing)
	want := []string{"Status update for node " + target + ": status ping", "node " + target + ": is dead"}
	for _, w := range want {
		found := false
		for _, line := range log {
			found = found || line == w
		}
		if !found {
			t.Errorf("log lacks %q: %q", w, log)
		}
	}
}
