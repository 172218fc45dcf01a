package node

import (
	"heartbeatd/internal/level"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// In legacy mode a node that believes it is alone (its peer not yet seen
// active when it came up: HA_DONTASK) takes its home groups without asking,
// by sending ip-request-resp to itself. Real Heartbeat 3.0.6 does that when
// the peer's repnodes arrives before the peer's first status, and then both
// nodes run the group: legacy mode has no resource messages that would tell
// the other node. heartbeatd overhears that self-addressed message and
// answers it as if the peer had asked (rc.d ip-request): it releases the
// group, so the home node ends up its only owner.
func legacySelfTake(peer, mode string, m *wire.Message) (key string, ok bool) {
	if mode != rm.FailbackLegacy || m.Type() != "ip-request-resp" {
		return "", false
	}
	if m.Value("src") != peer || m.Value("dest") != peer || m.Value("weown") != "yes" {
		return "", false
	}
	key = m.Value("ipaddr")
	return key, key != ""
}

func (n *Node) onOverheard(m *wire.Message) {
	mode := n.cfg.RM.AutoFailback
	if mode == "" {
		mode = rm.FailbackLegacy
	}
	key, ok := legacySelfTake(n.peer, mode, m)
	if !ok {
		return
	}
	if st, held := n.rm.Groups()[key]; !held || (st != rm.Running && st != rm.Starting) {
		return
	}
	n.logf(level.Warn, "%s takes resource group %s without asking (it did not see us active): releasing it here", n.peer, key)
	req := wire.New("ip-request")
	req.Set("src", n.peer)
	req.Set("ipaddr", key)
	n.queue = append(n.queue, rm.Message{Msg: req})
}
