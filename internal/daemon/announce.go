package daemon

import (
	"context"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/rm"
)

// After a split brain heals, both nodes may have answered ARP for the same
// floating addresses; whichever announced last owns the switch's and the
// clients' caches, often the loser (the field's most common complaint:
// traffic stuck on the node that has just released the address). So once
// the resource manager has settled who keeps what, the holder runs `start`
// again for its address resources: IPaddr's start is idempotent and sends
// the gratuitous ARP burst again.

// The re-announcement goes out as soon as the resource manager has settled
// after the heal (Idle: the peer has said it is stable again, so the loser
// has finished releasing), or announceSettle after the heal at the latest.
// Only groups running here then are announced; the loser announces nothing
// when it releases. Waiting a fixed time instead left the clients pointing
// at the loser, and the service unreachable, for those two seconds after a
// hung daemon resumed (SIGSTOP, then SIGCONT).
const announceSettle = 2 * time.Second

// addressScripts are the resource scripts whose start re-announces an address.
var addressScripts = map[string]bool{"IPaddr": true, "IPaddr2": true}

// scheduleAnnounce arms the re-announcement after a partition heal.
func (d *Daemon) scheduleAnnounce() {
	d.announceAt = d.clock.Now().Add(announceSettle)
}

// announceTick runs the re-announcement once the time has come.
func (d *Daemon) announceTick() {
	if d.announceAt.IsZero() || d.clock.Now().Before(d.announceAt) && !d.rm.Idle() {
		return
	}
	d.announceAt = time.Time{}
	for key, st := range d.rm.Groups() {
		if st != rm.Running {
			continue
		}
		for _, res := range d.groups[key].Resources {
			if addressScripts[res.Script] {
				d.log.Logf(logging.Info, "partition healed: announcing %s again (gratuitous ARP)", res.Raw)
				go d.announce(res)
			}
		}
	}
}

func (d *Daemon) announce(res haresources.Resource) {
	ctx, cancel := clock.WithTimeout(context.Background(), d.clock, time.Minute)
	defer cancel()
	// Failures are logged by the runner; the address stays configured,
	// only the announcement may have failed.
	d.runner.Run(ctx, res, "start")
}
