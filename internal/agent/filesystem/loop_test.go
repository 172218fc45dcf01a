//go:build netns

package filesystem

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"heartbeatd/internal/agent"
)

// nsEnv marks the re-executed test binary running inside its own mount
// namespace: every mount the test makes dies with that namespace, so a
// crash never leaves a mount on the host.
const nsEnv = "HEARTBEATD_FILESYSTEM_TEST_IN_NS"

func TestLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root for loop devices and mounts")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mkfs.ext2", "unshare", "mount", "umount", "fsck", "blkid", "sleep", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (tests/install-deps.sh installs it)", tool)
		}
	}
	if os.Getenv(nsEnv) == "" {
		cmd := exec.Command("unshare", "-m", "--propagation", "private",
			os.Args[0], "-test.run=^TestLoopDevice$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), nsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in a private mount namespace:\n%s", out)
		if err != nil {
			t.Fatalf("namespaced run failed: %v", err)
		}
		return
	}

	t.Run("monitor", monitorLoop)

	t.Run("ext4 start status stop", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		expectStatus(t, a, "stopped", dev, mp, "ext4")
		r := run(a, dev, mp, "ext4", "start")
		r.want(t, agent.OK)
		if strings.Contains(r.stdout, "filesystem check") {
			t.Errorf("fsck ran for ext4:\n%s", r.stdout)
		}
		if !mounted(t, dev, mp) {
			t.Fatal("not mounted after start")
		}
		expectStatus(t, a, "running", dev, mp, "ext4")
		r = run(a, dev, mp, "ext4", "start")
		r.want(t, agent.OK)
		if !strings.Contains(r.stdout, "already mounted") {
			t.Errorf("second start: %s", r.stdout)
		}
		run(a, dev, mp, "ext4", "stop").want(t, agent.OK)
		if mounted(t, dev, mp) {
			t.Fatal("still mounted after stop")
		}
		expectStatus(t, a, "stopped", dev, mp, "ext4")
		run(a, dev, mp, "ext4", "stop").want(t, agent.OK)
	})

	t.Run("ext2 is checked before mounting", func(t *testing.T) {
		dev := newLoop(t, "ext2", "")
		mp := mkdir(t)
		a := testAgent()
		r := run(a, dev, mp, "ext2", "noatime", "start")
		r.want(t, agent.OK)
		if !strings.Contains(r.stdout, "starting filesystem check on "+dev+": fsck -t ext2 -p "+dev) {
			t.Errorf("no fsck log line:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, "mount -t ext2 -o noatime "+dev+" "+mp) {
			t.Errorf("mount line:\n%s", r.stdout)
		}
		run(a, dev, mp, "ext2", "noatime", "stop").want(t, agent.OK)
	})

	t.Run("ext2 that fsck cannot repair is not mounted", func(t *testing.T) {
		dev := newLoop(t, "ext2", "")
		// Wipe the superblocks' magic: fsck -p exits >= 4.
		zero := make([]byte, 64*1024)
		f, err := os.OpenFile(dev, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(zero, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		mp := mkdir(t)
		a := testAgent()
		r := run(a, dev, mp, "ext2", "start")
		r.want(t, agent.Failed)
		if !strings.Contains(r.stderr, "couldn't fsck") {
			t.Errorf("stderr: %s", r.stderr)
		}
		if mounted(t, dev, mp) {
			t.Error("mounted a filesystem fsck rejected")
		}
	})

	t.Run("label", func(t *testing.T) {
		label := fmt.Sprintf("hbt%d", os.Getpid()%100000)
		dev := newLoop(t, "ext4", label)
		mp := mkdir(t)
		a := testAgent()
		run(a, "-L"+label, mp, "ext4", "start").want(t, agent.OK)
		if !mounted(t, dev, mp) {
			t.Fatal("label not mounted")
		}
		expectStatus(t, a, "running", "-L"+label, mp, "ext4")
		expectStatus(t, a, "running", "LABEL="+label, mp, "ext4")
		run(a, "-L"+label, mp, "ext4", "stop").want(t, agent.OK)
		r := run(a, "-Lno-such-label-here", mp, "ext4", "start")
		r.want(t, agent.NotInstalled)
	})

	t.Run("stop kills processes using the mount", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		run(a, dev, mp, "ext4", "start").want(t, agent.OK)
		if err := os.WriteFile(filepath.Join(mp, "file"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		inCwd := exec.Command("sleep", "1000")
		inCwd.Dir = mp
		openFile := exec.Command("sh", "-c", "exec 3<"+filepath.Join(mp, "file")+"; cd /; exec sleep 1000")
		for _, c := range []*exec.Cmd{inCwd, openFile} {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		}
		waitFor(t, func() bool {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", openFile.Process.Pid))
			return l != ""
		})
		r := run(a, dev, mp, "ext4", "stop")
		r.want(t, agent.OK)
		for _, want := range []string{
			fmt.Sprintf("sending TERM to %d (sleep): cwd %s", inCwd.Process.Pid, mp),
			fmt.Sprintf("sending TERM to %d (sleep): fd 3 %s/file", openFile.Process.Pid, mp),
			"unmounted " + mp,
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
		for _, c := range []*exec.Cmd{inCwd, openFile} {
			err := c.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
				t.Errorf("pid %d: %v, want killed by TERM", c.Process.Pid, err)
			}
		}
		if mounted(t, dev, mp) {
			t.Error("still mounted")
		}
	})

	t.Run("a process ignoring TERM gets KILL", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		run(a, dev, mp, "ext4", "start").want(t, agent.OK)
		stubborn := exec.Command("sh", "-c", "trap '' TERM; while :; do sleep 1; done")
		stubborn.Dir = mp
		if err := stubborn.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stubborn.Process.Kill(); stubborn.Wait() })
		r := run(a, dev, mp, "ext4", "stop")
		r.want(t, agent.OK)
		if !strings.Contains(r.stdout, fmt.Sprintf("sending KILL to %d (sh)", stubborn.Process.Pid)) {
			t.Errorf("no KILL:\n%s", r.stdout)
		}
	})

	t.Run("lazy unmount that leaves the filesystem active fails", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		a.Grace = 100 * time.Millisecond
		run(a, dev, mp, "ext4", "start").want(t, agent.OK)
		// This test process is spared from signals, like the daemon.
		f, err := os.Create(filepath.Join(mp, "held"))
		if err != nil {
			t.Fatal(err)
		}
		r := run(a, dev, mp, "ext4", "stop")
		r.want(t, agent.Failed)
		if !strings.Contains(r.stdout, "lazy unmount") || !strings.Contains(r.stderr, "NOT safe for the peer") {
			t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		expectStatus(t, a, "may be running", dev, mp, "ext4")
		r = run(a, dev, mp, "ext4", "start")
		r.want(t, agent.Failed)
		f.Close()
		expectStatus(t, a, "stopped", dev, mp, "ext4")
	})

	t.Run("missing mountpoint", func(t *testing.T) {
		dev := newLoop(t, "ext4", "")
		mp := filepath.Join(t.TempDir(), "nope")
		r := run(testAgent(), dev, mp, "ext4", "start")
		r.want(t, agent.Failed)
		if !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("stderr: %s", r.stderr)
		}
		if _, err := os.Stat(mp); err == nil {
			t.Error("mountpoint was created")
		}
	})

	t.Run("another device on the mountpoint", func(t *testing.T) {
		devA, devB := newLoop(t, "ext4", ""), newLoop(t, "ext4", "")
		mp := mkdir(t)
		a := testAgent()
		run(a, devA, mp, "ext4", "start").want(t, agent.OK)
		t.Cleanup(func() { run(a, devA, mp, "ext4", "stop") })
		expectStatus(t, a, "stopped", devB, mp, "ext4")
		r := run(a, devB, mp, "ext4", "start")
		r.want(t, agent.Failed)
		if !strings.Contains(r.stderr, "busy with "+devA) {
			t.Errorf("stderr: %s", r.stderr)
		}
		run(a, devB, mp, "ext4", "stop").want(t, agent.OK)
		if !mounted(t, devA, mp) {
			t.Error("stop of B unmounted A")
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		a := testAgent()
		for _, args := range [][]string{nil, {"start"}, {"/dev/loop0", "start"}, {"/dev/loop0", "/mnt", "ext4", "restart"},
			{"/dev/loop0", "relative", "ext4", "start"}, {"/dev/loop0", "/", "ext4", "stop"}} {
			var out, errb bytes.Buffer
			if code := a.Main(args, agent.IO{Stdout: &out, Stderr: &errb}); code != agent.BadArgs {
				t.Errorf("%q: exit %d", args, code)
			}
		}
	})
}

