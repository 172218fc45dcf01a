package node

import (
	"testing"
	"time"

	"heartbeatd/internal/membership"
)

// keepalivePair is a settled pair and a status of pa2's as pa1 receives it.
func keepalivePair(b *testing.B) (*world, Received) {
	w := newWorld(b, 1, "on")
	w.start(0)
	w.start(1)
	w.run(30 * time.Second)
	for _, a := range w.nodes[1].n.Step(w.now.Add(simKeepalive), Tick{}) {
		if tx, ok := a.(Transmit); ok && tx.Msg.Type() == "status" {
			return w, Received{Msg: tx.Msg, Link: "eth1"}
		}
	}
	b.Fatal("no status from pa2")
	return nil, Received{}
}

// BenchmarkReceiveStatus is the node's work for one keepalive from the
// peer, the packet an idle cluster handles most: it must cost no more than
// membership's own handling of it (BenchmarkReceiveStatusMembership).
func BenchmarkReceiveStatus(b *testing.B) {
	w, status := keepalivePair(b)
	n, now := w.nodes[0].n, w.now
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
	w, status := keepalivePair(b)
	mem, now := w.nodes[0].n.Membership(), w.now
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mem.Step(now, membership.Received{Msg: status.Msg, Link: status.Link})
	}
}

// BenchmarkIdleKeepalive is one keepalive of a settled idle pair, both
// nodes, as the shell drives them on two links: each node's alarm, then
// every message sent delivered on both links to both nodes (bcast loops
// our own back), acks included. It is the protocol's share of an idle
// daemon's CPU (the rest is the kernel's and the runtime's: the bench's
// floor program).
func BenchmarkIdleKeepalive(b *testing.B) {
	w, _ := keepalivePair(b)
	nodes := []*Node{w.nodes[0].n, w.nodes[1].n}
	now := w.now
	var queue []Transmit
	collect := func(acts []Action) {
		for _, a := range acts {
			if tx, ok := a.(Transmit); ok {
				queue = append(queue, tx)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(simKeepalive)
		for _, n := range nodes {
			collect(n.Step(now, Tick{}))
		}
		for len(queue) > 0 {
			tx := queue[0]
			queue = queue[1:]
			for _, n := range nodes {
				for _, link := range []string{"eth1", "eth2"} {
					collect(n.Step(now, Received{Msg: tx.Msg, Link: link}))
				}
			}
		}
	}
}
