package rm

import (
	"strconv"
	"time"

	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/wire"
)

// ipfail, built in (Heartbeat's contrib/ipfail, spec §8.2). Each side
// counts the ping nodes it reaches and tells the other whenever the count
// may have changed; the side that reaches fewer gives its resources to the
// other with hb_standby, a couple of keepalives later, unless the counts
// balance again meanwhile. The messages are ipfail's own, addressed as a
// Heartbeat API client addresses them, so a real Heartbeat peer running
// ipfail takes part in the exchange:
//
//	num_ping_nodes src=<us> num_ping=<n> dest=<peer>   our count, "what is yours?"
//	you_are_dead dest=<peer>                          "you reach fewer: give up"
//	abort_giveup src=<us> dest=<peer>                 "balanced: cancel your giveup"
//	hbapi-clstat st=join from_id=ipfail ...           "ipfail signed on here"
//
// (each with from_id=ipfail to_id=ipfail client_gen=0). Where it departs
// from 3.0.6's ipfail, on purpose:
//   - A giveup of a set we hold nothing of is not sent: 3.0.6 runs a whole
//     standby exchange that moves nothing.
//   - ipfail's balanced-count failback ("Giving up foreign resources
//     (auto_failback)") happens only when we hold foreign groups.
//   - A giveup put off because resources were in flux is retried once the
//     cluster is stable again, without ipfail's blocking 10 s sleep.

// PeerLinkDead: one of the peer's links went dead (ipfail's LinkStatus
// callback asks the peer's count then).
type PeerLinkDead struct{ Link string }

func (PeerLinkDead) isEvent() {}

// ipfailClient is ipfail's API client name, in from_id and to_id.
const ipfailClient = "ipfail"

// ipfailState is ipfail's globals (delay_giveup_tag, need_standby) plus
// whether our sign-on was announced.
type ipfailState struct {
	giveupAt    time.Time // the delayed giveup; zero = none
	giveupSet   rscSet
	needStandby bool // a giveup found resources in flux: try again when stable
	joined      bool // hbapi-clstat join sent since comm-up
}

// ipfailOn: ipfail runs here. Like 3.0.6's, it exits at once with
// auto_failback legacy ("incompatible legacy option", exit 100).
func (m *Manager) ipfailOn() bool { return m.cfg.Ipfail && m.nice }

// ipfailIdle: no giveup is pending.
func (m *Manager) ipfailIdle() bool {
	return m.ipf.giveupAt.IsZero() && !m.ipf.needStandby
}

// ipfailMessage is ipfail's message callbacks, for every message from the
// peer; the types that are not ipfail's are left to the rest of rm.
func (m *Manager) ipfailMessage(msg *wire.Message) {
	if !m.ipfailOn() {
		return
	}
	if to, ok := msg.Get("to_id"); ok && to != ipfailClient {
		return
	}
	switch msg.Type() {
	case "num_ping_nodes":
		m.ipfailCompare(msg)
	case "abort_giveup":
		m.ipfailAbort()
	case "you_are_dead":
		m.logf(LevelInfo, "Giving up because we were told that we have less ping nodes.")
		m.ipfailDelayGiveup(rscAll)
	case "hbapi-clstat":
		if msg.Value("st") == "join" && msg.Value("from_id") == ipfailClient {
			m.logf(LevelDebug, "Got join message from another ipfail client. (%s)", m.cfg.Peer)
			m.ipfailAsk()
		}
	}
}

// ipfailCompare is msg_ping_nodes: the peer told us its count.
func (m *Manager) ipfailCompare(msg *wire.Message) {
	theirs, err := strconv.Atoi(msg.Value("num_ping"))
	if err != nil || theirs < 0 {
		m.logf(LevelError, "num_ping_nodes from %s: bad num_ping %q ignored", m.cfg.Peer, msg.Value("num_ping"))
		return
	}
	ours := m.ping.Reachable
	switch {
	case ours > theirs:
		m.logf(LevelInfo, "Telling other node that we have more visible ping nodes.")
		m.ipfailSend("you_are_dead", false, nil)
	case ours < theirs:
		m.logf(LevelInfo, "Giving up because we have less visible ping nodes.")
		m.ipfailDelayGiveup(rscAll)
	default:
		m.logf(LevelInfo, "Ping node count is balanced.")
		m.ipfailSend("abort_giveup", true, nil)
		if !m.ipf.giveupAt.IsZero() {
			m.ipfailAbort()
		} else if m.auto && m.isStable() && m.iHold&rscForeign != 0 {
			m.logf(LevelInfo, "Giving up foreign resources (auto_failback).")
			m.ipfailDelayGiveup(rscForeign)
		}
	}
}

