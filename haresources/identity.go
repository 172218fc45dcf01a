package haresources

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// digestVersion starts the rendering that Digest hashes, so that a future
// change of the rendering can never collide with today's digests.
const digestVersion = "heartbeatd haresources digest v1\n"

// Digest is a hex SHA-256 over a canonical rendering of f, meant to be
// compared between nodes: Heartbeat's documentation says haresources MUST be
// identical on all nodes, and nothing in Heartbeat checks it.
//
// The rendering is one line per group in file order: the lower-cased node,
// the key exactly as written (it travels on the wire in ip-request, so
// "10.0.0.5" and "IPaddr::10.0.0.5" as keys are a real difference), and
// every resource in canonical Script::args form. Comments, blanks, line
// continuations and the case of node names therefore do not change the
// digest; any change of node, key, resource, argument or order does.
// Arguments are compared as written: "10.0.0.5/24" and
// "10.0.0.5/255.255.255.0" digest differently although IPaddr treats them
// alike, which errs on the side of reporting a difference.
func Digest(f *File) string {
	h := sha256.New()
	h.Write([]byte(digestVersion))
	if f != nil {
		for _, g := range f.Groups {
			h.Write([]byte(canonicalLine(g)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalLine renders one group for Digest. Tokens never contain blanks,
// tabs or newlines (the parser splits on the first two and rejects control
// characters), so the separators cannot be forged by a token.
func canonicalLine(g Group) string {
	var b strings.Builder
	b.WriteString(g.Node)
	b.WriteByte('\t')
	b.WriteString(g.Key)
	b.WriteByte('\t')
	for i, r := range g.Resources {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.String())
	}
	b.WriteByte('\n')
	return b.String()
}

// Shares reports whether groups a and b have a resource in common, so that
// starting or stopping them at the same time could race. Besides identical
// resources (same script and arguments) it counts as shared: two IPaddr or
// IPaddr2 resources with the same address (whatever netmask or interface),
// two IPv6addr resources with the same address,
// two Filesystem resources with the same device or mount point, nested mount
// points (/srv and /srv/data must be mounted in order), and drbddisk without
// an argument (which means all DRBD resources) against any drbddisk.
func Shares(a, b Group) bool {
	for _, ra := range a.Resources {
		for _, rb := range b.Resources {
			if sharedResource(ra, rb) {
				return true
			}
		}
	}
	return false
}

func sharedResource(a, b Resource) bool {
	if a.String() == b.String() {
		return true
	}
	for _, ia := range identities(a) {
		for _, ib := range identities(b) {
			if ia.kind != ib.kind {
				continue
			}
			switch {
			case ia.value == ib.value:
				return true
			case ia.kind == kindDRBD && (ia.value == "all" || ib.value == "all"):
				return true
			case ia.kind == kindMount && nestedPath(ia.value, ib.value):
				return true
			}
		}
	}
	return false
}

// nestedPath reports whether one of two clean absolute paths is inside the
// other.
func nestedPath(x, y string) bool {
	if len(x) > len(y) {
		x, y = y, x
	}
	return x == "/" || strings.HasPrefix(y, x+"/")
}
