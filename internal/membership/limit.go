package membership

import (
	"fmt"
	"time"

	"heartbeatd/internal/level"
)

// A peer's NS_rexmit, NS_ackmsg and NS_nak_rexmit carry no seq, so nothing
// stops a recording of one from being played back to us any number of
// times while the peer lives in the same generation. What such a replay
// can make us do is bounded per peer, by token buckets that refill with
// the now of each Step (no timer, no clock read):
//
//   - retransmissions: Heartbeat answers one request with at most
//     MAX_REXMIT_BATCH (50) messages and re-sends one message at most once
//     per max_rexmit_delay-10 ms (ACCEPT_REXMIT_REQ_MS, kept in
//     serveRexmit). On top of that a peer gets 50 retransmissions at once
//     and 50 a second after that. A Heartbeat peer asks once per missing
//     seq every max_rexmit_delay until it has it, and has at most 250
//     missing before it starts over (FLOWCONTROL_LIMIT), so even that
//     worst case is served within 5 s; what the limit refuses, the peer
//     simply asks for again.
//   - NAKs: a peer that gets "seqno too low" gives up on that seq, so a
//     real one needs one NAK per seq we no longer hold, ever. 10 at once,
//     then one a second.
//   - log lines about a peer's packets ("Cannot rexmit pkt", "Rexmit of
//     seq N requested", "corrupted ackseq", "Irretrievably lost packet",
//     the replay lines): 5 at once, then one every 10 s; the first line
//     let through after a pause says how many were left out. Heartbeat
//     logs each of these every time (three lines per NAK).
const (
	rexmitBurst = maxRexmitBatch
	rexmitEvery = time.Second / maxRexmitBatch
	nakBurst    = 10
	nakEvery    = time.Second
	logBurst    = 5
	logEvery    = 10 * time.Second
)

// peerLimits are one peer's buckets.
type peerLimits struct {
	rexmit, nak, log tokenBucket
	suppressed       uint64 // log lines left out since the last one logged
}

// tokenBucket allows burst events at once, then one per every. It starts
// full.
type tokenBucket struct {
	tokens  int
	at      time.Time // when tokens was last refilled (or found full)
	started bool
}

// take spends a token at now if there is one.
func (b *tokenBucket) take(now time.Time, burst int, every time.Duration) bool {
	if !b.started {
		b.tokens, b.at, b.started = burst, now, true
	}
	if b.tokens >= burst {
		b.at = now // a full bucket does not save up
	} else if k := now.Sub(b.at) / every; k > 0 {
		if int64(k) >= int64(burst-b.tokens) {
			b.tokens, b.at = burst, now
		} else {
			b.tokens += int(k)
			b.at = b.at.Add(k * every)
		}
	}
	if b.tokens <= 0 {
		return false
	}
	b.tokens--
	return true
}

// peerLogf logs a line about n's packets within n's log budget.
func (t *Table) peerLogf(n *node, lv level.Level, format string, args ...any) {
	l := &n.limits
	if !l.log.take(t.now, logBurst, logEvery) {
		l.suppressed++
		t.stats.LogsSuppressed++
		return
	}
	if l.suppressed > 0 {
		t.logf("WARN", "%d log line(s) about packets from %s suppressed (rate limit)", l.suppressed, n.name)
		l.suppressed = 0
	}
	t.out = append(t.out, Log{Level: lv, Text: fmt.Sprintf(format, args...)})
}
