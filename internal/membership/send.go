package membership

import (
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// send adds the standard fields to m (spec §3.1), keeps it for
// retransmission when it has a seq, loops it through our own receive path and
// transmits it. m is owned by the table from here on.
//
// The loopback comes before the Transmit because that is Heartbeat's order
// (process_clustermsg runs before send_to_all_media): an ACK of our own
// message appears on the wire just before the message itself.
func (t *Table) send(now time.Time, m *wire.Message) {
	typ := m.Type()
	if typ == "" {
		t.logf("ERROR", "send_cluster_msg: message without type dropped")
		return
	}
	noSeq := strings.HasPrefix(typ, "NS_")

	// destuuid goes right after the body, before src. A message that names
	// only destuuid gets its dest filled in.
	if to, ok := m.Get("dest"); ok {
		if n := t.byName[strings.ToLower(to)]; n != nil && n.hasUUID {
			m.SetBinary("destuuid", n.uuid[:])
		}
	} else if du, ok := m.Binary("destuuid"); ok && len(du) == 16 {
		if n := t.lookup("", du); n != nil {
			m.Set("dest", n.name)
		}
	}

	// For NS_ messages Heartbeat leaves fields that are already present
	// alone (the ping plugin's NS_st carries the ping host as src); for the
	// others it modifies them in place, keeping their position.
	set := func(name, value string) {
		if noSeq {
			if _, ok := m.Get(name); ok {
				return
			}
		}
		m.Set(name, value)
	}
	set("src", t.cfg.Local)
	if _, ok := m.Get("srcuuid"); !ok || !noSeq {
		m.SetBinary("srcuuid", t.cfg.UUID[:])
	}
	var seq uint64
	if !noSeq {
		t.lastSeq++
		seq = t.lastSeq
		m.Set("seq", strconv.FormatUint(seq, 16))
	}
	set("hg", strconv.FormatUint(t.cfg.Generation, 16))
	set("ts", strconv.FormatInt(now.Unix(), 16))
	if !noSeq && t.loadAvg != "" {
		// Heartbeat always has /proc/loadavg; without one we omit ld
		// rather than invent a value (receivers never read it).
		m.Set("ld", t.loadAvg)
	}
	set("ttl", strconv.Itoa(t.cfg.HopFudge+len(t.cfg.Nodes)+t.cfg.PingNodes))

	if !noSeq {
		t.hist.add(seq, m)
	}
	t.receive(now, m.Clone(), "")
	t.emit(Transmit{Msg: m.Clone()})
	if !noSeq {
		t.scheduleCopies(now, m)
	}
}

// sendStatus sends t=status with our status, our advertised dead time and
// protocol=1 (spec §4.1). Omitting protocol would switch real peers into
// pre-2.x mode for good, so it is only left out once we are in that mode
// ourselves, as Heartbeat does.
func (t *Table) sendStatus(now time.Time) {
	m := wire.New("status")
	m.Set("st", string(t.localStatus))
	m.Set("dt", strconv.FormatInt(t.advertised.Milliseconds(), 16))
	if t.flowControl {
		m.Set("protocol", "1")
	}
	t.send(now, m)
}

// setLocalStatus changes our status and announces it at once.
func (t *Table) setLocalStatus(now time.Time, st nodestatus.Status) {
	if st == t.localStatus {
		return
	}
	t.localStatus = st
	t.sendStatus(now)
	t.logf("info", "Local status now set to: '%s'", st)
}

func (t *Table) start(now time.Time, loadAvg string) {
	if t.started {
		return
	}
	t.started = true
	t.startedAt = now
	t.loadAvg = loadAvg
	// Heartbeat resets every node's timeout clock at start, so a node that
	// never speaks is declared dead initdead after our start.
	for _, n := range t.nodes {
		n.lastStatus = now
	}
	// hb_add_deadtime(2000) sends the first status (st=init); then the
	// status goes to up (second packet) and one more status follows: the
	// captures show seq 1 init, 2 up, 3 up within a millisecond.
	t.advertised = t.cfg.Deadtime + startupExtraDT
	t.dtPopAt = now.Add(startupExtraFor)
	t.sendStatus(now)
	t.setLocalStatus(now, StatusUp)
	t.sendStatus(now)
	t.nextStatus = now.Add(t.cfg.Keepalive)
	t.nextDeadCheck = now.Add(t.cfg.DeadCheck)
	// Alone in the node list, every node has been heard from (our own
	// loopback) already: join at once, after the start-up statuses.
	t.checkCommIsUp(now)
}

func (t *Table) tick(now time.Time) {
	t.sendDueCopies(now)
	if !now.Before(t.nextStatus) {
		t.sendStatus(now)
		t.nextStatus = t.nextStatus.Add(t.cfg.Keepalive)
		if !t.nextStatus.After(now) {
			// We were not stepped for a while: do not send a burst.
			t.nextStatus = now.Add(t.cfg.Keepalive)
		}
	}
	if !t.dtPopAt.IsZero() && !now.Before(t.dtPopAt) {
		t.dtPopAt = time.Time{}
		t.advertised = t.cfg.Deadtime
		t.sendStatus(now) // A-main: keepalive with 1b58, then 1388 at once
	}
	t.fireRexmitRequests(now)
	if !t.reqnodesAt.IsZero() && !now.Before(t.reqnodesAt) {
		t.sendReqnodes(now)
	}
	if !now.Before(t.nextDeadCheck) {
		// Judge as of the last grid point, not now: a tick between grid
		// points (a keepalive) must not find a death before the grid
		// point a node ticked every instant would find it at, and a tick
		// that comes late must still find the deaths of its grid point.
		t.checkTimeouts(t.lastGridPoint(now))
		if !t.linksUp {
			t.checkCommIsUp(now)
		}
		t.advanceDeadCheck(now)
	}
}

// followPeer phase-locks our keepalive to a peer's: a fresh status from a
// peer while ours is due within half a keepalive sends ours now, and the
// next one is timed just after the peer's next status should arrive.
//
// Why: on an idle cluster a node's CPU is almost all wake-ups, and each
// node wakes twice per keepalive, once for its own alarm and once for the
// peer's status. Sending in the wake the peer's status caused makes the
// follower's own alarm unnecessary: it wakes once per keepalive, and the
// cluster's wake-ups per keepalive fall from four to three (measured:
// -23% CPU per node, three clusters of each side by side).
//
// What it costs, and why that is safe:
//   - We only ever send early, never late, so no peer ever sees a gap
//     longer than our keepalive while the peer we follow is alive. The
//     early send at lock time makes one gap as short as half a keepalive;
//     gaps shorter than keepalive are harmless (deadtime and warntime
//     bound long gaps only).
//   - The follower's alarm is set FollowSlack after the peer's expected
//     next status, so that jitter in its arrival does not make our alarm
//     fire first. Only when the peer falls silent does that slack show, as
//     one gap of keepalive+FollowSlack (5 ms at most): the size of ordinary
//     scheduling jitter, which any sane warntime already allows for.
//   - A peer cannot make us send faster than twice per keepalive: after an
//     early send the next one is at least half a keepalive away.
//   - Two nodes never follow each other: right after our early send, our
//     next status is a whole keepalive away when the leader hears it.
//   - Death detection does not depend on when we send.
func (t *Table) followPeer(now time.Time) {
	k := t.cfg.Keepalive
	if !t.started || t.nextStatus.Sub(now) > k/2 {
		return
	}
	t.sendStatus(now)
	t.nextStatus = now.Add(k + FollowSlack(k))
}

// FollowSlack is how long after a followed peer's expected status our own
// alarm is set (followPeer). Exported for the bench's floor program, which
// locks to its peer the same way.
func FollowSlack(keepalive time.Duration) time.Duration {
	return min(keepalive/20, 5*time.Millisecond)
}

// shutdown sends shutdone (spec §5.6 step 3).
func (t *Table) shutdown(now time.Time, restart bool) {
	t.send(now, wireMessage("shutdone", "st", string(StatusDead)))
	if restart {
		t.dtPopAt = time.Time{}
		t.advertised = t.cfg.Deadtime + restartExtraDT
		t.sendStatus(now)
	}
}
