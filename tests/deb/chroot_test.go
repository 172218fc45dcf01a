//go:build netns

package deb

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cacheDir keeps the debootstrap'ed Debian 12 tree between runs: building it
// takes minutes, and CI runs on the same machine again and again.
const cacheDir = "/var/cache/heartbeatd-test"

// cachedTarball is the chroot tarball of the current ISO week. A week-old
// tree is still a correct Debian 12 (apt-get update runs inside it anyway);
// rebuilding weekly keeps it close to what a fresh machine gets.
func cachedTarball(now time.Time) string {
	y, w := now.ISOWeek()
	return filepath.Join(cacheDir, fmt.Sprintf("bookworm-minbase-%dw%02d.tgz", y, w))
}

// chroot is a fresh Debian 12 tree with /proc mounted.
type chroot struct {
	dir string
}

// newChroot unpacks (building first if needed) a minbase bookworm tree in a
// temporary directory. /proc is unmounted, and only then the tree removed,
// when the test ends.
func newChroot(t *testing.T) *chroot {
	t.Helper()
	tgz := cachedTarball(time.Now())
	if _, err := os.Stat(tgz); err != nil {
		buildTarball(t, tgz)
	} else {
		t.Logf("chroot: using cached %s", tgz)
	}
	dir, err := os.MkdirTemp("", "heartbeatd-deb-chroot-")
	if err != nil {
		t.Fatal(err)
	}
	mounted := false
	t.Cleanup(func() {
		if mounted {
			// The tree is removed only when /proc is gone from it:
			// RemoveAll must never walk into a mounted /proc.
			return
		}
		os.RemoveAll(dir)
	})
	start := time.Now()
	run(t, "", "tar", "-C", dir, "-xzf", tgz)
	t.Logf("chroot: unpacked in %v", time.Since(start).Round(time.Millisecond))
	// apt inside resolves the mirror like the host does.
	copyFile(t, "/etc/resolv.conf", filepath.Join(dir, "etc/resolv.conf"), 0o644)
	run(t, "", "mount", "-t", "proc", "proc", filepath.Join(dir, "proc"))
	mounted = true
	t.Cleanup(func() {
		p := filepath.Join(dir, "proc")
		if out, err := exec.Command("umount", p).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; lazy unmount", p, err, out)
			if out, err := exec.Command("umount", "-l", p).CombinedOutput(); err != nil {
				t.Errorf("umount -l %s: %v %s (tree left at %s)", p, err, out, dir)
				return
			}
		}
		mounted = false
	})
	return &chroot{dir: dir}
}

// buildTarball runs debootstrap against the host's own Debian mirror and
// stores the result atomically, removing tarballs of earlier weeks.
func buildTarball(t *testing.T, tgz string) {
	t.Helper()
	mirror := hostMirror(t)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "heartbeatd-debootstrap-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	t.Logf("chroot: debootstrap --variant=minbase bookworm from %s (slow, once a week)", mirror)
	run(t, "", "debootstrap", "--variant=minbase", "bookworm", dir, mirror)
	// The package cache is not needed again; it would double the tarball.
	run(t, "", "chroot", dir, "apt-get", "clean")
	tmp := tgz + ".tmp"
	run(t, "", "tar", "-C", dir, "-czf", tmp, ".")
	if err := os.Rename(tmp, tgz); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(cacheDir, "bookworm-minbase-*.tgz"))
	for _, f := range old {
		if f != tgz {
			os.Remove(f)
		}
	}
	t.Logf("chroot: debootstrap and tarball took %v", time.Since(start).Round(time.Second))
}

// hostMirror is the Debian archive the host's apt uses for bookworm
// (deb822 .sources or one-line sources.list), so the chroot reaches it the
// same way.
func hostMirror(t *testing.T) string {
	t.Helper()
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(b), "\n\n") {
			fields := map[string]string{}
			for _, line := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
					fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
			if m := pickMirror(strings.Fields(fields["URIs"]), strings.Fields(fields["Suites"])); m != "" {
				return m
			}
		}
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, f := range append([]string{"/etc/apt/sources.list"}, lists...) {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			w := strings.Fields(sc.Text())
			if len(w) >= 3 && w[0] == "deb" {
				w = w[1:]
				if strings.HasPrefix(w[0], "[") { // [signed-by=...] options
					for len(w) > 0 && !strings.HasSuffix(w[0], "]") {
						w = w[1:]
					}
					w = w[1:]
				}
				if len(w) >= 2 {
					if m := pickMirror(w[:1], w[1:2]); m != "" {
						fh.Close()
						return m
					}
				}
			}
		}
		fh.Close()
	}
	t.Fatal("no bookworm Debian mirror in /etc/apt/sources.list*: debootstrap needs one")
	return ""
}

func pickMirror(uris, suites []string) string {
	hasBookworm := false
	for _, s := range suites {
		hasBookworm = hasBookworm || s == "bookworm"
	}
	if !hasBookworm {
		return ""
	}
	for _, u := range uris {
		if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/debian") {
			return u
		}
	}
	return ""
}

// sh runs a shell command inside the chroot and returns its output; a
// non-zero exit fails the test.
func (c *chroot) sh(t *testing.T, script string) string {
	t.Helper()
	out, err := c.try(script)
	if err != nil {
		t.Fatalf("in chroot: %s\n%v\n%s", script, err, out)
	}
	return out
}

// try runs a shell command inside the chroot and returns output and error.
func (c *chroot) try(script string) (string, error) {
	cmd := exec.Command("chroot", c.dir, "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive",
		"LC_ALL=C", "HOME=/root"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *chroot) path(p string) string { return filepath.Join(c.dir, p) }

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(to) // may be a dangling symlink in the tree
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// run runs a host command; a failure fails the test with its output.
func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 4000))
	}
	return string(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}
