package haresources

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, text string) *File {
	t.Helper()
	f, l := Parse(strings.NewReader(text), "haresources")
	if l.HasErrors() {
		t.Fatalf("parse %q: %v", text, findingStrings(l))
	}
	return f
}

const seed002 = "node1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3\n" +
	"node1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\n"

// The digest is pinned to a documented rendering: two heartbeatd versions
// compare it on the wire, so changing it silently would make every mixed
// cluster report "haresources differ".
func TestDigestRendering(t *testing.T) {
	rendering := "heartbeatd haresources digest v1\n" +
		"node1\tdrbddisk::iscsi.config\tdrbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3\n" +
		"node1\tIPaddr::10.11.55.50/8/eth0\tIPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\n"
	sum := sha256.Sum256([]byte(rendering))
	if got, want := Digest(mustParse(t, seed002)), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest(seed 002) = %s, want %s", got, want)
	}
	lab := mustParse(t, "pa1 10.201.0.100/24/eth1 padummy::alpha::beta\n")
	sum = sha256.Sum256([]byte("heartbeatd haresources digest v1\npa1\t10.201.0.100/24/eth1\tIPaddr::10.201.0.100/24/eth1 padummy::alpha::beta\n"))
	if got, want := Digest(lab), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest(lab) = %s, want %s", got, want)
	}
	if Digest(nil) != Digest(&File{}) {
		t.Errorf("Digest(nil) differs from Digest of an empty file")
	}
}

func TestDigestIgnoresLayout(t *testing.T) {
	base := Digest(mustParse(t, seed002))
	same := map[string]string{
		"comments and blank lines": "# cluster\n\nnode1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3 # data\n\n# target\nnode1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\n",
		"tabs and blank runs":      "node1\t\tdrbddisk::iscsi.config    Filesystem::/dev/drbd0::/srv/data::ext3  \nnode1 \t IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0\tiscsitarget\n",
		"continuations":            "node1 drbddisk::iscsi.config \\\n  Filesystem::/dev/drbd0::/srv/data::ext3\nnode1 IPaddr::10.11.55.50/8/eth0 \\\n drbddisk::iscsi.target.0 \\\n iscsitarget\n",
		"node case":                "NODE1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3\nNode1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\n",
		"CRLF, no final newline":   "node1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3\r\nnode1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget",
	}
	for name, text := range same {
		if got := Digest(mustParse(t, text)); got != base {
			t.Errorf("%s: digest changed", name)
		}
	}
	// IP shorthand and IPaddr:: are the same resource, except as the key.
	a := Digest(mustParse(t, "n httpd 10.0.0.1/24\n"))
	b := Digest(mustParse(t, "n httpd IPaddr::10.0.0.1/24\n"))
	if a != b {
		t.Errorf("shorthand and explicit IPaddr (not key) digest differently")
	}
}

func TestDigestSeesSemanticChanges(t *testing.T) {
	base := Digest(mustParse(t, seed002))
	changed := map[string]string{
		"other node":               strings.Replace(seed002, "node1 IPaddr", "node2 IPaddr", 1),
		"other argument":           strings.Replace(seed002, "ext3", "ext4", 1),
		"other address":            strings.Replace(seed002, "10.11.55.50", "10.11.55.51", 1),
		"resources reordered":      "node1 Filesystem::/dev/drbd0::/srv/data::ext3 drbddisk::iscsi.config\nnode1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\n",
		"groups reordered":         "node1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\nnode1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3\n",
		"key spelled as shorthand": "node1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3\nnode1 10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget\n",
		"resource added":           strings.Replace(seed002, "iscsitarget", "iscsitarget httpd", 1),
		"resource removed":         strings.Replace(seed002, " iscsitarget", "", 1),
		"group removed":            strings.SplitAfter(seed002, "\n")[0],
		"script case":              strings.Replace(seed002, "iscsitarget", "ISCSItarget", 1),
		"args regrouped":           strings.Replace(seed002, "drbddisk::iscsi.config", "drbddisk::iscsi::config", 1),
	}
	seen := map[string]string{base: "base"}
	for name, text := range changed {
		d := Digest(mustParse(t, text))
		if prev, dup := seen[d]; dup {
			t.Errorf("%s: same digest as %s", name, prev)
		}
		seen[d] = name
	}
}