// ipfailAsk is ask_ping_nodes: send our count to the peer.
func (m *Manager) ipfailAsk() {
	if !m.ipfailOn() || !m.commUp || m.peerStatus == nodestatus.Dead {
		return
	}
	m.logf(LevelInfo, "Asking other side for ping node count.")
	m.ipfailSend("num_ping_nodes", true, func(msg *wire.Message) {
		msg.Set("num_ping", strconv.Itoa(m.ping.Reachable))
	})
}

// ipfailSend sends one of ipfail's messages to the peer in 3.0.6's field
// order: t, [src], body, dest, from_id, to_id, client_gen.
func (m *Manager) ipfailSend(t string, withSrc bool, body func(*wire.Message)) {
	msg := wire.New(t)
	if withSrc {
		msg.Set("src", m.cfg.Local)
	}
	if body != nil {
		body(msg)
	}
	msg.Set("dest", m.cfg.Peer)
	msg.Set("from_id", ipfailClient)
	msg.Set("to_id", ipfailClient)
	msg.Set("client_gen", "0")
	m.out = append(m.out, Send{Msg: msg}) // not ours to apply: no rm state in it
}

// ipfailDelayGiveup is delay_giveup: give up set in IpfailDelay (twice
// the keepalive), replacing a giveup already pending.
func (m *Manager) ipfailDelayGiveup(set rscSet) {
	secs := m.cfg.IpfailDelay / time.Second
	m.logf(LevelInfo, "Delayed giveup in %d seconds.", secs)
	m.ipf.giveupAt = m.now.Add(m.cfg.IpfailDelay)
	m.ipf.giveupSet = set
}

// ipfailAbort is abort_giveup.
func (m *Manager) ipfailAbort() {
	if m.ipf.giveupAt.IsZero() {
		m.logf(LevelInfo, "No giveup timer to abort.")
		return
	}
	m.logf(LevelInfo, "Aborted delayed giveup.")
	m.ipf.giveupAt = time.Time{}
}

// ipfailTick runs on every Tick: announce our sign-on once comm is up,
// fire the delayed giveup, and retry one that found resources in flux.
func (m *Manager) ipfailTick() {
	if !m.ipfailOn() {
		return
	}
	if m.peerStatus == nodestatus.Dead {
		m.ipfailPeerGone()
		return
	}
	if m.commUp && m.peerAlive() && !m.ipf.joined {
		// Announced whenever the peer becomes active, so that its ipfail
		// (3.0.6 asks on a peer's join) compares counts with us.
		m.ipf.joined = true
		msg := wire.New("hbapi-clstat")
		msg.Set("st", "join")
		msg.Set("from_id", ipfailClient)
		msg.Set("to_id", ipfailClient)
		msg.Set("src", m.cfg.Local)
		msg.Set("info", "signon")
		msg.Set("client_gen", "0")
		m.out = append(m.out, Send{Msg: msg})
	}
	if m.ipf.needStandby && m.isStable() {
		// 3.0.6 waits for the peer's next stable announcement, sleeps
		// 10 s, then compares the counts again rather than trusting a
		// decision that old.
		m.ipf.needStandby = false
		m.ipfailAsk()
	}
	if m.ipf.giveupAt.IsZero() || m.now.Before(m.ipf.giveupAt) {
		return
	}
	m.ipf.giveupAt = time.Time{}
	m.logf(LevelInfo, "giveup() called (timeout worked)")
	if !m.isStable() {
		m.ipf.needStandby = true
		return
	}
	set := m.ipf.giveupSet
	if len(m.keysOf((m.iHold|m.activeBits())&set)) == 0 {
		m.logf(LevelInfo, "ipfail: no resources [%s] held here; nothing to give up.", set)
		return
	}
	m.requestStandby(set.String())
}

// ipfailPingChanged: the number of ping nodes we reach changed (a ping
// node's link went dead, or a ping node came up): tell the peer.
func (m *Manager) ipfailPingChanged(prev PingReach) {
	if !m.ipfailOn() || prev.Reachable == m.ping.Reachable {
		return
	}
	if m.ping.Reachable < prev.Reachable && m.ping.Reachable == 0 {
		m.logf(LevelInfo, "We are dead. :<")
	} else if m.ping.Reachable > prev.Reachable {
		m.logf(LevelInfo, "A ping node just came up.")
	}
	m.ipfailAsk()
}

// ipfailLinkDead is ipfail's LinkStatus callback for a link of the peer.
func (m *Manager) ipfailLinkDead() {
	if m.ipfailOn() && m.peerStatus != nodestatus.Dead {
		m.ipfailAsk()
	}
}

// ipfailPeerGone forgets a pending giveup while the peer is dead: nobody
// could take the resources.
func (m *Manager) ipfailPeerGone() {
	if !m.ipf.giveupAt.IsZero() || m.ipf.needStandby {
		m.logf(LevelInfo, "ipfail: %s is dead; delayed giveup cancelled.", m.cfg.Peer)
	}
	m.ipf.giveupAt = time.Time{}
	m.ipf.needStandby = false
	m.ipf.joined = false
}
