package daemon

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/control"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/media"
	"heartbeatd/internal/metrics"
	"heartbeatd/internal/node"
	"heartbeatd/internal/reboot"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/rt"
	"heartbeatd/internal/wire"
)

// The loop does not tick at a fixed pace: it sleeps until the node's
// NextWake (the next keepalive, the moment a peer or link would be found
// dead, an outdate request's deadline, the resource manager's timers), so
// an idle daemon wakes about once per keepalive plus once per burst of
// received packets, and a death is seen on the dot. idleSleep only keeps
// the load average, the realtime sweep and the systemd watchdog going.
const idleSleep = 5 * time.Second

// deadCheck is membership's dead-check grid: fine enough that a death is
// declared within a millisecond of its deadline (Heartbeat looks every
// 250 ms, which adds up to 250 ms to every failover). It costs nothing:
// the loop wakes for the deadline itself, not for the grid.
const deadCheck = time.Millisecond

// nextWake is when the loop must next run the node's Tick.
func (d *Daemon) nextWake(now time.Time) time.Time {
	w := now
	if !d.lastTick.IsZero() {
		w = d.lastTick.Add(idleSleep)
		if p := d.sd.Period(); p > 0 {
			w = d.lastTick.Add(min(idleSleep, p))
		}
	}
	authDue, _ := d.authFail.Due() // zero when nothing failed
	for _, t := range []time.Time{d.node.NextWake(), d.exitAt, authDue} {
		if !t.IsZero() && t.Before(w) {
			w = t
		}
	}
	return w
}

// shutdownLinger is how long the daemon keeps running after sending
// shutdone, so the message (and its retransmissions, if asked for) reach
// the peer before our sockets close. Heartbeat waits about 2 s.
const shutdownLinger = time.Second

func (d *Daemon) loop(ctx context.Context) error {
	d.startRealtime()
	// The real clock's alarm is a timerfd (clock/alarm_linux.go), a fake
	// clock's is its timer: the loop below runs on either.
	alarm, err := clock.NewAlarm(d.clock)
	if err != nil {
		d.log.Logf(logging.Error, "main loop alarm: %v; falling back to a Go timer", err)
	}
	defer alarm.Close()
	d.resetAlarm(alarm, 0)
	wake := alarm.C()
	var armed time.Time // when the alarm goes off; zero: it has
	var ticked bool     // the last event was the alarm
	// Configuration loaded, media open, control socket listening: ready.
	d.sd.Ready(d.clock.Now())
	d.notifyStatus()
	d.gap = rt.GapMeter{Window: time.Minute, Threshold: d.cfg.Warntime / 2}
	d.step(node.Start{LoadAvg: rt.LoadAvg()})
	lastLoad := d.clock.Now()
	done := ctx.Done()
	for {
		select {
		case <-done:
			done = nil // start the graceful shutdown once
			d.beginShutdown()
		case p := <-d.recv:
			d.receive(p)
		case <-wake:
			armed, ticked = time.Time{}, false
			now := d.clock.Now()
			d.lastTick = now
			var la string
			if now.Sub(lastLoad) >= 5*time.Second {
				la, lastLoad = rt.LoadAvg(), now
				if err := d.realtime.RaiseNew(); err != nil {
					d.log.Logf(logging.Warn, "realtime: raising new threads to SCHED_FIFO: %v", err)
				}
			}
			d.step(node.Tick{LoadAvg: la})
			if line, ok := d.authFail.Summary(now); ok {
				d.log.Logf(logging.Warn, "%s", line)
			}
			// Fed while our keepalives go out (the last one less than
			// a deadtime ago): a wedged loop is what it detects.
			d.sd.Watchdog(now, !d.lastKeepSent.IsZero() && now.Sub(d.lastKeepSent) < d.cfg.Deadtime)
			if !d.exitAt.IsZero() && !d.clock.Now().Before(d.exitAt) {
				for n, r := range d.node.Membership().Records() {
					d.peers.Put(n, r.Gen, r.Seq, true)
				}
				d.peers.Close() // on disk before the last line
				d.log.Logf(logging.Info, "%s Heartbeat shutdown complete.", d.local)
				return nil
			}
			ticked = true
		case r := <-d.exec.Done:
			d.step(r)
		case call := <-d.calls.C:
			d.adminCall(call)
		case src := <-d.reloadReq:
			if !d.stopping {
				d.reload(src)
			}
		}
		// Any event (a packet, a reload, a finished script) may move the
		// next wake-up, earlier or later.
		now := d.clock.Now()
		d.metrics.Publish(now, d.node, metrics.Shell{BadPackets: d.stats.badPackets, AuthFailures: d.stats.authFailures, SendErrors: d.stats.sendErrors})
		next := d.nextWake(now)
		if ticked && !next.After(now) {
			// A core wants another Tick at once although it just had
			// one: it did not advance its own timer. Never spin on it.
			next = now.Add(time.Millisecond)
		}
		ticked = false
		if !next.Equal(armed) {
			armed = next
			d.resetAlarm(alarm, next.Sub(now))
		}
	}
}

func (d *Daemon) resetAlarm(a clock.Alarm, after time.Duration) {
	if err := a.Reset(after); err != nil {
		d.log.Logf(logging.Error, "main loop alarm: %v", err)
	}
}

// startRealtime applies ha.cf realtime/rtprio to the daemon's threads (spec §7).
func (d *Daemon) startRealtime() {
	var warns []string
	var info string
	d.realtime, warns, info = rt.Start(d.cfg.Realtime, d.cfg.RTPrio)
	for _, w := range warns {
		d.log.Logf(logging.Warn, "%s", w)
	}
	if info != "" {
		d.log.Logf(logging.Info, "%s", info)
	}
}