func TestPlans(t *testing.T) {
	f := mustParse(t, seed002+"NODE2 10.0.0.9 httpd\n")
	g := f.Groups[1]
	var start, stop []string
	for _, r := range g.StartOrder() {
		start = append(start, r.String())
	}
	for _, r := range g.StopOrder() {
		stop = append(stop, r.String())
	}
	if d := cmp.Diff([]string{"IPaddr::10.11.55.50/8/eth0", "drbddisk::iscsi.target.0", "iscsitarget"}, start); d != "" {
		t.Errorf("StartOrder (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"iscsitarget", "drbddisk::iscsi.target.0", "IPaddr::10.11.55.50/8/eth0"}, stop); d != "" {
		t.Errorf("StopOrder (-want +got):\n%s", d)
	}
	// The plans are copies: reordering one must not touch the group.
	so := g.StopOrder()
	so[0] = Resource{Script: "x"}
	if f.Groups[1].Resources[2].Script != "iscsitarget" {
		t.Errorf("StopOrder aliases the group's resources")
	}

	keysOf := func(gs []Group) []string {
		var k []string
		for _, g := range gs {
			k = append(k, g.Key)
		}
		return k
	}
	if d := cmp.Diff([]string{"drbddisk::iscsi.config", "IPaddr::10.11.55.50/8/eth0"}, keysOf(f.GroupsFor("Node1"))); d != "" {
		t.Errorf("GroupsFor(Node1) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"10.0.0.9"}, keysOf(f.GroupsFor("node2"))); d != "" {
		t.Errorf("GroupsFor(node2) (-want +got):\n%s", d)
	}
	if got := f.GroupsFor("node3"); len(got) != 0 {
		t.Errorf("GroupsFor(node3) = %v", got)
	}
	if g, ok := f.Group("10.0.0.9"); !ok || g.Node != "node2" || g.String() != "node2 10.0.0.9 httpd" {
		t.Errorf("Group(10.0.0.9) = %v, %v", g, ok)
	}
	// The key is the token as written: the expanded spelling is not a key.
	if _, ok := f.Group("IPaddr::10.0.0.9"); ok {
		t.Errorf("Group found by a spelling that is not the key")
	}
	var nilFile *File
	if nilFile.GroupsFor("x") != nil {
		t.Errorf("nil File has groups")
	}
	if _, ok := nilFile.Group("x"); ok {
		t.Errorf("nil File has a group")
	}
}

func TestShares(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"n a b", "n c d", false},
		{"n a b", "n c b", true},
		{"n x::1", "n x::2", false},
		{"n x::1::2", "n x::1", false},
		{"n 10.0.0.1/24 a", "n IPaddr::10.0.0.1/24 c", true},
		{"n 10.0.0.1/24 a", "n 10.0.0.1/16/eth1 c", true},
		{"n 10.0.0.1/24 a", "n IPaddr2::10.0.0.1/24 c", true},
		{"n 10.0.0.1/24 a", "n 10.0.0.2/24 c", false},
		{"n Filesystem::/dev/a::/srv", "n Filesystem::/dev/a::/mnt", true},
		{"n Filesystem::/dev/a::/srv", "n Filesystem::/dev/b::/srv/", true},
		{"n Filesystem::/dev/a::/srv", "n Filesystem::/dev/b::/srv/data", true},
		{"n Filesystem::/dev/a::/srv", "n Filesystem::/dev/b::/srvdata", false},
		{"n Filesystem::/dev/a::/", "n Filesystem::/dev/b::/x", true},
		{"n drbddisk::r0", "n drbddisk::r1", false},
		{"n drbddisk::r0", "n drbddisk", true},
		{"n drbddisk::r0", "n drbddisk::r0", true},
	}
	for _, tt := range tests {
		ga := mustParse(t, tt.a).Groups[0]
		gb := mustParse(t, tt.b).Groups[0]
		if got := Shares(ga, gb); got != tt.want {
			t.Errorf("Shares(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Shares(gb, ga); got != tt.want {
			t.Errorf("Shares(%q, %q) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}
