//go:build netns

package media

import (
	"errors"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/tests/netlab"
)

// lab2 is the Heartbeat lab topology: nodes a and b, links eth1 and eth2
// on two bridges. The returned bridges allow adding interfaces later.
func lab2(t *testing.T) (a, b *netlab.Node, br1, br2 *netlab.Bridge) {
	l := netlab.New(t, t.Name())
	br1, br2 = l.AddBridge("link1"), l.AddBridge("link2")
	a, b = l.AddNode("a"), l.AddNode("b")
	for _, n := range []*netlab.Node{a, b} {
		n.Connect(br1, "eth1", "")
		n.Connect(br2, "eth2", "")
	}
	return a, b, br1, br2
}

func openIn(t *testing.T, n *netlab.Node, s Spec) (*Link, chan Packet, *logRecorder) {
	return openLink(t, s, Config{NetnsPath: n.NetnsPath()})
}

// sendUntilReceived sends data every 100ms until it arrives, like a
// heartbeat does: right after an interface comes (back) up, the veth
// carrier may lag the admin state by a moment and the first copy be lost.
func sendUntilReceived(t *testing.T, l *Link, data string, ch <-chan Packet, from *netlab.Node) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err := l.Send([]byte(data)); err != nil {
			t.Logf("send %q: %v", data, err)
		}
		select {
		case p := <-ch:
			if string(p.Data) == data {
				if p.Link != l.Name() || p.From.Addr() != from.Addr(l.Name()).Addr() {
					t.Fatalf("packet %q arrived as %s from %v", data, p.Link, p.From)
				}
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("packet %q never arrived on %s", data, l.Name())
}

// expectFrom is expectPacket that also checks the sender address.
func expectFrom(t *testing.T, ch <-chan Packet, link, data string, from *netlab.Node, ifname string) {
	t.Helper()
	p := expectPacket(t, ch, link, data)
	if p.From.Addr() != from.Addr(ifname).Addr() {
		t.Fatalf("packet %q from %v, want %s's %s address %s", data, p.From, from.Name, ifname, from.Addr(ifname).Addr())
	}
}

func TestBcastTwoLinksAttributedToTheirDevice(t *testing.T) {
	a, b, _, _ := lab2(t)
	a1, _, _ := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth1"})
	a2, _, _ := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth2"})
	// b's two media share 0.0.0.0:694; each must see only its own device.
	_, b1rx, rec := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth1"})
	_, b2rx, _ := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth2"})
	if !rec.has("UDP Broadcast heartbeat started on port 694 (694) interface eth1") {
		t.Error("no Heartbeat-style start line")
	}
	sendUntilReceived(t, a1, "via-eth1", b1rx, a)
	sendUntilReceived(t, a2, "via-eth2", b2rx, a)
	expectNoPacket(t, b1rx, "via-eth2", 200*time.Millisecond)
	expectNoPacket(t, b2rx, "via-eth1", 10*time.Millisecond)
}

func TestUcastBothWays(t *testing.T) {
	a, b, _, _ := lab2(t)
	ab, arx, rec := openIn(t, a, Spec{Kind: KindUcast, Interface: "eth2", Peer: b.Addr("eth2").Addr().String()})
	ba, brx, _ := openIn(t, b, Spec{Kind: KindUcast, Interface: "eth2", Peer: a.Addr("eth2").Addr().String()})
	if !rec.has("ucast: started on port 694 interface eth2 to " + b.Addr("eth2").Addr().String()) {
		t.Error("no ucast start line")
	}
	sendUntilReceived(t, ab, "a-to-b", brx, a)
	sendUntilReceived(t, ba, "b-to-a", arx, b)
}

func TestMcastLoopControlsOwnCopy(t *testing.T) {
	a, b, _, _ := lab2(t)
	for _, loop := range []bool{false, true} {
		spec := Spec{Kind: KindMcast, Interface: "eth1", Group: "239.0.0.43", Port: 6940, TTL: 1, Loop: loop}
		am, arx, _ := openIn(t, a, spec)
		bm, brx, _ := openIn(t, b, spec)
		msg := "mcast-loop-" + map[bool]string{false: "0", true: "1"}[loop]
		sendUntilReceived(t, am, msg, brx, a)
		if loop {
			expectFrom(t, arx, "eth1", msg, a, "eth1")
		} else {
			expectNoPacket(t, arx, msg, 200*time.Millisecond)
		}
		am.Close()
		bm.Close()
	}
}

func TestMissingInterfaceIsDownThenRecovers(t *testing.T) {
	a, b, _, _ := lab2(t)
	br3 := a.Lab().AddBridge("link3")
	b.Connect(br3, "eth3", "")
	_, brx, _ := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth3"})

	am, _, rec := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth3"})
	if up, why := am.Status(); up || why != "interface eth3 not found" {
		t.Fatalf("status of bcast on a missing eth3: up=%v %q", up, why)
	}
	if err := am.Send([]byte("x")); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("send on missing interface: %v, want ErrLinkDown", err)
	}
	if !rec.has("WARN: link eth3 down: interface eth3 not found") {
		t.Fatal("no down log line")
	}
	a.Connect(br3, "eth3", "")
	waitUp(t, am)
	if !rec.has("info: link eth3 recovered") {
		t.Error("no recovered log line")
	}
	sendUntilReceived(t, am, "late-eth3", brx, a)
}

