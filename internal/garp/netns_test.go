//go:build netns

package garp

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"heartbeatd/internal/agent/addr/addrtest"
	"heartbeatd/internal/clock"
	"heartbeatd/tests/netlab"
)

// capture records every ARP frame an interface of a node sees, with its
// arrival time, until stop is called.
type capture struct {
	mu     sync.Mutex
	frames []seen
	conn   *Conn
	done   chan struct{}
}

type seen struct {
	At time.Time
	P  Packet
}

func startCapture(t *testing.T, n *netlab.Node, iface string) *capture {
	t.Helper()
	c := &capture{done: make(chan struct{})}
	if err := n.Do(func() (err error) { c.conn, err = Open(iface); return err }); err != nil {
		t.Fatalf("capture on %s/%s: %v", n.Name, iface, err)
	}
	go func() {
		defer close(c.done)
		for {
			p, err := c.conn.ReadPacket(time.Now().Add(time.Minute))
			if err != nil {
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, seen{time.Now(), p})
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *capture) stop() []seen {
	c.conn.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]seen(nil), c.frames...)
}

// gratuitous filters the frames announcing ip from mac.
func gratuitous(frames []seen, ip netip.Addr, mac net.HardwareAddr) []seen {
	var out []seen
	for _, f := range frames {
		if f.P.IsGratuitous(ip) && f.P.SenderMAC.String() == mac.String() && f.P.EthSrc.String() == mac.String() {
			out = append(out, f)
		}
	}
	return out
}

// TestBurstOnTheWire sends a real burst from one namespace and checks, from
// another one on the same bridge, the count, both forms, the sender MAC and
// the spacing.
func TestBurstOnTheWire(t *testing.T) {
	l := netlab.New(t, t.Name())
	br := l.AddBridge("lan")
	holder, client := l.AddNode("holder"), l.AddNode("client")
	holder.Connect(br, "eth1", "")
	client.Connect(br, "eth1", "")
	vip := br.Addr(200).Addr()
	cap := startCapture(t, client, "eth1")

	b := Burst{Count: 5, Fast: 3, FastInterval: 200 * time.Millisecond, SlowInterval: 1100 * time.Millisecond, Mode: ModeBoth}
	var mac net.HardwareAddr
	var sent int
	err := holder.Do(func() error {
		c, err := Open("eth1")
		if err != nil {
			return err
		}
		defer c.Close()
		mac = c.MAC()
		a := &Announcer{Burst: b, Clock: clock.Real{}, Out: c, MAC: c.MAC(), IP: vip}
		sent, err = a.Send(0, b.Count, 0)
		return err
	})
	if err != nil || sent != 5 {
		t.Fatalf("burst: sent %d, %v", sent, err)
	}
	time.Sleep(50 * time.Millisecond) // let the last frame cross the bridge
	got := gratuitous(cap.stop(), vip, mac)
	if len(got) != 10 {
		t.Fatalf("client saw %d gratuitous frames for %s from %s, want 10 (5 slots × request+reply)", len(got), vip, mac)
	}
	offsets := b.Offsets()
	for i, f := range got {
		wantOp := OpRequest
		if i%2 == 1 {
			wantOp = OpReply
		}
		if f.P.Op != wantOp {
			t.Errorf("frame %d is a %v, want %v", i, f.P.Op, wantOp)
		}
		at := f.At.Sub(got[0].At)
		if d := at - offsets[i/2]; d < -30*time.Millisecond || d > 60*time.Millisecond {
			t.Errorf("frame %d (slot %d) arrived at +%v, want +%v (±)", i, i/2, at, offsets[i/2])
		}
		t.Logf("slot %d %-7v +%v", i/2, f.P.Op, at.Round(100*time.Microsecond))
	}
}

func TestDetectConflict(t *testing.T) {
	l := netlab.New(t, t.Name())
	br := l.AddBridge("lan")
	a, b := l.AddNode("a"), l.AddNode("b")
	a.Connect(br, "eth1", "")
	b.Connect(br, "eth1", "")
	taken, free := br.Addr(200), br.Addr(201).Addr()
	a.MustExec("ip", "addr", "add", taken.String(), "dev", "eth1")
	aMAC := addrtest.MAC(t, a, "eth1")

	var errTaken, errFree error
	start := time.Now()
	if err := b.Do(func() error {
		c, err := Open("eth1")
		if err != nil {
			return err
		}
		defer c.Close()
		errTaken = c.DetectConflict(taken.Addr(), 250*time.Millisecond)
		errFree = c.DetectConflict(free, 250*time.Millisecond)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var conflict *Conflict
	if !errors.As(errTaken, &conflict) || conflict.MAC.String() != aMAC.String() {
		t.Fatalf("probe for %s held by a (%s): %v", taken.Addr(), aMAC, errTaken)
	}
	if errFree != nil {
		t.Fatalf("probe for unused %s: %v", free, errFree)
	}
	// The holder answers at once; the free address costs the full wait.
	if el := time.Since(start); el < 250*time.Millisecond || el > 700*time.Millisecond {
		t.Errorf("two probes took %v", el)
	}
	// A node must not see its own address as a conflict (our own outgoing
	// frames come back on the packet socket).
	if err := a.Do(func() error {
		c, err := Open("eth1")
		if err != nil {
			return err
		}
		defer c.Close()
		return c.DetectConflict(free, 100*time.Millisecond)
	}); err != nil {
		t.Fatalf("own probe counted as a conflict: %v", err)
	}
}

func TestOpenMissingInterface(t *testing.T) {
	l := netlab.New(t, t.Name())
	n := l.AddNode("n")
	err := n.Do(func() error { _, err := Open("eth9"); return err })
	if err == nil || !strings.Contains(err.Error(), "interface eth9") {
		t.Fatalf("missing interface: %v", err)
	}
}
