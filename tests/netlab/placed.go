package netlab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// NewAt is New with the namespaces named "<stem><4 random hex digits>-…"
// and the bridges' subnets in 10.<octet>.0.0/16, for test suites that must
// stay apart from others running on the same machine at the same time
// (each suite its own stem and range). Cleanup is New's.
func NewAt(t testing.TB, name, stem string, octet int) *Lab {
	t.Helper()
	RequireRoot(t)
	if stem == "" || len(stem) > 6 || octet < 1 || octet > 254 {
		t.Fatalf("netlab: NewAt(%q, %q, %d): want a stem of 1..6 characters and an octet in 1..254", name, stem, octet)
	}
	l := &Lab{t: t, Name: name, octet: octet}
	for try := 0; ; try++ {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatalf("netlab: random prefix: %v", err)
		}
		l.Prefix = stem + hex.EncodeToString(b[:])
		if !prefixInUse(l.Prefix) {
			break
		}
		if try > 50 {
			t.Fatalf("netlab: no free namespace prefix %s… after %d tries", stem, try)
		}
	}
	t.Cleanup(l.Close)
	return l
}

// DropIn drops percent (0–100) of the IP packets ARRIVING on each of
// ifnames on node n, chosen at random per packet, and nothing that
// leaves: one direction of a lossy link, where Loss drops both. It
// replaces what an earlier DropIn on n set (0 or no names removes it). It
// lives in a table of its own, so it adds to Cut and Loss.
func (n *Node) DropIn(percent int, ifnames ...string) {
	n.lab.t.Helper()
	if percent < 0 || percent > 100 {
		n.lab.t.Fatalf("netlab: drop %d%% on %s: want 0..100", percent, n.Name)
	}
	var b strings.Builder
	b.WriteString("table inet netlab_in\ndelete table inet netlab_in\n")
	if percent > 0 && len(ifnames) > 0 {
		b.WriteString("table inet netlab_in {\n  chain in {\n    type filter hook input priority -300; policy accept;\n")
		for _, ifn := range ifnames {
			if percent >= 100 {
				fmt.Fprintf(&b, "    iifname %q drop\n", ifn)
			} else {
				fmt.Fprintf(&b, "    iifname %q numgen random mod 100 < %d drop\n", ifn, percent)
			}
		}
		b.WriteString("  }\n}\n")
	}
	c := exec.Command("ip", "netns", "exec", n.NS, "nft", "-f", "-")
	c.Stdin = strings.NewReader(b.String())
	if out, err := c.CombinedOutput(); err != nil {
		n.lab.t.Fatalf("netlab: nft in %s: %v: %s\nruleset:\n%s", n.Name, err, bytes.TrimSpace(out), b.String())
	}
}
