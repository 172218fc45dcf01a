package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"heartbeatd/haresources"
	"heartbeatd/internal/script"
)

// `heartbeatd check` and the daemon's executor resolve resource scripts
// through the same haresources.Resolver over haresources.ScriptDirs(confdir);
// this pins that they never disagree about which file runs or why one is
// refused.
func TestCheckAndExecutorAgreeOnScripts(t *testing.T) {
	dir := confdir(t, map[string]string{"ha.cf": "testdata/seed002/ha.cf", "authkeys": "testdata/seed002/authkeys"})
	rd := filepath.Join(dir, "resource.d")
	write := func(path string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
	for _, d := range []string{rd, filepath.Join(rd, "hbtest-dir"), filepath.Join(rd, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(rd, "hbtest-exec"), 0o755)
	write(filepath.Join(rd, "hbtest-noexec"), 0o644)
	write(filepath.Join(dir, "real"), 0o755)
	if err := os.Symlink("../real", filepath.Join(rd, "hbtest-link")); err != nil {
		t.Fatal(err)
	}
	// Executable, but only reachable through a name with a slash.
	write(filepath.Join(rd, "sub", "hbtest-exec"), 0o755)

	runner := &script.Runner{Dirs: haresources.ScriptDirs(dir)} // as the daemon builds it
	for _, c := range []struct {
		name string
		want string // the executor's verdict: the path it runs, or part of why not
	}{
		{"hbtest-exec", filepath.Join(rd, "hbtest-exec")},
		{"hbtest-link", filepath.Join(rd, "hbtest-link")},
		{"hbtest-missing", filepath.Join(rd, "hbtest-missing") + ": does not exist"},
		{"hbtest-noexec", filepath.Join(rd, "hbtest-noexec") + ": is not executable"},
		{"hbtest-dir", filepath.Join(rd, "hbtest-dir") + ": is a directory"},
		{"sub/hbtest-exec", `contains "/"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, err := runner.Locate(c.name)
			res := runner.Run(context.Background(), haresources.Resource{Script: c.name}, "status")
			if res.Path != path || fmt.Sprint(res.Err) != fmt.Sprint(err) {
				t.Fatalf("Run resolved %q, %v; Locate %q, %v", res.Path, res.Err, path, err)
			}
			switch {
			case err == nil && path != c.want:
				t.Fatalf("executor runs %q, want %q", path, c.want)
			case err != nil && !strings.Contains(err.Error(), c.want):
				t.Fatalf("executor refuses with %v, want %q in it", err, c.want)
			}

			if err := os.WriteFile(filepath.Join(dir, "haresources"), []byte("node1 "+c.name+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			check(&out, dir, "node1", false)
			var se *haresources.ScriptError
			switch {
			case err == nil:
				if strings.Contains(out.String(), c.name) {
					t.Errorf("executor runs %s but check says:\n%s", path, out.String())
				}
			case !errors.As(err, &se):
				t.Fatalf("executor error %v is not a *haresources.ScriptError", err)
			case se.BadName != nil:
				// check refuses the name already when parsing haresources,
				// with the same words.
				if want := fmt.Sprintf("haresources:1: error: resource %q: %v\n", c.name, se.BadName); !strings.Contains(out.String(), want) {
					t.Errorf("executor: %v\ncheck lacks %q:\n%s", err, want, out.String())
				}
			default:
				want := fmt.Sprintf("haresources:1: warning: resource %q: %v\n", c.name, err)
				if !strings.Contains(out.String(), want) {
					t.Errorf("check lacks the executor's verdict %q:\n%s", want, out.String())
				}
			}
		})
	}
}