func TestInterfaceDownUpAndRecreated(t *testing.T) {
	a, b, br1, _ := lab2(t)
	am, _, rec := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth1"})
	_, brx, _ := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth1"})

	a.SetLink("eth1", false)
	// A send right away may still be accepted by the kernel or refused;
	// either way the link must go down within a retry period.
	_ = am.Send([]byte("during-down"))
	waitStatus(t, am, false)
	if _, why := am.Status(); why != "interface eth1 is down" {
		t.Fatalf("reason %q", why)
	}
	if err := am.Send([]byte("x")); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("send while down: %v", err)
	}
	a.SetLink("eth1", true)
	waitUp(t, am)
	sendUntilReceived(t, am, "after-up", brx, a)

	// Delete and re-create: same name, new ifindex. Sockets bound to the
	// old device would be deaf and mute for ever.
	cidr := a.Addr("eth1").String()
	a.DelLink("eth1")
	// The daemon sends every keepalive; the send that fails on the dead
	// device is what re-checks the link now rather than at the next
	// periodic check (Config.Recheck, 10 s).
	if err := am.Send([]byte("after-delete")); err == nil {
		t.Log("a send to the deleted device was accepted")
	}
	waitStatus(t, am, false)
	a.Connect(br1, "eth1", cidr)
	waitUp(t, am)
	sendUntilReceived(t, am, "after-recreate", brx, a)
	if !rec.has("link eth1 recovered") {
		t.Error("no recovered log line")
	}
}

// TestInterfaceRecreatedBetweenChecks: the interface vanishes and returns
// (new ifindex) between two checks, so the link never looked down; the
// check must still notice the sockets are bound to a dead device. The
// retry loop runs on a fake clock so the test decides when checks happen.
func TestInterfaceRecreatedBetweenChecks(t *testing.T) {
	a, b, br1, _ := lab2(t)
	fake := clock.NewFake(time.Unix(0, 0))
	recv := make(chan Packet, 64)
	rec := &logRecorder{t: t}
	am, err := OpenConfig(Spec{Kind: KindBcast, Interface: "eth1"},
		Config{Recv: recv, Log: rec.log, Retry: time.Hour, Clock: fake, NetnsPath: a.NetnsPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { am.Close() })
	_, brx, _ := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth1"})
	sendUntilReceived(t, am, "before", brx, a)

	cidr := a.Addr("eth1").String()
	a.DelLink("eth1")
	a.Connect(br1, "eth1", cidr)
	if !am.Up() {
		t.Fatal("link went down without a check: the fake clock did not hold")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !rec.has("interface re-created") {
		if time.Now().After(deadline) {
			t.Fatalf("re-created interface not noticed; log %q", rec.lines)
		}
		fake.Advance(time.Hour)
		time.Sleep(10 * time.Millisecond)
	}
	waitUp(t, am)
	sendUntilReceived(t, am, "after-recreate", brx, a)
}

func TestCutStopsOneLinkOnly(t *testing.T) {
	a, b, _, _ := lab2(t)
	a1, _, _ := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth1"})
	a2, _, _ := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth2"})
	_, b1rx, _ := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth1"})
	_, b2rx, _ := openIn(t, b, Spec{Kind: KindBcast, Interface: "eth2"})

	sendUntilReceived(t, a1, "before-cut", b1rx, a) // both links work
	b.Cut("eth1")                                   // drop on the receiver's side: a's sends still succeed
	if err := a1.Send([]byte("cut-1")); err != nil {
		t.Fatal(err)
	}
	sendUntilReceived(t, a2, "cut-2", b2rx, a)
	expectNoPacket(t, b1rx, "cut-1", 300*time.Millisecond)

	b.Heal("eth1")
	sendUntilReceived(t, a1, "healed-1", b1rx, a)

	// A cut on the sender's side: the kernel refuses the send (EPERM from
	// nftables); that is an error to count, not a crash, and no down link.
	a.Cut("eth1")
	if err := a1.Send([]byte("cut-a")); err == nil || errors.Is(err, ErrLinkDown) {
		t.Logf("send through a local cut: %v", err)
	}
	expectNoPacket(t, b1rx, "cut-a", 300*time.Millisecond)
	if !a1.Up() {
		t.Fatal("a firewall drop must not take the link down")
	}
}

func TestNoBroadcastAddressIsDown(t *testing.T) {
	a, _, _, _ := lab2(t)
	a.MustExec("ip", "addr", "flush", "dev", "eth2")
	a.MustExec("ip", "addr", "add", "10.250.0.1/24", "dev", "eth2") // no "brd +"
	am, _, _ := openIn(t, a, Spec{Kind: KindBcast, Interface: "eth2"})
	if up, why := am.Status(); up || !strings.Contains(why, "no broadcast address") {
		t.Fatalf("bcast without brd: up=%v %q", up, why)
	}
}
