package haresources

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParse checks that no input panics the parser and that every group it
// accepts renders (as Heartbeat logs it) to a line that parses back to the
// same group: the rendering is what crosses to the executor and the logs.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		seed002,
		"# node  resources...   (IPaddr shorthand + script resource with two args)\npa1 10.201.0.100/24/eth1 padummy::alpha::beta\n",
		"node1 10.0.0.1 \\\n  Filesystem::/dev/sda1::/data1::ext2 \\\n\thttpd # web\r\nNODE2 drbddisk Filesystem::-Ldata::/srv/\n",
		"n 10.0.0.300 x::::y a:b::c -x ../y\n",
		"n a\\ \nn a b a\nn1 a\n\ufeffn2 b\n",
		"n 10.0.0.3/255.255.255.0/eth0:1/10.0.0.255 IPaddr2::10.0.0.3/24\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		file, l := Parse(strings.NewReader(text), "haresources")
		for _, x := range l {
			if x.File != "haresources" || x.Line < 0 || x.Message == "" {
				t.Fatalf("malformed finding %+v", x)
			}
		}
		_ = Digest(file)
		for _, g := range file.Groups {
			if len(g.Resources) == 0 || g.Key != g.Resources[0].Raw {
				t.Fatalf("group %q: key %q, %d resources", g.String(), g.Key, len(g.Resources))
			}
			again, l2 := Parse(strings.NewReader(g.String()), "haresources")
			if l2.HasErrors() || len(again.Groups) != 1 {
				t.Fatalf("group %q does not parse back: %v", g.String(), findingStrings(l2))
			}
			if d := cmp.Diff(g, again.Groups[0], cmpopts.IgnoreFields(Group{}, "Line")); d != "" {
				t.Fatalf("group %q parses back differently (-first +again):\n%s", g.String(), d)
			}
			if !Shares(g, g) {
				t.Fatalf("group %q does not share with itself", g.String())
			}
		}
	})
}
