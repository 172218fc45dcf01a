//go:build netns

package filesystem

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/agent"
)

// monitorLoop runs inside TestLoopDevice's private mount namespace.
func monitorLoop(t *testing.T) {
	monitor := func(t *testing.T, a *Agent, wantCode int, wantOut string, args ...string) result {
		t.Helper()
		r := run(a, append(args, "monitor")...)
		if r.code != wantCode || r.stdout != wantOut {
			t.Fatalf("monitor exit %d %q, want %d %q\nstderr:\n%s", r.code, r.stdout, wantCode, wantOut, r.stderr)
		}
		return r
	}
	noProbeLeft := func(t *testing.T, mp string) {
		t.Helper()
		if _, err := os.Lstat(filepath.Join(mp, probeName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("probe file left behind: %v", err)
		}
	}

	t.Run("errors=remount-ro after a filesystem error", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		args := []string{dev, mp, "ext4", "errors=remount-ro"}
		monitor(t, a, agent.NotRunning, "stopped\n", args...)
		run(a, append(args, "start")...).want(t, agent.OK)
		monitor(t, a, agent.OK, "running\n", args...)
		noProbeLeft(t, mp)
		// ext4's own error path, as after an I/O error: the superblock
		// goes read-only, the mount's flags stay rw.
		trig := filepath.Join("/sys/fs/ext4", filepath.Base(dev), "trigger_fs_error")
		if err := os.WriteFile(trig, []byte("heartbeatd monitor test\n"), 0o200); err != nil {
			t.Fatalf("trigger an ext4 error: %v", err)
		}
		r := monitor(t, a, agent.Failed, "failed: read-only\n", args...)
		if !strings.Contains(r.stderr, "emergency_ro") && !strings.Contains(r.stderr, "superblock ro") {
			t.Errorf("stderr does not show the superblock flag: %s", r.stderr)
		}
		// status keeps its presence-only meaning: the disk is in use here.
		expectStatus(t, a, "running", args...)
		run(a, append(args, "stop")...).want(t, agent.OK)
		monitor(t, a, agent.NotRunning, "stopped\n", args...)
	})

	t.Run("remounted read-only by hand, and back", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		args := []string{dev, mp, "ext4"}
		run(a, append(args, "start")...).want(t, agent.OK)
		t.Cleanup(func() { exec.Command("umount", mp).Run() })
		if out, err := exec.Command("mount", "-o", "remount,ro", mp).CombinedOutput(); err != nil {
			t.Fatalf("remount ro: %v: %s", err, out)
		}
		monitor(t, a, agent.Failed, "failed: read-only\n", args...)
		// Mounted read-only on purpose: only mounted counts.
		monitor(t, a, agent.OK, "running\n", dev, mp, "ext4", "ro")
		if out, err := exec.Command("mount", "-o", "remount,rw", mp).CombinedOutput(); err != nil {
			t.Fatalf("remount rw: %v: %s", err, out)
		}
		monitor(t, a, agent.OK, "running\n", args...)
		noProbeLeft(t, mp)
	})

	t.Run("probe fails or hangs", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		args := []string{dev, mp, "ext4"}
		run(a, append(args, "start")...).want(t, agent.OK)
		t.Cleanup(func() { exec.Command("umount", mp).Run() })
		// A leftover (a monitor killed while the filesystem hung) and a
		// planted symlink are replaced, never written through.
		target := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(mp, probeName)); err != nil {
			t.Fatal(err)
		}
		monitor(t, a, agent.OK, "running\n", args...)
		noProbeLeft(t, mp)
		if b, _ := os.ReadFile(target); string(b) != "keep" {
			t.Fatalf("probe wrote through a symlink: %q", b)
		}

		a.Probe = func(string) error { return errors.New("EIO") }
		if r := monitor(t, a, agent.Failed, "failed: write failed\n", args...); !strings.Contains(r.stderr, "EIO") {
			t.Errorf("stderr: %s", r.stderr)
		}
		block := make(chan struct{})
		defer close(block)
		a.Probe = func(string) error { <-block; return nil }
		a.ProbeTimeout = 100 * time.Millisecond
		start := time.Now()
		monitor(t, a, agent.Failed, "failed: write hangs\n", args...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("hung probe waited %v", d)
		}
	})
}
