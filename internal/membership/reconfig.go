package membership

import (
	"fmt"
	"time"
)

// Timings are the ha.cf values a running table can take without a restart
// (heartbeatd reload).
type Timings struct {
	Keepalive, Deadtime, Warntime, Initdead time.Duration
}

// SetTimings applies new timings at now, after the same checks as New. The
// new dead time is advertised at once (a status with the new dt goes out),
// so the peer judges us by it from its next status on; during the start-up
// bonus the bonus is kept on top of the new value. The next keepalive is due
// one new keepalive after now at the latest. On error nothing changes.
func (t *Table) SetTimings(now time.Time, tm Timings) ([]Action, error) {
	c := t.cfg
	c.Keepalive, c.Deadtime, c.Warntime, c.Initdead = tm.Keepalive, tm.Deadtime, tm.Warntime, tm.Initdead
	if err := c.validate(); err != nil {
		return nil, err
	}
	t.out = nil
	t.now = now
	old := t.cfg.Deadtime
	t.cfg = c
	// Our own node's dead time is ours; peers keep the dt they advertise.
	t.self.deadtime = c.Deadtime
	if t.started {
		switch {
		case !t.dtPopAt.IsZero():
			t.advertised = c.Deadtime + startupExtraDT
		case t.advertised == old:
			t.advertised = c.Deadtime
		}
		if next := now.Add(c.Keepalive); next.Before(t.nextStatus) {
			t.nextStatus = next
		}
		t.sendStatus(now)
	} else {
		t.advertised = c.Deadtime
	}
	out := t.out
	t.out = nil
	return out, nil
}

// SetLinks replaces the list of media (heartbeatd reload added or removed a
// medium). Links that stay keep their state; new ones start dead, as at
// start-up, and come up with the first packet on them.
func (t *Table) SetLinks(names []string) error {
	c := t.cfg
	c.Links = append([]string(nil), names...)
	if err := c.validate(); err != nil {
		return err
	}
	t.cfg.Links = c.Links
	for _, n := range t.nodes {
		links := make([]*link, 0, len(names))
		for _, name := range names {
			l := n.link(name)
			if l == nil {
				l = &link{name: name, status: LinkDead}
			}
			links = append(links, l)
		}
		n.links = links
	}
	return nil
}

// Advertised is the dead time we currently advertise as dt.
func (t *Table) Advertised() time.Duration { return t.advertised }

// String of Timings for log lines.
func (tm Timings) String() string {
	return fmt.Sprintf("keepalive %dms, deadtime %dms, warntime %dms, initdead %dms",
		tm.Keepalive.Milliseconds(), tm.Deadtime.Milliseconds(), tm.Warntime.Milliseconds(), tm.Initdead.Milliseconds())
}
