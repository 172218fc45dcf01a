package script

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/haresources"
)

// These tests need a process that SIGKILL cannot end, as a stop blocked in
// a hung umount or NFS call is. A task in a frozen cgroup v1 freezer sits in
// uninterruptible sleep and dies of a pending SIGKILL only when thawed. The
// cgroup v2 freezer cannot stand in: it lets fatal signals through (kernel
// commit 76f969e8948d, "cgroup: cgroup v2 freezer": "tasks can be killed").
// Root is required; the tests fail rather than skip without it.

// freezer is a cgroup of the v1 freezer hierarchy made for one test.
type freezer struct {
	t   *testing.T
	dir string
}

// newFreezer makes an empty freezer cgroup, thawed and removed when the test
// ends. A script joins it and freezes itself (see frozenScript), so the
// freeze cannot race a timeout.
func newFreezer(t *testing.T) *freezer {
	t.Helper()
	root := freezerRoot(t)
	sweepFreezers(t, root)
	dir := filepath.Join(root, fmt.Sprintf("hbdtest-%d-%08x", os.Getpid(), rand.Uint32()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("freezer cgroup: %v", err)
	}
	f := &freezer{t: t, dir: dir}
	// Cleanups run last first: thaw, then remove once the killed tasks
	// have left it.
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := unix.Rmdir(dir)
			if err == nil || errors.Is(err, unix.ENOENT) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("remove %s: %v (tasks: %v)", dir, err, f.pids())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Cleanup(f.thaw)
	return f
}

// sweepFreezers thaws and removes the cgroups of test binaries that died
// without their cleanups (a panic, a -timeout): their scripts would
// otherwise stay frozen, in D state, until the next boot.
func sweepFreezers(t *testing.T, root string) {
	t.Helper()
	stale, _ := filepath.Glob(filepath.Join(root, "hbdtest-*"))
	for _, dir := range stale {
		var pid int
		var suffix string
		if n, _ := fmt.Sscanf(filepath.Base(dir), "hbdtest-%d-%s", &pid, &suffix); n != 2 || pid == os.Getpid() || unix.Kill(pid, 0) == nil {
			continue
		}
		_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644)
		for i := 0; i < 100 && unix.Rmdir(dir) == unix.EBUSY; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("removed %s, left by a test binary that did not clean up", dir)
	}
}

