package node

import (
	"strconv"
	"testing"
	"time"

	"heartbeatd/internal/membership"
	"heartbeatd/internal/wire"
)

// TestLinkMeter counts one medium's own gaps, late statuses and loss
// window, and ignores what is not a configured node's.
func TestLinkMeter(t *testing.T) {
	mem, err := membership.New(membership.Config{Local: "pa1", Nodes: []string{"pa1", "pa2"}, Links: []string{"eth1"},
		Keepalive: time.Second, Deadtime: 5 * time.Second, Warntime: 2 * time.Second, Initdead: 10 * time.Second,
		MaxRexmitDelay: 250 * time.Millisecond, Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	var lm linkMeter
	msg := func(src, typ string, gen, seq uint64) *wire.Message {
		m := wire.New(typ)
		m.Set("src", src)
		m.Set("hg", strconv.FormatUint(gen, 16))
		if seq > 0 {
			m.Set("seq", strconv.FormatUint(seq, 16))
		}
		return m
	}
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, p := range []struct {
		at       float64
		src, typ string
		gen, seq uint64
		link     string
	}{
		{0, "pa2", "status", 7, 0x10, "eth1"},
		{1, "pa2", "status", 7, 0x11, "eth1"},
		{2, "PA2", "status", 7, 0x14, "eth1"},   // 0x12, 0x13 missed here; upper case as sent
		{2.1, "pa2", "status", 7, 0x12, "eth1"}, // a retransmission: no gain, no loss
		{2.2, "pa2", "NS_ackmsg", 7, 0, "eth1"}, // no seq
		{5, "pa2", "status", 7, 0x15, "eth1"},   // 3 s after the last: late
		{6, "pa2", "status", 9, 0x1, "eth1"},    // restarted: starts over
		{7, "pa2", "status", 8, 0x30, "eth1"},   // an older generation's
		{7, "pa3", "status", 1, 0x1, "eth1"},    // not a node of ours
		{7, "pa2", "status", 9, 0x2, "eth9"},    // not a medium of ours
	} {
		lm.observe(at(p.at), msg(p.src, p.typ, p.gen, p.seq), p.link, mem)
	}
	got := lm.stats(at(7), "pa2", "eth1")
	if got.Received != 8 || got.Lost != 2 || got.Late != 1 || got.LossPct != 100*2.0/7 {
		t.Errorf("pa2 on eth1: %+v", got)
	}
	if len(lm.links) != 1 {
		t.Errorf("kept %d links, want pa2:eth1 only", len(lm.links))
	}
	// The loss leaves the percentage after one to two minutes.
	lm.observe(at(70), msg("pa2", "status", 9, 0x2), "eth1", mem)
	if got := lm.stats(at(70), "pa2", "eth1"); got.LossPct == 0 {
		t.Errorf("loss gone after 70 s: %+v", got)
	}
	lm.observe(at(130), msg("pa2", "status", 9, 0x3), "eth1", mem)
	if got := lm.stats(at(130), "pa2", "eth1"); got.LossPct != 0 || got.Lost != 2 {
		t.Errorf("after 130 s: %+v", got)
	}
}
