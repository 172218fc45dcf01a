package node

import (
	"time"

	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/level"
	"heartbeatd/internal/rm"
)

// After a split brain heals, both nodes may have answered ARP for the same
// floating addresses; whichever announced last owns the switch's and the
// clients' caches, often the loser (the field's most common complaint:
// traffic stuck on the node that has just released the address). So once
// the resource manager has settled who keeps what, the holder runs `start`
// again for its address resources: IPaddr's start is idempotent and sends
// the gratuitous ARP burst again.
//
// The re-announcement goes out as soon as the resource manager has settled
// after the heal (Idle: the peer has said it is stable again, so the loser
// has finished releasing), or announceSettle after the heal at the latest.
// Only groups running here then are announced; the loser announces nothing
// when it releases. Waiting a fixed time instead left the clients pointing
// at the loser, and the service unreachable, for those two seconds after a
// hung daemon resumed (SIGSTOP, then SIGCONT).
const announceSettle = 2 * time.Second

type announceState struct {
	at time.Time // the latest time to re-announce; zero = none pending
}

func (n *Node) scheduleAnnounce() { n.announce.at = n.now.Add(announceSettle) }

// announceTick emits the re-announcement once it is due.
func (n *Node) announceTick() {
	a := &n.announce
	if a.at.IsZero() || n.now.Before(a.at) && !n.rm.Idle() {
		return
	}
	a.at = time.Time{}
	states := n.rm.Groups()
	for _, g := range n.cfg.RM.Groups {
		if states[g.Key] != rm.Running {
			continue
		}
		for _, res := range addressResources(g) {
			n.logf(level.Info, "partition healed: announcing %s again (gratuitous ARP)", res.Raw)
			n.submit(grouprun.Job{Kind: grouprun.Announce, Key: g.Key, Resource: res})
		}
	}
}
