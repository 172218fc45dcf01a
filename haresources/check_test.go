package haresources

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/diag"
)

func TestCheckNodes(t *testing.T) {
	f := mustParse(t, "# x\nNode1 a\nnode3 b\nnode2 c\n")
	l := CheckNodes(f, []string{"node1", "NODE2"})
	want := []string{`haresources:3: error: node "node3" of group "b" is not a node in ha.cf (configured nodes: node1, NODE2)`}
	if d := cmp.Diff(want, findingStrings(l)); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	l = CheckNodes(f, nil)
	if len(l) != 3 || !strings.Contains(l[0].Message, "configured nodes: none") {
		t.Errorf("no nodes: %v", findingStrings(l))
	}
	if l := CheckNodes(mustParse(t, seed002), []string{"node1", "node2"}); len(l) != 0 {
		t.Errorf("seed 002: %v", findingStrings(l))
	}
	if l := CheckNodes(nil, []string{"a"}); len(l) != 0 {
		t.Errorf("nil file: %v", findingStrings(l))
	}
}

// scriptDirs builds two resource directories with every kind of entry the
// resolver must tell apart.
func scriptDirs(t *testing.T) (d1, d2 string) {
	t.Helper()
	root := t.TempDir()
	d1, d2 = filepath.Join(root, "resource.d"), filepath.Join(root, "init.d")
	for _, d := range []string{d1, d2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
	write(filepath.Join(d1, "exec"), 0o755)
	write(filepath.Join(d2, "exec"), 0o755) // shadowed by d1
	write(filepath.Join(d1, "ownerexec"), 0o700)
	write(filepath.Join(d1, "noexec"), 0o644)
	write(filepath.Join(d2, "noexec"), 0o755) // found in the second directory
	write(filepath.Join(d1, "plain"), 0o644)
	if err := os.Mkdir(filepath.Join(d1, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(d1, "exec"), filepath.Join(d1, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(d1, "nowhere"), filepath.Join(d1, "dangling")); err != nil {
		t.Fatal(err)
	}
	return d1, d2
}

func TestResolverPath(t *testing.T) {
	d1, d2 := scriptDirs(t)
	r := Resolver{Dirs: []string{d1, d2}}
	found := map[string]string{
		"exec":      filepath.Join(d1, "exec"),
		"ownerexec": filepath.Join(d1, "ownerexec"),
		"noexec":    filepath.Join(d2, "noexec"),
		"link":      filepath.Join(d1, "link"),
	}
	for name, want := range found {
		got, err := r.Path(name)
		if err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	notFound := map[string][]string{
		"plain":    {filepath.Join(d1, "plain") + ": is not executable", filepath.Join(d2, "plain") + ": does not exist"},
		"dir":      {filepath.Join(d1, "dir") + ": is a directory", filepath.Join(d2, "dir") + ": does not exist"},
		"missing":  {filepath.Join(d1, "missing") + ": does not exist", filepath.Join(d2, "missing") + ": does not exist"},
		"dangling": {filepath.Join(d1, "dangling") + ": does not exist", filepath.Join(d2, "dangling") + ": does not exist"},
	}
	for name, tried := range notFound {
		_, err := r.Path(name)
		var nf *ScriptError
		if !errors.As(err, &nf) || nf.BadName != nil {
			t.Errorf("Path(%q) error = %v, want a ScriptError after a lookup", name, err)
			continue
		}
		if d := cmp.Diff(tried, nf.Tried); d != "" {
			t.Errorf("Path(%q) tried (-want +got):\n%s", name, d)
		}
		if !strings.HasPrefix(err.Error(), "cannot locate resource script "+name+" (") {
			t.Errorf("Path(%q) error text %q", name, err)
		}
	}
	// Names that would leave the directory are refused without a lookup,
	// even when the target exists.
	for _, name := range []string{"../resource.d/exec", "/bin/sh", "-exec", ".exec", "", "a:b", "ex\x00ec"} {
		p, err := r.Path(name)
		var se *ScriptError
		if !errors.As(err, &se) || se.BadName == nil {
			t.Errorf("Path(%q) = %q, %v; want a ScriptError refusing the name", name, p, err)
		} else if len(se.Tried) > 0 {
			t.Errorf("Path(%q) looked on disk: %v", name, err)
		}
	}
}

func TestResolverDefaultDirs(t *testing.T) {
	if d := cmp.Diff([]string{"/etc/ha.d/resource.d", "/etc/init.d"}, Resolver{}.dirs()); d != "" {
		t.Errorf("default dirs (-want +got):\n%s", d)
	}
	_, err := Resolver{}.Path("heartbeatd-test-no-such-script")
	if err == nil || !strings.Contains(err.Error(), "/etc/ha.d/resource.d/heartbeatd-test-no-such-script: does not exist") ||
		!strings.Contains(err.Error(), "/etc/init.d/heartbeatd-test-no-such-script") {
		t.Errorf("zero Resolver error = %v", err)
	}
}

func TestCheckScripts(t *testing.T) {
	d1, d2 := scriptDirs(t)
	r := Resolver{Dirs: []string{d1, d2}}
	f := mustParse(t, "n1 exec::a plain exec::b\n\nn2 missing::x missing::y noexec\n")
	for _, sev := range []diag.Severity{diag.Warning, diag.Error} {
		l := CheckScripts(f, r, sev)
		var got []string
		for _, x := range l {
			if x.Severity != sev {
				t.Errorf("severity %v, want %v", x.Severity, sev)
			}
			got = append(got, x.String())
		}
		// One finding per missing script per group, at the group's line.
		want := []string{
			`haresources:1: ` + sev.String() + `: resource "plain": cannot locate resource script plain (` +
				filepath.Join(d1, "plain") + `: is not executable; ` + filepath.Join(d2, "plain") + `: does not exist)`,
			`haresources:3: ` + sev.String() + `: resource "missing::x": cannot locate resource script missing (` +
				filepath.Join(d1, "missing") + `: does not exist; ` + filepath.Join(d2, "missing") + `: does not exist)`,
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("findings (-want +got):\n%s", d)
		}
	}
	if l := CheckScripts(nil, r, diag.Error); len(l) != 0 {
		t.Errorf("nil file: %v", l)
	}
}
