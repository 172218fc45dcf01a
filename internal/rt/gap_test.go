package rt

import (
	"strings"
	"testing"
	"time"
)

func TestGapMeterReportsOncePerWindowAboveThreshold(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	g := &GapMeter{Window: time.Minute, Threshold: 500 * time.Millisecond}
	var lines []string
	send := func(ms int) {
		if s := g.Sent(at(ms)); s != "" {
			lines = append(lines, s)
		}
	}
	// First minute: regular 100 ms keepalives with one 1700 ms stall.
	ms := 0
	for ; ms < 30000; ms += 100 {
		send(ms)
	}
	ms += 1600 // the stall: next keepalive 1700 ms after the previous one
	for ; ms <= 60100; ms += 100 {
		send(ms)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "1700 ms") {
		t.Fatalf("after the first window got %q, want one line naming 1700 ms", lines)
	}
	// Second minute: only small gaps (400 ms < threshold): nothing.
	for ; ms <= 125000; ms += 400 {
		send(ms)
	}
	if len(lines) != 1 {
		t.Fatalf("gaps below the threshold were reported: %q", lines[1:])
	}
}

func TestGapMeterResetForgetsPrevious(t *testing.T) {
	base := time.Unix(0, 0)
	g := &GapMeter{Window: time.Second, Threshold: 100 * time.Millisecond}
	g.Sent(base)
	g.Reset()
	// 5 s later: after a Reset this is a first keepalive, not a gap.
	if s := g.Sent(base.Add(5 * time.Second)); s != "" {
		t.Fatalf("got %q after Reset", s)
	}
	if s := g.Sent(base.Add(6100 * time.Millisecond)); s == "" || !strings.Contains(s, "1100 ms") {
		t.Fatalf("got %q, want the 1100 ms gap", s)
	}
}
