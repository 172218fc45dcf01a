package rm

import (
	"math/rand"
	"time"
)

// Fence policies (ha.cf extension fence_policy).
const (
	// FencePolicyHeartbeat is Heartbeat's rule (spec §6): a dead peer is
	// fenced, at once, only when it may hold resources. An idle standby
	// also advertises rsc_hold=local, so in a total partition both nodes
	// press the switch in the same millisecond and the faster one wins:
	// half the time the healthy active node is reset and the service
	// moves, a failover nobody needed (tests/e2e TestFenceRace).
	FencePolicyHeartbeat = "heartbeat"
	// FencePolicyHolder cures that race (heartbeatd's default): whenever
	// a device is configured, a dead peer is fenced, held resources or
	// not. The node that holds more groups fences at once; the other waits
	// FenceDelay (plus up to FenceDelayMax at random) first, so in a
	// partition it is the one reset, and the service never moves. On a
	// tie, the node whose name sorts first fences at once.
	FencePolicyHolder = "holder"
)

// fenceFirst decides, when a device is configured, whether and when a
// dead peer is fenced before its groups are taken; needStonith is
// Heartbeat's verdict. It returns true when fencing was started or
// scheduled (FenceDone, or the delay's end in Tick, continues).
func (m *Manager) fenceFirst(node string, needStonith bool) bool {
	if m.peerShutdone {
		return false // it said shutdone: it stopped cleanly, nothing to fear
	}
	if m.cfg.FencePolicy != FencePolicyHolder {
		if !needStonith {
			return false
		}
		m.fencing = node
		m.emit(Fence{Node: node})
		return true
	}
	m.fencing = node
	mine, theirs := m.heldGroups()
	delay := time.Duration(0)
	switch {
	case mine > theirs, mine == theirs && mine > 0 && m.cfg.Local < node:
	default:
		delay = m.cfg.FenceDelay
		if m.cfg.FenceDelayMax > 0 {
			delay += time.Duration(m.rng.Int63n(int64(m.cfg.FenceDelayMax) + 1))
		}
	}
	if delay == 0 {
		m.logf(LevelInfo, "%s is dead and we hold %d resource group(s) to its %d: fencing it at once.", node, mine, theirs)
		m.emit(Fence{Node: node})
		return true
	}
	m.logf(LevelWarn, "%s is dead; it holds %d resource group(s) to our %d: fencing it in %v (fence_delay), so that if it is alive it fences us first.",
		node, theirs, mine, delay.Round(time.Millisecond))
	m.fenceRetryAt = m.now.Add(delay)
	return true
}

// heldGroups counts the groups running (or failed to stop) here and the
// ones the peer holds as far as its last resource message (legacy: its
// home groups, unless it said it holds none) tells.
func (m *Manager) heldGroups() (mine, theirs int) {
	for _, g := range m.groups {
		if g.state == Running || g.state == FailedStop || g.state == Starting {
			mine++
			continue
		}
		switch {
		case !m.nice:
			if !g.local && m.peerHasRsc {
				theirs++
			}
		case g.local && m.otherHolds&rscForeign != 0, !g.local && m.otherHolds&rscLocal != 0:
			theirs++
		}
	}
	return mine, theirs
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