func (d *Daemon) beginShutdown() {
	if d.stopping {
		return
	}
	d.stopping = true
	d.sd.Stopping()
	d.step(node.Shutdown{})
}

// receive decodes and authenticates one packet. Packets that fail are
// dropped and counted before any protocol processing: they must not refresh
// a link or a node (spec §2.4).
func (d *Daemon) receive(p media.Packet) {
	pk, err := wire.DecodePacket(p.Data, d.keys)
	if err != nil {
		d.stats.badPackets++
		if errors.Is(err, wire.ErrAuth) {
			d.stats.authFailures++
			// A bounded table, keyed by the attacker's src: the first
			// failure of a source in an interval is logged, the rest are
			// counted into one summary line per interval (authSummary).
			src := wire.SrcOf(err)
			if d.authFail.Note(d.clock.Now(), src, p.Link) {
				d.log.Logf(logging.Warn, "string2msg_ll: node [%s] failed authentication (link %s, from %s)", src, p.Link, p.Sender())
			}
		} else if d.cfg.LogBadPack {
			d.log.Logf(logging.Debug, "dropped bad packet on %s from %s: %v", p.Link, p.Sender(), err)
		}
		return
	}
	if pk.Msg.Value("src") == d.peer {
		// A reload must not take this key away (reload.go).
		d.peerKey = pk.KeyIndex
	}
	d.step(node.Received{Msg: pk.Msg, Link: p.Link})
}

// step feeds the node one event and carries out its actions, in order.
func (d *Daemon) step(ev node.Event) { d.do(d.node.Step(d.clock.Now(), ev)) }

func (d *Daemon) do(acts []node.Action) {
	status := false
	for _, a := range acts {
		d.doOne(a)
		_, tx := a.(node.Transmit)
		status = status || !tx
	}
	// What systemd shows changes only with something else than a packet
	// sent; keepalives must not build the status string.
	if status {
		d.notifyStatus()
	}
}

func (d *Daemon) doOne(a node.Action) {
	switch a := a.(type) {
	case node.Transmit:
		d.transmit(a.Msg)
		if a.Msg.Type() == "status" {
			now := d.clock.Now()
			d.lastKeepSent = now
			if line := d.gap.Sent(now); line != "" {
				d.log.Logf(logging.Warn, "%s", line)
			}
		}
	case node.Log:
		entity := a.Entity
		if entity == "" {
			entity = "heartbeat"
		}
		d.log.Log(entity, a.Level, a.Text)
	case node.AdminReply:
		d.calls.Answer(a.ID, control.Text(a.OK, 1, a.Text))
	case node.OutdateReply:
		resp := control.Text(false, a.Code, a.Text)
		resp.Code = a.Code // DRBD's fence-peer code, 0 included
		d.calls.Answer(a.ID, resp)
	case node.RunOutdate:
		d.exec.Outdate(a)
	case node.RunScript:
		d.exec.Run(a.Run)
	case node.Exiting:
		d.exitAt = d.clock.Now().Add(shutdownLinger)
	case node.PersistPeer:
		d.peers.Put(a.Node, a.Gen, a.Seq, !a.Periodic) // written beside the loop
	case node.StatusChanged:
	default:
		if r, ok := node.RM(a); ok {
			d.doRM(r)
		}
	}
}

// doRM carries out the resource manager's I/O actions.
func (d *Daemon) doRM(a rm.Action) {
	switch a := a.(type) {
	case rm.Reboot:
		d.reboot(a.Reason)
	case rm.Fence:
		d.exec.Fence(a.Node)
	}
}

func (d *Daemon) transmit(m *wire.Message) {
	pkt, err := d.keys.Seal(m)
	if err != nil {
		d.log.Logf(logging.Error, "cannot encode %s message: %v", m.Type(), err)
		return
	}
	// Serial lines carry the classic format (spec §1.2).
	failed, errs := d.media.Send(pkt, func() ([]byte, error) { return wire.EncodeClassic(m, d.keys.Active) })
	d.stats.sendErrors += uint64(failed)
	for _, err := range errs {
		d.log.Logf(logging.Debug, "%s message: %v", m.Type(), err)
	}
}

// reboot carries out Heartbeat's answer to a resource that cannot be
// stopped: the node must disappear so the peer can take over safely. Every
// step has a deadline (internal/reboot): a sync stuck on the same hung
// device must not keep the node up. It runs beside the loop, which goes
// on sending keepalives: the peer must not take over while the resource
// may still be active here.
func (d *Daemon) reboot(reason string) {
	// Heartbeat's "Resource STOP failure. Reboot required!" was logged once
	// by the node when the stop failed; reboot.Reboot says it is carried out.
	go func() {
		err := reboot.Reboot(reboot.Config{Reason: reason, Command: d.opts.RebootCommand, Clock: d.clock,
			ForceAfter: max(d.opts.RebootForceAfter, 0), NoForce: d.opts.RebootForceAfter < 0,
			// The last lines (why we reboot) reach the disk before sync.
			Sync: func() { d.log.Flush(); unix.Sync() },
			Log:  func(l logging.Level, text string) { d.log.Log("heartbeat", l, text) }})
		if err != nil {
			d.log.Logf(logging.Crit, "still running after the reboot: %v", err)
		}
	}()
}

func (d *Daemon) notifyStatus() {
	if d.node != nil {
		d.sd.Status(d.node.StatusLine())
	}
}
