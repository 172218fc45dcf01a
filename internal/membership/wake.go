package membership

import "time"

// NextWake is the earliest time at which a Tick can change anything: the
// next keepalive, the end of the start-up deadtime bonus, a reqnodes retry
// or retransmission request, an extra copy of a message (redundancy.go),
// or the dead check that would find a node or link dead. The shell sleeps until then instead of ticking at a fixed
// pace: an idle daemon's CPU time is mostly its wake-ups, and a death is
// seen on the dead-check grid point right after the deadline instead of up
// to a tick later.
//
// Ticking exactly at NextWake produces the same actions at the same times
// as ticking at every instant (TestNextWakeMatchesEagerTicks). Any event
// (a packet, a reconfiguration) may move NextWake, so the shell asks again
// after every Step. Zero means nothing is due (not started).
func (t *Table) NextWake() time.Time {
	if !t.started {
		return time.Time{}
	}
	w := t.nextStatus
	earlier := func(x time.Time) {
		if !x.IsZero() && x.Before(w) {
			w = x
		}
	}
	earlier(t.dtPopAt)
	earlier(t.reqnodesAt)
	earlier(t.nextCopy())
	earlier(t.pingWake())
	for _, r := range t.rexmits {
		earlier(r.due)
	}
	if !t.linksUp && t.commCheckReady() {
		earlier(t.nextDeadCheck)
	}
	// checkTimeouts declares a node dead once more than its deadtime has
	// passed since its last status, and only on a dead-check grid point.
	dt, ldt := t.cfg.Deadtime, t.cfg.Deadtime
	if !t.linksUp {
		dt, ldt = t.cfg.Initdead, t.cfg.Initdead
	}
	for _, n := range t.nodes {
		if n == t.self {
			continue
		}
		if n.status != StatusDead {
			d := dt
			if t.linksUp {
				d = n.deadtime
			}
			earlier(t.deadCheckAfter(n.lastStatus.Add(d)))
		}
		for _, l := range n.links {
			if l.status != LinkDead {
				earlier(t.deadCheckAfter(l.lastUpdate.Add(ldt)))
			}
		}
	}
	return w
}

// deadCheckAfter is the first dead-check grid point strictly after
// deadline (checkTimeouts compares with ">").
func (t *Table) deadCheckAfter(deadline time.Time) time.Time {
	g := t.nextDeadCheck
	if g.After(deadline) {
		return g
	}
	k := deadline.Sub(g)/t.cfg.DeadCheck + 1
	return g.Add(k * t.cfg.DeadCheck)
}

// lastGridPoint is the last dead-check grid point at or before now, which
// must not be before nextDeadCheck.
func (t *Table) lastGridPoint(now time.Time) time.Time {
	k := now.Sub(t.nextDeadCheck) / t.cfg.DeadCheck
	return t.nextDeadCheck.Add(k * t.cfg.DeadCheck)
}

// advanceDeadCheck moves the dead-check grid past now in whole steps, so the
// grid stays where it was however late the tick came (NextWake relies on it).
func (t *Table) advanceDeadCheck(now time.Time) {
	if t.nextDeadCheck.After(now) {
		return
	}
	k := now.Sub(t.nextDeadCheck)/t.cfg.DeadCheck + 1
	t.nextDeadCheck = t.nextDeadCheck.Add(k * t.cfg.DeadCheck)
}

// commCheckReady: checkCommIsUp would bring the links up now (every node
// has sent something or been declared dead).
func (t *Table) commCheckReady() bool {
	for _, n := range t.nodes {
		if !n.anyPacketsYet && n.status != StatusDead {
			return false
		}
	}
	return true
}
