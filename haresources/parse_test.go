package haresources

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/diag"
)

func parseString(t *testing.T, text string) (*File, diag.List) {
	t.Helper()
	f, l := Parse(strings.NewReader(text), "haresources")
	if f == nil {
		t.Fatalf("Parse returned a nil File")
	}
	return f, l
}

func findingStrings(l diag.List) []string {
	var out []string
	for _, f := range l {
		out = append(out, f.String())
	}
	return out
}

// The admin's file from seed 002 must parse unchanged into exactly these
// groups.
func TestParseSeed002(t *testing.T) {
	f, l := Load(filepath.Join("testdata", "seed002.haresources"))
	if len(l) != 0 {
		t.Fatalf("unexpected findings:\n%s", strings.Join(findingStrings(l), "\n"))
	}
	file := filepath.Join("testdata", "seed002.haresources")
	want := []Group{
		{
			Node: "node1", Key: "drbddisk::iscsi.config", File: file, Line: 1,
			Resources: []Resource{
				{Script: "drbddisk", Args: []string{"iscsi.config"}, Raw: "drbddisk::iscsi.config"},
				{Script: "Filesystem", Args: []string{"/dev/drbd0", "/srv/data", "ext3"}, Raw: "Filesystem::/dev/drbd0::/srv/data::ext3"},
			},
		},
		{
			Node: "node1", Key: "IPaddr::10.11.55.50/8/eth0", File: file, Line: 2,
			Resources: []Resource{
				{Script: "IPaddr", Args: []string{"10.11.55.50/8/eth0"}, Raw: "IPaddr::10.11.55.50/8/eth0"},
				{Script: "drbddisk", Args: []string{"iscsi.target.0"}, Raw: "drbddisk::iscsi.target.0"},
				{Script: "iscsitarget", Raw: "iscsitarget"},
			},
		},
	}
	if d := cmp.Diff(want, f.Groups); d != "" {
		t.Errorf("groups (-want +got):\n%s", d)
	}
	if got, want := f.Groups[1].String(), "node1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// The two groups share nothing, so they may be started in parallel.
	if Shares(f.Groups[0], f.Groups[1]) {
		t.Errorf("seed 002 groups reported as sharing a resource")
	}
}

// The lab file of the Heartbeat 3.0.6 captures, and the exact text real
// Heartbeat logged for it ("Acquiring resource group: …").
func TestParseLab(t *testing.T) {
	f, l := Load(filepath.Join("testdata", "lab.haresources"))
	if len(l) != 0 {
		t.Fatalf("unexpected findings:\n%s", strings.Join(findingStrings(l), "\n"))
	}
	file := filepath.Join("testdata", "lab.haresources")
	want := []Group{{
		Node: "pa1", Key: "10.201.0.100/24/eth1", File: file, Line: 2,
		Resources: []Resource{
			{Script: "IPaddr", Args: []string{"10.201.0.100/24/eth1"}, Raw: "10.201.0.100/24/eth1"},
			{Script: "padummy", Args: []string{"alpha", "beta"}, Raw: "padummy::alpha::beta"},
		},
	}}
	if d := cmp.Diff(want, f.Groups); d != "" {
		t.Errorf("groups (-want +got):\n%s", d)
	}
	// As logged by pa2 in the C-extras session of the Heartbeat 3.0.6 lab (ha-log).
	const logged = "pa1 10.201.0.100/24/eth1 padummy::alpha::beta"
	if got := f.Groups[0].String(); got != logged {
		t.Errorf("String() = %q, Heartbeat logged %q", got, logged)
	}
	if got := f.Groups[0].Resources[0].String(); got != "IPaddr::10.201.0.100/24/eth1" {
		t.Errorf("shorthand canonical form = %q", got)
	}
}

