package rt

import (
	"fmt"
	"time"
)

// GapMeter watches the intervals between our own keepalives (spec §5.5
// "No local heartbeat"): when the daemon itself is starved, the peer sees
// late heartbeats and may declare us dead although nothing is wrong with
// the network. At most once per window it reports the longest gap of that
// window, and only when it exceeded the threshold (half of warntime), so a
// slow machine shows up in our log before it shows up as a failover.
// Pure: time enters only as arguments.
type GapMeter struct {
	Window    time.Duration // one report per window at most (a minute)
	Threshold time.Duration // gaps above this are worth a line

	last     time.Time // previous keepalive sent; zero: none yet
	winStart time.Time
	longest  time.Duration
}

// Sent records a keepalive sent at now. It returns a log line when a window
// with a gap above the threshold has just closed, else "".
func (g *GapMeter) Sent(now time.Time) string {
	defer func() { g.last = now }()
	if g.last.IsZero() {
		g.winStart = now
		return ""
	}
	if gap := now.Sub(g.last); gap > g.longest {
		g.longest = gap
	}
	if now.Sub(g.winStart) < g.Window {
		return ""
	}
	longest := g.longest
	g.winStart, g.longest = now, 0
	if longest <= g.Threshold {
		return ""
	}
	return fmt.Sprintf("Longest gap between two local heartbeats in the last %v: %d ms (above half of warntime, %d ms); the daemon is being starved (load, swapping, realtime off?)",
		g.Window, longest.Milliseconds(), g.Threshold.Milliseconds())
}

// Reset forgets the previous keepalive (after a timing change, so the
// change itself does not look like a gap).
func (g *GapMeter) Reset() { g.last = time.Time{}; g.longest = 0 }