// freezerRoot is where the v1 freezer hierarchy is mounted, mounting it on
// a temporary directory if it is not (a cgroup-v2-only host still has the
// v1 freezer controller, unbound, unless the kernel lacks it).
func freezerRoot(t *testing.T) string {
	t.Helper()
	if mnt := findFreezerMount(t); mnt != "" {
		return mnt
	}
	mnt := t.TempDir()
	if err := unix.Mount("cgroup", mnt, "cgroup", 0, "freezer"); err != nil {
		t.Fatalf("no cgroup v1 freezer mounted, and mounting one on %s failed: %v "+
			"(these tests need root and CONFIG_CGROUP_FREEZER; the v2 freezer lets SIGKILL through)", mnt, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// findFreezerMount reads /proc/self/mountinfo for a cgroup (v1) mount with
// the freezer controller among its super options.
func findFreezerMount(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, sf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(sf) < 3 || sf[0] != "cgroup" {
			continue
		}
		if slices.Contains(strings.Split(sf[2], ","), "freezer") {
			return pf[4]
		}
	}
	return ""
}

// frozenScript is a script body that prints msg, joins the freezer cgroup
// named by $FREEZER and freezes itself there: from then on it is as stuck
// as a process in a hung umount, and SIGKILL stays pending until thawed.
func frozenScript(msg string) string {
	return `echo "` + msg + `"
echo $$ > "$FREEZER/cgroup.procs"
echo FROZEN > "$FREEZER/freezer.state"
echo "never printed: thawed only to die"
`
}

func (f *freezer) read(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		f.t.Errorf("%v", err)
	}
	return strings.TrimSpace(string(b))
}

func (f *freezer) pids() []string { return strings.Fields(f.read("cgroup.procs")) }

// waitFrozen waits until a task has frozen itself in f.
func (f *freezer) waitFrozen() {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.read("freezer.state") != "FROZEN" || len(f.pids()) == 0 {
		if time.Now().After(deadline) {
			f.t.Fatalf("script never froze: state %s, tasks %v", f.read("freezer.state"), f.pids())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *freezer) thaw() {
	if err := os.WriteFile(filepath.Join(f.dir, "freezer.state"), []byte("THAWED"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.t.Errorf("thaw: %v", err)
	}
}

// procState is the state letter of pid in /proc ("D", "Z", ...), "" if gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

const reapedLine = "which survived SIGKILL, has exited at last"

// waitReapedLog waits for the background reaper's line and checks it came
// once, for pid, and that pid is gone for good (reaped, not a zombie).
func waitReapedLog(t *testing.T, log *recLogger, pid int) {
	t.Helper()
	find := func() []logRecord {
		var out []logRecord
		for _, r := range log.records() {
			if strings.Contains(r.text, reapedLine) {
				out = append(out, r)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(find()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %q line after thawing; log:\n%s", reapedLine, fmtLines(log.ofEntity(EntityResourceManager, true)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a second line would come now
	recs := find()
	if len(recs) != 1 {
		t.Fatalf("reaper logged %d times: %v", len(recs), recs)
	}
	if r := recs[0]; r.entity != EntityResourceManager || r.level != LevelWarn || !strings.Contains(r.text, fmt.Sprintf("process %d,", pid)) {
		t.Errorf("reaper line = %v", r)
	}
	if st := procState(pid); st != "" {
		t.Errorf("pid %d still in /proc (state %s) after the reaper logged", pid, st)
	}
}

// runFrozen runs a frozenScript that prints first and overruns r.Timeout on
// clk. Its time is up only once it has frozen and its line has been read,
// so a slow fork cannot turn the test into a plain timeout. The runner must
// wait exactly Timeout, KillGrace and ReapGrace on its clock, and return
// promptly after the last.
func runFrozen(t *testing.T, r *Runner, clk *steppedClock, fz *freezer, res haresources.Resource, op, first string) Result {
	t.Helper()
	log := r.Log.(*recLogger)
	done := make(chan Result, 1)
	go func() { done <- r.Run(context.Background(), res, op) }()
	want := []time.Duration{r.Timeout, r.KillGrace, r.ReapGrace}
	var waits []time.Duration
	for i := range want {
		select {
		case d := <-clk.waits:
			waits = append(waits, d)
		case out := <-done:
			t.Fatalf("Run returned early: %+v", out)
		case <-time.After(10 * time.Second):
			t.Fatalf("Run is not waiting on its clock; waits so far %v", waits)
		}
		if i == 0 {
			fz.waitFrozen()
			for !log.contains(LevelDebug, first) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		clk.Advance(waits[i])
	}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want Timeout, KillGrace, ReapGrace %v", waits, want)
	}
	select {
	case out := <-done:
		return out
	case <-time.After(time.Second):
		t.Fatal("Run still waiting for the process after ReapGrace")
		return Result{}
	}
}

// A stop stuck in the kernel ends at the timeout, SIGTERM, SIGKILL and
// ReapGrace, all on the runner's clock: Run returns an *UnkillableError
// instead of waiting for the process, which is reaped (and logged) once it
// finally dies.
func TestRunUnkillableScriptTimesOut(t *testing.T) {
	fz := newFreezer(t)
	dir := t.TempDir()
	writeScript(t, dir, "hungfs", frozenScript("umount: /data: target is busy"))
	log := &recLogger{}
	clk := newSteppedClock()
	r := &Runner{Dirs: []string{dir}, Env: []string{"FREEZER=" + fz.dir}, Log: log, Clock: clk,
		Timeout: 300 * time.Second, KillGrace: 5 * time.Second, ReapGrace: 7 * time.Second}

	out := runFrozen(t, r, clk, fz, haresources.Resource{Script: "hungfs"}, "stop", "umount: /data: target is busy")

	var ue *UnkillableError
	if !errors.Is(out.Err, ErrUnkillable) || !errors.As(out.Err, &ue) {
		t.Fatalf("Err = %v, want an *UnkillableError", out.Err)
	}
	if ue.Path != filepath.Join(dir, "hungfs") || ue.Op != "stop" || ue.Grace != r.ReapGrace || !strings.Contains(ue.Cause.Error(), "timed out after 5m0s") {
		t.Errorf("UnkillableError = %+v", ue)
	}
	if !out.TimedOut || out.ExitCode != -1 || !out.Failed() {
		t.Errorf("TimedOut=%v ExitCode=%d Failed=%v", out.TimedOut, out.ExitCode, out.Failed())
	}
	wantMsg := fmt.Sprintf("%s stop: timed out after 5m0s; process group %d killed, but process %d is still there 7s after SIGKILL (blocked in the kernel?)", ue.Path, ue.Pid, ue.Pid)
	if out.Err.Error() != wantMsg {
		t.Errorf("Err = %q\nwant  %q", out.Err, wantMsg)
	}
	// What it said before it got stuck is kept: it is why it failed.
	if !slices.Equal(out.Output, []string{"umount: /data: target is busy"}) {
		t.Errorf("Output = %q", out.Output)
	}
	if pids := fz.pids(); !slices.Equal(pids, []string{fmt.Sprint(ue.Pid)}) {
		t.Errorf("frozen cgroup holds %v, want the script %d", pids, ue.Pid)
	}
	if st := procState(ue.Pid); st != "D" {
		t.Errorf("script state %q, want D (frozen, SIGKILL pending)", st)
	}
	// The pipes are open (the process holds them) but Run did not wait
	// for them and does not pretend it did.
	if slices.ContainsFunc(log.records(), func(r logRecord) bool { return strings.Contains(r.text, "output still open") }) {
		t.Errorf("drain waited for an unkillable script:\n%s", fmtLines(log.ofEntity("hungfs", true)))
	}

	fz.thaw()
	waitReapedLog(t, log, ue.Pid)
}

// The same through the caller's context on the real clock: from the
// cancellation Run takes KillGrace + ReapGrace and a little more, and the
// error still says why the script was killed.
func TestRunUnkillableScriptContextEnds(t *testing.T) {
	fz := newFreezer(t)
	dir := t.TempDir()
	writeScript(t, dir, "hungfs", frozenScript("stopping"))
	log := &recLogger{}
	const killGrace, reapGrace, slack = 100 * time.Millisecond, 300 * time.Millisecond, time.Second
	r := &Runner{Dirs: []string{dir}, Env: []string{"FREEZER=" + fz.dir}, Log: log,
		KillGrace: killGrace, ReapGrace: reapGrace}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Result, 1)
	go func() { done <- r.Run(ctx, haresources.Resource{Script: "hungfs"}, "stop") }()
	fz.waitFrozen()
	start := time.Now()
	cancel()
	var out Result
	select {
	case out = <-done:
	case <-time.After(killGrace + reapGrace + slack):
		t.Fatalf("Run did not return within %v of the cancellation", killGrace+reapGrace+slack)
	}
	if el := time.Since(start); el < killGrace+reapGrace {
		t.Errorf("returned after %v, before KillGrace+ReapGrace", el)
	}
	if !errors.Is(out.Err, ErrUnkillable) || !errors.Is(out.Err, context.Canceled) || out.TimedOut {
		t.Fatalf("Run = %+v, want unkillable after cancellation", out)
	}
	var ue *UnkillableError
	errors.As(out.Err, &ue)
	if st := procState(ue.Pid); st != "D" {
		t.Errorf("script state %q, want D", st)
	}
	fz.thaw()
	waitReapedLog(t, log, ue.Pid)
}

// A killed script whose own child left its session with stdout must not
// hold Run up either: the child is out of the group's reach, and Run only
// waits drainDelay for the pipes.
func TestRunTimeoutDoesNotWaitForEscapedOutputHolder(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	writeScript(t, dir, "escape", `setsid sleep 1000 & echo $! > "$PIDS"; echo started; exec sleep 1000`)
	r := &Runner{Dirs: []string{dir}, Env: []string{"PIDS=" + pidfile},
		Timeout: 100 * time.Millisecond, KillGrace: 100 * time.Millisecond, ReapGrace: 100 * time.Millisecond}
	start := time.Now()
	out := r.Run(context.Background(), haresources.Resource{Script: "escape"}, "stop")
	el := time.Since(start)
	pids := readPids(t, pidfile)
	if len(pids) != 1 {
		t.Fatalf("pids %v", pids)
	}
	t.Cleanup(func() { unix.Kill(pids[0], unix.SIGKILL) })
	if !out.TimedOut || errors.Is(out.Err, ErrUnkillable) || out.ExitCode != 128+int(unix.SIGTERM) {
		t.Errorf("Run = %+v, want a plain timeout with the leader dead of SIGTERM", out)
	}
	if el > 100*time.Millisecond+drainDelay+time.Second {
		t.Errorf("Run took %v", el)
	}
	if !slices.Equal(out.Output, []string{"started"}) {
		t.Errorf("Output = %q", out.Output)
	}
	if !alive(pids[0]) {
		t.Error("the escaped child is gone; the test proves nothing")
	}
}