// The testdata files must stay as their sources wrote them: lab.haresources
// byte for byte the capture lab's file (its SHA-256 is pinned here), and
// every line of seed002.haresources a whole line of the article excerpt.
func TestTestdataMatchesSources(t *testing.T) {
	const labSHA256 = "926734feda506fe42719570058a33ddb93fda8ba462776a012e53b65929bd6eb"
	mine, err := os.ReadFile(filepath.Join("testdata", "lab.haresources"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(mine); hex.EncodeToString(sum[:]) != labSHA256 {
		t.Errorf("testdata/lab.haresources differs from the lab file (SHA-256 %x, want %s)", sum, labSHA256)
	}
	seed, err := os.ReadFile(filepath.Join("testdata", "seed002-article.txt"))
	if err != nil {
		t.Fatal(err)
	}
	mine, err = os.ReadFile(filepath.Join("testdata", "seed002.haresources"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(mine)), "\n") {
		if !strings.Contains(string(seed), "\n"+line+"\n") {
			t.Errorf("seed 002 has no line %q", line)
		}
	}
}

// res is a shorthand for expected resources in tables.
func res(raw string, script string, args ...string) Resource {
	return Resource{Script: script, Args: args, Raw: raw}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Group // File is always "haresources"
	}{
		{
			name: "blanks and tabs collapse, trailing blanks ignored",
			in:   "node1\t \tIPaddr::10.0.0.1   httpd\t\n",
			want: []Group{{Node: "node1", Key: "IPaddr::10.0.0.1", Line: 1, Resources: []Resource{
				res("IPaddr::10.0.0.1", "IPaddr", "10.0.0.1"), res("httpd", "httpd")}}},
		},
		{
			name: "comments and blank lines, line numbers kept",
			in:   "# header\n\n   \n\t# indented comment\nnode1 httpd # the web server\n",
			want: []Group{{Node: "node1", Key: "httpd", Line: 5, Resources: []Resource{res("httpd", "httpd")}}},
		},
		{
			name: "hash inside a token starts a comment, as in Heartbeat",
			in:   "node1 httpd#not-a-resource\n",
			want: []Group{{Node: "node1", Key: "httpd", Line: 1, Resources: []Resource{res("httpd", "httpd")}}},
		},
		{
			name: "CRLF line ends",
			in:   "node1 a\r\nnode2 b c\r\n",
			want: []Group{
				{Node: "node1", Key: "a", Line: 1, Resources: []Resource{res("a", "a")}},
				{Node: "node2", Key: "b", Line: 2, Resources: []Resource{res("b", "b"), res("c", "c")}},
			},
		},
		{
			name: "no newline at end of file",
			in:   "node1 a",
			want: []Group{{Node: "node1", Key: "a", Line: 1, Resources: []Resource{res("a", "a")}}},
		},
		{
			name: "node name lower-cased, tokens kept as written",
			in:   "NoDe1 MyScript::Arg\n",
			want: []Group{{Node: "node1", Key: "MyScript::Arg", Line: 1, Resources: []Resource{res("MyScript::Arg", "MyScript", "Arg")}}},
		},
		{
			name: "continuation: group takes the first line's number",
			in:   "# c\nnode1 10.0.0.1 \\\n   Filesystem::/dev/sda1::/data1::ext2 \\\n\thttpd\nnode2 b\n",
			want: []Group{
				{Node: "node1", Key: "10.0.0.1", Line: 2, Resources: []Resource{
					res("10.0.0.1", "IPaddr", "10.0.0.1"),
					res("Filesystem::/dev/sda1::/data1::ext2", "Filesystem", "/dev/sda1", "/data1", "ext2"),
					res("httpd", "httpd")}},
				{Node: "node2", Key: "b", Line: 5, Resources: []Resource{res("b", "b")}},
			},
		},
		{
			name: "continuation with a comment before the backslash on the first line",
			in:   "node1 a \\# note\n b\n",
			want: []Group{{Node: "node1", Key: "a", Line: 1, Resources: []Resource{res("a", "a"), res("b", "b")}}},
		},
		{
			name: "IP shorthand forms",
			in:   "n 10.0.0.1 10.0.0.2/24 10.0.0.3/255.255.255.0/eth0 10.0.0.4/8/eth0:1/10.255.255.255 10.0.0.5/0 10.0.0.6/32\n",
			want: []Group{{Node: "n", Key: "10.0.0.1", Line: 1, Resources: []Resource{
				res("10.0.0.1", "IPaddr", "10.0.0.1"),
				res("10.0.0.2/24", "IPaddr", "10.0.0.2/24"),
				res("10.0.0.3/255.255.255.0/eth0", "IPaddr", "10.0.0.3/255.255.255.0/eth0"),
				res("10.0.0.4/8/eth0:1/10.255.255.255", "IPaddr", "10.0.0.4/8/eth0:1/10.255.255.255"),
				res("10.0.0.5/0", "IPaddr", "10.0.0.5/0"),
				res("10.0.0.6/32", "IPaddr", "10.0.0.6/32"),
			}}},
		},
		{
			name: "single colons inside arguments are kept",
			in:   "n nfsmount::srv:/export::/mnt\n",
			want: []Group{{Node: "n", Key: "nfsmount::srv:/export::/mnt", Line: 1, Resources: []Resource{
				res("nfsmount::srv:/export::/mnt", "nfsmount", "srv:/export", "/mnt")}}},
		},
		{
			name: "two groups on one node and one on the other",
			in:   "a x\nb y\na z\n",
			want: []Group{
				{Node: "a", Key: "x", Line: 1, Resources: []Resource{res("x", "x")}},
				{Node: "b", Key: "y", Line: 2, Resources: []Resource{res("y", "y")}},
				{Node: "a", Key: "z", Line: 3, Resources: []Resource{res("z", "z")}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, l := parseString(t, tt.in)
			if l.HasErrors() {
				t.Fatalf("unexpected errors:\n%s", strings.Join(findingStrings(l), "\n"))
			}
			for i := range tt.want {
				tt.want[i].File = "haresources"
			}
			if d := cmp.Diff(tt.want, f.Groups); d != "" {
				t.Errorf("groups (-want +got):\n%s", d)
			}
		})
	}
}

// finding is an expected finding: exact location and severity, and a part
// of the message that names what is wrong.
type finding struct {
	line int
	sev  diag.Severity
	msg  string
}

func e(line int, msg string) finding { return finding{line, diag.Error, msg} }
func w(line int, msg string) finding { return finding{line, diag.Warning, msg} }

func checkFindings(t *testing.T, l diag.List, want []finding) {
	t.Helper()
	ok := len(l) == len(want)
	for i := 0; ok && i < len(want); i++ {
		f := l[i]
		ok = f.File == "haresources" && f.Line == want[i].line && f.Severity == want[i].sev && strings.Contains(f.Message, want[i].msg)
	}
	if !ok {
		var ws []string
		for _, x := range want {
			ws = append(ws, diag.Finding{File: "haresources", Line: x.line, Severity: x.sev, Message: "…" + x.msg + "…"}.String())
		}
		t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(findingStrings(l), "\n  "), strings.Join(ws, "\n  "))
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []finding
		keep int // groups still returned
	}{
		// IP shorthand.
		{"octet out of range", "n 10.0.0.300\n", []finding{e(1, `resource "10.0.0.300": looks like an IP address, so it means IPaddr::10.0.0.300, but address "10.0.0.300": not a valid IPv4 address`)}, 0},
		{"three octets", "n a\nn 10.0.0/24\n", []finding{e(2, `resource "10.0.0/24": looks like an IP address but is not a dotted quad`)}, 1},
		{"prefix 33", "n 10.0.0.1/33\n", []finding{e(1, `resource "10.0.0.1/33": `)}, 0},
		{"prefix not a number", "n 10.0.0.1/2x\n", []finding{e(1, `prefix length "2x" is not a number 0..32`)}, 0},
		{"interface where the prefix goes", "n 10.0.0.1/eth0\n", []finding{e(1, `second field "eth0" must be the prefix length; write ip/prefix/eth0`)}, 0},
		{"netmask not contiguous", "n 10.0.0.1/255.0.255.0\n", []finding{e(1, `netmask 255.0.255.0 is not contiguous`)}, 0},
		{"empty field", "n 10.0.0.1//eth0\n", []finding{e(1, `empty field 2`)}, 0},
		{"too many fields", "n 10.0.0.1/24/eth0/10.0.0.255/x\n", []finding{e(1, `5 fields`)}, 0},
		{"interface too long", "n 10.0.0.1/24/abcdefghijklmnop\n", []finding{e(1, `longer than 15 characters`)}, 0},
		{"bad broadcast", "n 10.0.0.1/24/eth0/10.0.0.256\n", []finding{e(1, `broadcast "10.0.0.256"`)}, 0},
		{"leading zero", "n 10.0.0.01\n", []finding{e(1, `not a valid IPv4 address`)}, 0},
		{"multicast", "n 224.0.0.1\n", []finding{e(1, `multicast`)}, 0},
		{"unspecified", "n 0.0.0.0/8\n", []finding{e(1, `cannot be a service address`)}, 0},
		{"glob-shaped word", "n 1st.2nd.3rd.4th\n", []finding{e(1, `looks like an IP address`)}, 0},
		{"explicit IPaddr validated too", "n IPaddr::10.0.0.1/40\n", []finding{e(1, `IPaddr argument "10.0.0.1/40": prefix length 40 out of range 0..32`)}, 0},
		{"IPaddr without argument", "n IPaddr\n", []finding{e(1, `IPaddr takes one argument`)}, 0},
		{"IPaddr with two arguments", "n IPaddr::10.0.0.1::eth0\n", []finding{e(1, `IPaddr takes one argument`)}, 0},
		// Script and arguments.
		{"doubled separator", "n x::::y\n", []finding{e(1, `resource "x::::y": argument 1 is empty`)}, 0},
		{"trailing separator", "n a\nn x::a::\n", []finding{e(2, `resource "x::a::": argument 2 is empty`)}, 1},
		{"empty script", "n ::a\n", []finding{e(1, `empty script name`)}, 0},
		{"slash in script", "n ../../bin/sh\n", []finding{e(1, `script name "../../bin/sh" contains "/"`)}, 0},
		{"absolute script", "n /bin/sh::-c::x\n", []finding{e(1, `contains "/"`)}, 0},
		{"dash script", "n -rf\n", []finding{e(1, `script name "-rf" starts with '-'`)}, 0},
		{"dot script", "n .hidden\n", []finding{e(1, `starts with '.'`)}, 0},
		{"colon in script", "n a:b::c\n", []finding{e(1, `script name "a:b" contains ":"`)}, 0},
		{"Filesystem without mount point", "n Filesystem::/dev/sda1\n", []finding{e(1, `Filesystem needs device::mountpoint`)}, 0},
		{"Filesystem relative mount point", "n Filesystem::/dev/sda1::data\n", []finding{e(1, `mount point "data" is not an absolute path`)}, 0},
		// Line structure.
		{"node without resources", "node1\nnode2 a\n", []finding{e(1, `node "node1" has no resources`)}, 1},
		{"line starts with a resource", "IPaddr::10.0.0.1 httpd\n", []finding{e(1, `line starts with "IPaddr::10.0.0.1", which is a resource, not a node name`)}, 0},
		{"line starts with an address", "10.0.0.1 httpd\n", []finding{e(1, `which is a resource`)}, 0},
		{"comment on continued line", "n a \\\n b # why\nm c\n", []finding{e(2, `comment on a continued line`)}, 1},
		// Heartbeat ends the continued line at the comment line, so " b" is a
		// line of its own: a node without resources.
		{"comment line inside continuation", "n a \\\n# why\n b\n", []finding{e(2, `comment on a continued line`), e(3, `node "b" has no resources`)}, 0},
		{"continuation at end of file", "m b\nn a \\\n", []finding{e(2, `past the end of the file`)}, 1},
		{"backslash then blanks", "n a\\ \nb c\n", []finding{e(1, `token "a\\" ends in a backslash`)}, 1},
		{"control character", "n a\x00b\n", []finding{e(1, `contains control character 0x00`)}, 0},
		{"vertical tab is not a separator", "n a\vb\n", []finding{e(1, `control character 0x0b`)}, 0},
		{"lone CR mid-line", "n a\rb\n", []finding{e(1, `control character 0x0d`)}, 0},
		{"BOM later in the file", "a x\n\ufeffb y\n", []finding{e(2, `byte-order mark`)}, 1},
		// Across groups.
		{"duplicate key", "n1 a b\nn2 a c\n", []finding{e(2, `group key "a" is already the key of the group on line 1`)}, 1},
		{"resource in two groups", "n1 a x\nn2 b x\n", []finding{e(2, `resource "x" is already in the group on line 1 (node n1)`)}, 1},
		{"shorthand and explicit are one resource", "n1 10.0.0.1 a\nn2 b IPaddr::10.0.0.1\n", []finding{e(2, `resource "IPaddr::10.0.0.1" is already in the group on line 1`)}, 1},
		{"same address, other netmask", "n1 10.0.0.1/24 a\nn2 b 10.0.0.1/16/eth1\n", []finding{e(2, `uses address "10.0.0.1", as does "10.0.0.1/24" in the group on line 1`)}, 1},
		{"same address via IPaddr2", "n1 10.0.0.1/24 a\nn2 b IPaddr2::10.0.0.1/24\n", []finding{e(2, `uses address "10.0.0.1"`)}, 1},
		{"same device", "n1 Filesystem::/dev/drbd0::/a\nn2 Filesystem::/dev/drbd0/::/b\n", []finding{e(2, `uses device "/dev/drbd0"`)}, 1},
		{"same mount point", "n1 Filesystem::/dev/a::/srv\nn2 Filesystem::/dev/b::/srv/\n", []finding{e(2, `uses mount point "/srv"`)}, 1},
		{"drbddisk all vs one", "n1 drbddisk::r0\nn2 drbddisk\n", []finding{e(2, `uses DRBD resource "all", as does "drbddisk::r0"`)}, 1},
		{"drbddisk one vs all", "n1 drbddisk\nn2 drbddisk::r0\n", []finding{e(2, `uses DRBD resource "r0", as does "drbddisk"`)}, 1},
		{"resource twice in one group", "n a b a\n", []finding{e(1, `resource "a" is listed twice in this group`)}, 0},
		{"errors are per line, later lines still checked", "n 10.0.0.300\nn x::\nn ok\n", []finding{e(1, `10.0.0.300`), e(2, `argument 1 is empty`)}, 1},
		{"many errors on one line are capped", "n " + strings.Repeat("-x ", 20) + "\n", []finding{e(1, `-x`), e(1, `-x`), e(1, `-x`), e(1, `-x`), e(1, `-x`), e(1, `more errors on this line not shown`)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, l := parseString(t, tt.in)
			checkFindings(t, l, tt.want)
			if len(f.Groups) != tt.keep {
				t.Errorf("kept %d groups, want %d", len(f.Groups), tt.keep)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []finding
		keys []string
	}{
		{"empty file", "", []finding{w(0, "no resource groups")}, nil},
		{"only comments", "# nothing here\n\n", []finding{w(0, "no resource groups")}, nil},
		{"continuation glues two words", "n a my\\\nsql b\n", []finding{w(2, `joins "my" and "sql" into one token "mysql"`)}, []string{"a"}},
		{"shell wildcard in argument", "n Filesystem::/dev/sd*::/mnt\n", []finding{w(1, `argument "/dev/sd*" contains shell wildcard characters`)}, []string{"Filesystem::/dev/sd*::/mnt"}},
		{"byte-order mark", "\ufeffnode1 a\n", []finding{w(1, "byte-order mark")}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, l := parseString(t, tt.in)
			checkFindings(t, l, tt.want)
			var keys []string
			for _, g := range f.Groups {
				keys = append(keys, g.Key)
			}
			if d := cmp.Diff(tt.keys, keys); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadFailures(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "haresources")
	f, l := Load(missing)
	if len(f.Groups) != 0 || len(l) != 1 || l[0].File != missing || l[0].Line != 0 || l[0].Severity != diag.Error ||
		!strings.Contains(l[0].Message, "no such file") {
		t.Errorf("Load(missing) = %v, %v", f.Groups, findingStrings(l))
	}
	_, l = Load(dir)
	if len(l) != 1 || l[0].Line != 0 || !strings.Contains(l[0].Message, "not a regular file") {
		t.Errorf("Load(dir) findings = %v", findingStrings(l))
	}
}

func TestParseOversized(t *testing.T) {
	_, l := Parse(bytes.NewReader(make([]byte, maxFileSize+1)), "haresources")
	checkFindings(t, l, []finding{e(0, "larger than")})
}

// A 1 MB line of resources parses (in linear time) into one group, and a
// 1 MB single token is reported without a 1 MB message.
func TestParseHugeLine(t *testing.T) {
	var b strings.Builder
	b.WriteString("node1")
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString(" r")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("::")
		b.WriteString(itoa(i))
	}
	f, l := parseString(t, b.String()+"\n")
	if l.HasErrors() || len(f.Groups) != 1 || len(f.Groups[0].Resources) < 50000 {
		t.Fatalf("huge line: %d groups, findings %v", len(f.Groups), len(l))
	}
	_, l = parseString(t, "n "+strings.Repeat("/", 1<<20)+"\n")
	if len(l) != 1 || len(l[0].Message) > 300 {
		t.Errorf("huge token: %d findings, first message %d bytes", len(l), len(l[0].Message))
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

// Binary junk yields findings, never a panic, and no group built from junk.
func TestParseBinaryJunk(t *testing.T) {
	junk := make([]byte, 4096)
	x := uint32(2463534242)
	for i := range junk {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		junk[i] = byte(x)
	}
	f, l := Parse(bytes.NewReader(junk), "haresources")
	if !l.HasErrors() {
		t.Errorf("junk parsed without errors: %v", f.Groups)
	}
	for _, g := range f.Groups {
		if _, bad := controlByte(g.String()); bad {
			t.Errorf("group with control characters kept: %q", g.String())
		}
	}
}

// A file of junk lines stops after maxFindings findings, with an error
// saying the rest was not checked (so the file is rejected as a whole).
func TestParseFindingsCap(t *testing.T) {
	f, l := parseString(t, strings.Repeat("n -x\n", 300)+"n ok\n")
	if len(l) != maxFindings+1 {
		t.Fatalf("%d findings, want %d", len(l), maxFindings+1)
	}
	last := l[len(l)-1]
	if last.Line != maxFindings+1 || last.Severity != diag.Error || !strings.Contains(last.Message, "rest of the file was not checked") {
		t.Errorf("last finding %s", last)
	}
	if len(f.Groups) != 0 {
		t.Errorf("groups after the cap were kept: %v", f.Groups)
	}
}
