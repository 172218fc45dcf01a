package node

import (
	"regexp"

	"heartbeatd/haresources"
	"heartbeatd/internal/level"
	"heartbeatd/internal/wire"
)

// digestType is heartbeatd's own message type for the haresources digest.
// Heartbeat's R1 documentation says haresources MUST BE IDENTICAL on both
// nodes and nothing checks it; a node with a different file takes over the
// wrong groups. A real Heartbeat 3.0.6 peer ignores the type harmlessly: it
// hands unknown types to API clients and to rc.d/<type> only if such a file
// exists.
const digestType = "hbd-digest"

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

type digestState struct {
	ours     string
	peer     string // the peer's last digest
	reported string // "ours/theirs" last logged
	mismatch bool   // the last report was a mismatch
}

func digestOf(f *haresources.File) string {
	if f == nil {
		return ""
	}
	return haresources.Digest(f)
}

// sendDigest announces our haresources digest; ask requests the peer's
// answer (at comm-up and after a reload), an answer never asks back.
func (n *Node) sendDigest(ask bool) {
	if n.stopping || n.digest.ours == "" {
		return
	}
	m := wire.New(digestType)
	m.Set("digest", n.digest.ours)
	if ask {
		m.Set("ask", "1")
	}
	n.send(m)
	n.checkDigest()
}

// onDigest handles the peer's digest message.
func (n *Node) onDigest(m *wire.Message) {
	src := m.Value("src")
	if src == n.local || src != n.peer {
		return
	}
	dg := m.Value("digest")
	if !hexDigest.MatchString(dg) {
		n.logf(level.Warn, "ignoring %s message from %s: malformed digest", digestType, src)
		return
	}
	n.digest.peer = dg
	if m.Value("ask") == "1" {
		n.sendDigest(false)
		return
	}
	n.checkDigest()
}

// checkDigest compares our digest with the peer's last one and logs a
// mismatch once per distinct pair of digests (and the repair once).
func (n *Node) checkDigest() {
	d := &n.digest
	if d.peer == "" {
		return
	}
	pair := d.ours + "/" + d.peer
	if pair == d.reported {
		return
	}
	d.reported = pair
	if d.ours == d.peer {
		if d.mismatch {
			d.mismatch = false
			n.logf(level.Info, "haresources is now identical on %s and %s (digest %.12s)", n.local, n.peer, d.ours)
		}
		return
	}
	d.mismatch = true
	n.logf(level.Crit, "haresources differs between %s (digest %.12s, %s) and %s (digest %.12s): it MUST BE IDENTICAL on both nodes; copy it from one node to the other and run 'heartbeatd reload' on the node that changed",
		n.local, d.ours, n.cfg.HaresourcesPath, n.peer, d.peer)
}

// digestPeerGone forgets the peer's digest when it dies or restarts, so a
// mismatch is reported again after it returns (and a repair is reported
// once the returning peer's digest matches).
func (n *Node) digestPeerGone() { n.digest.peer, n.digest.reported = "", "" }
