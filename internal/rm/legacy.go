package rm

import "heartbeatd/internal/wire"

// onIPRequest is rc.d ip-request: the peer asks for a group (legacy
// req_resource). We release it if we hold it and answer weown=yes|no.
func (m *Manager) onIPRequest(msg *wire.Message) {
	key := msg.Value("ipaddr")
	if m.byKey[key] == nil {
		m.logf(LevelWarn, "ip-request from %s for unknown resource group %q ignored", m.cfg.Peer, key)
		return
	}
	if m.shuttingDown() {
		return
	}
	m.queue(&job{kind: jobIPRequest, ipKey: key, epoch: m.peerEpoch})
}

// onIPRequestResp is rc.d ip-request-resp: take the group if it is for us.
func (m *Manager) onIPRequestResp(msg *wire.Message) {
	if msg.Value("dest") != m.cfg.Local {
		return
	}
	key := msg.Value("ipaddr")
	g := m.byKey[key]
	if g == nil {
		m.logf(LevelWarn, "ip-request-resp from %s for unknown resource group %q ignored", m.cfg.Peer, key)
		return
	}
	m.logf(LevelInfo, "received ip-request-resp %s %s %s", key, msg.Value("ok"), msg.Value("weown"))
	if !m.asked[key] {
		// Heartbeat's rc.d takes any group it is offered; we take only
		// what this process asked for. A stale answer meant for an
		// earlier incarnation of us must not start a group.
		m.logf(LevelWarn, "ip-request-resp for %s from %s ignored: not requested", key, m.cfg.Peer)
		return
	}
	delete(m.asked, key)
	if m.shuttingDown() {
		return
	}
	m.queue(&job{kind: jobIPResp, start: true, keys: []string{key}})
}
