package daemon

import (
	"path/filepath"
	"regexp"

	"heartbeatd/haresources"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/membership"
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

// sendDigest announces our haresources digest; ask requests the peer's
// answer (at comm-up and after a reload), an answer never asks back.
func (d *Daemon) sendDigest(ask bool) {
	if d.mem == nil || d.stopping {
		return
	}
	m := wire.New(digestType)
	m.Set("digest", haresources.Digest(d.hares))
	if ask {
		m.Set("ask", "1")
	}
	d.stepMem(membership.Send{Msg: m})
	d.checkDigest()
}

// onDigest handles the peer's digest message.
func (d *Daemon) onDigest(m *wire.Message) {
	src := m.Value("src")
	if src == d.local || src != d.peer {
		return
	}
	dg := m.Value("digest")
	if !hexDigest.MatchString(dg) {
		d.log.Logf(logging.Warn, "ignoring %s message from %s: malformed digest", digestType, src)
		return
	}
	d.peerDigest = dg
	if m.Value("ask") == "1" {
		d.sendDigest(false)
		return
	}
	d.checkDigest()
}

// checkDigest compares our digest with the peer's last one and logs a
// mismatch once per distinct pair of digests (and the repair once).
func (d *Daemon) checkDigest() {
	if d.peerDigest == "" {
		return
	}
	ours := haresources.Digest(d.hares)
	pair := ours + "/" + d.peerDigest
	if pair == d.digestReported {
		return
	}
	d.digestReported = pair
	if ours == d.peerDigest {
		if d.digestMismatch {
			d.digestMismatch = false
			d.log.Logf(logging.Info, "haresources is now identical on %s and %s (digest %.12s)", d.local, d.peer, ours)
		}
		return
	}
	d.digestMismatch = true
	d.log.Logf(logging.Crit, "haresources differs between %s (digest %.12s, %s) and %s (digest %.12s): it MUST BE IDENTICAL on both nodes; copy it from one node to the other and run 'heartbeatd reload' on the node that changed",
		d.local, ours, filepath.Join(d.opts.ConfDir, "haresources"), d.peer, d.peerDigest)
}

// digestPeerGone forgets the peer's digest when it dies or restarts, so a
// mismatch is reported again after it returns (and a repair is reported
// once the returning peer's digest matches).
func (d *Daemon) digestPeerGone() {
	d.peerDigest, d.digestReported = "", ""
}
