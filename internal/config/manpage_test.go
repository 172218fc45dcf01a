package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var thDate = regexp.MustCompile(`(?m)^\.TH HA\.CF 5 (\S+) `)

// The committed man/ha.cf.5 must be exactly what the directive table
// generates. Its date is the one in the committed file, so the page is
// reproducible; -update rewrites the page and moves the date to today only
// when the text changed (run `go test ./internal/config -run TestHACFManPage
// -update` after editing the table).
func TestHACFManPageIsGenerated(t *testing.T) {
	path := filepath.Join("..", "..", "man", "ha.cf.5")
	got, err := os.ReadFile(path)
	date := time.Now().UTC().Format("2006-01-02")
	if m := thDate.FindSubmatch(got); m != nil {
		date = string(m[1])
	}
	want := HACFManPage(date)
	if *update && string(got) != want {
		want = HACFManPage(time.Now().UTC().Format("2006-01-02"))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err = []byte(want), nil
	}
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with the directive table; run: go test ./internal/config -run TestHACFManPage -update", path)
	}
}

// Every directive the parser knows has its own entry, under the section of
// its kind, with its default.
func TestHACFManPageDocumentsEveryDirective(t *testing.T) {
	page := HACFManPage("2025-01-01")
	sections := strings.Split(page, "\n.SS ")
	for _, d := range Directives {
		entry := ".TP\n\\fB" + roffText(d.Name) + "\\fR"
		n := strings.Count(page, entry+" ") + strings.Count(page, entry+"\n")
		if n != 1 {
			t.Errorf("directive %s has %d entries, want 1", d.Name, n)
			continue
		}
		var title string
		for _, k := range manKinds {
			if k.kind == d.Kind {
				title = k.title
			}
		}
		found := false
		for _, s := range sections {
			if strings.HasPrefix(s, title+"\n") && strings.Contains(s, entry) {
				found = true
			}
		}
		if !found {
			t.Errorf("directive %s (%s) is not in section %q", d.Name, d.Kind, title)
		}
		if d.Default != "" && !strings.Contains(page, "Default: "+roffText(d.Default)) {
			t.Errorf("default of %s is missing", d.Name)
		}
	}
	for _, k := range []DirectiveKind{KindHeartbeat, KindExtension, KindObsolete, KindCRMOnly, KindUnsupported} {
		ok := false
		for _, mk := range manKinds {
			ok = ok || mk.kind == k
		}
		if !ok {
			t.Errorf("kind %s has no man page section: its directives would be left out", k)
		}
	}
}

// Only known man macros may start a line: a Doc string that begins with a dot
// or an apostrophe would otherwise be swallowed as an unknown roff request and
// vanish from the rendered page.
func TestHACFManPageRequestsAreKnown(t *testing.T) {
	known := map[string]bool{".TH": true, ".SH": true, ".SS": true, ".TP": true, ".PP": true,
		".B": true, ".BR": true, ".I": true, ".IR": true, ".br": true, ".RS": true, ".RE": true,
		".nf": true, ".fi": true, `.\"`: true}
	for i, line := range strings.Split(HACFManPage("2025-01-01"), "\n") {
		if line == "" {
			continue
		}
		if line[0] == '\'' {
			t.Errorf("line %d starts with an apostrophe: %q", i+1, line)
		}
		if line[0] == '.' && !known[strings.Fields(line)[0]] {
			t.Errorf("line %d: unknown request %q", i+1, line)
		}
	}
}

func TestRoffEscapes(t *testing.T) {
	cases := []struct{ in, want string }{
		{`a\b`, `a\eb`},
		{"see `uname -n`", `see \fBuname \-n\fR`},
		{"-f and --confdir", `\-f and \-\-confdir`},
		{"two-node, x-y", "two-node, x-y"},
		{"unclosed `code", `unclosed \fBcode\fR`},
	}
	for _, c := range cases {
		if got := roffText(c.in); got != c.want {
			t.Errorf("roffText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := roffLine(".hidden"); got != `\&.hidden` {
		t.Errorf("roffLine(.hidden) = %q", got)
	}
	if got := roffLine("'quoted"); got != `\&'quoted` {
		t.Errorf("roffLine('quoted) = %q", got)
	}
	if got := roffArgs("CLIENT [uid=USER,...]"); got != `\fICLIENT\fR [\fBuid\fR=\fIUSER\fR,...]` {
		t.Errorf("roffArgs = %q", got)
	}
}
