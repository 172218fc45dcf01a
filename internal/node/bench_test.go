package node

import (
	"testing"
	"time"

	"heartbeatd/internal/membership"
)

// BenchmarkReceiveStatus is the node's work for one keepalive from the
// peer, the packet an idle cluster handles most: it must cost no more than
// membership's own handling of it.
func BenchmarkReceiveStatus(b *testing.B) {
	w := newWorld(b, 1, "on")
	w.start(0)
	w.start(1)
	w.run(30 * time.Second)
	// Capture pa2's next status as pa1 would receive it.
	var status Received
	for _, a := range w.nodes[1].n.Step(w.now.Add(simKeepalive), Tick{}) {
		if tx, ok := a.(Transmit); ok && tx.Msg.Type() == "status" {
			status = Received{Msg: tx.Msg, Link: "eth1"}
		}
	}
	if status.Msg == nil {
		b.Fatal("no status from pa2")
	}
	n := w.nodes[0].n
	now := w.now
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The same packet again: membership drops it as a duplicate
		// after the first, which is what the second link's copy costs.
		n.Step(now, status)
	}
}

// BenchmarkReceiveStatusMembership is the same packet given to membership
// alone, the floor for BenchmarkReceiveStatus.
func BenchmarkReceiveStatusMembership(b *testing.B) {
	w := newWorld(b, 1, "on")
	w.start(0)
	w.start(1)
	w.run(30 * time.Second)
	var status Received
	for _, a := range w.nodes[1].n.Step(w.now.Add(simKeepalive), Tick{}) {
		if tx, ok := a.(Transmit); ok && tx.Msg.Type() == "status" {
			status = Received{Msg: tx.Msg, Link: "eth1"}
		}
	}
	mem := w.nodes[0].n.Membership()
	now := w.now
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mem.Step(now, membership.Received{Msg: status.Msg, Link: status.Link})
	}
}