func testAgent() *Agent {
	a := New()
	a.Grace = 3 * time.Second
	a.Poll = 50 * time.Millisecond
	a.Spare = []int{os.Getpid()}
	return a
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

func run(a *Agent, args ...string) result {
	var out, errb bytes.Buffer
	code := a.Main(args, agent.IO{Stdout: &out, Stderr: &errb})
	return result{code, out.String(), errb.String()}
}

func expectStatus(t *testing.T, a *Agent, want string, args ...string) {
	t.Helper()
	r := run(a, append(args, "status")...)
	if strings.TrimSpace(r.stdout) != want && !strings.HasPrefix(r.stdout, want+":") {
		t.Errorf("status %q, want %q (stderr %s)", r.stdout, want, r.stderr)
	}
}

func mkdir(t *testing.T) string {
	mp := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	return mp
}

func mounted(t *testing.T, dev, mp string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ParseMountInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Point == mp && m.Source == dev {
			return true
		}
	}
	return false
}

// newLoop makes a filesystem on a fresh loop device, detached at cleanup
// (after the mount cleanups registered later, which run first).
func newLoop(t *testing.T, fstype, label string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("no loop device: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		exec.Command("umount", "-l", dev).Run()
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Logf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	args := []string{"-q", "-F"}
	if label != "" {
		args = append(args, "-L", label)
	}
	if out, err := exec.Command("mkfs."+fstype, append(args, dev)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.%s: %v: %s", fstype, err, out)
	}
	return dev
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 2s")
}
