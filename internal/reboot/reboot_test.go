package reboot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/logging"
)

// Nothing here may reboot this machine: every test sets Sync, Force, and
// Restart or a fake Command, and ForceSysrq is only given temporary files
// and fake fallbacks.

var t0 = time.Unix(1_000_000, 0)

// rig is one Reboot call with fakes for every step, on a fake clock.
type rig struct {
	t   *testing.T
	clk *clock.Fake
	cfg Config

	mu   sync.Mutex
	logs []string // "LEVEL text"

	restarts chan time.Time // clock time of each Restart call
	forces   chan time.Time // clock time of each Force call
	done     chan error     // Reboot's result
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, clk: clock.NewFake(t0),
		restarts: make(chan time.Time, 4), forces: make(chan time.Time, 4), done: make(chan error, 1)}
	r.cfg = Config{
		Reason: "Resource STOP failure",
		Clock:  r.clk,
		Sync:   func() {},
		Restart: func() error {
			r.restarts <- r.clk.Now()
			return nil
		},
		Force: func() error {
			r.forces <- r.clk.Now()
			return nil
		},
		Log: func(level logging.Level, text string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.logs = append(r.logs, string(level)+" "+text)
		},
	}
	return r
}

func (r *rig) start() { go func() { r.done <- Reboot(r.cfg) }() }

func (r *rig) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.logs...)
}

// waitArmed waits until Reboot is waiting on a timer due at.
func (r *rig) waitArmed(at time.Time) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if next, ok := r.clk.Next(); ok && next.Equal(at) {
			return
		}
		if time.Now().After(deadline) {
			next, _ := r.clk.Next()
			r.t.Fatalf("no timer armed for %v (next: %v); log %q", at.Sub(t0), next.Sub(t0), r.lines())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitLog waits until a line has been logged.
func (r *rig) waitLog(line string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !contains(r.lines(), line) {
		if time.Now().After(deadline) {
			r.t.Fatalf("%q never logged; log %q", line, r.lines())
		}
		time.Sleep(time.Millisecond)
	}
}

// receive waits for a step's call and returns the clock time it ran at.
func (r *rig) receive(ch chan time.Time, what string) time.Time {
	r.t.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(10 * time.Second):
		r.t.Fatalf("%s never ran; log %q", what, r.lines())
		return time.Time{}
	}
}

func (r *rig) none(ch chan time.Time, what string) {
	r.t.Helper()
	select {
	case at := <-ch:
		r.t.Fatalf("%s ran at %v", what, at.Sub(t0))
	default:
	}
}

func (r *rig) result() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		r.t.Fatalf("Reboot did not return; log %q", r.lines())
		return nil
	}
}

func contains(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}

// A sync stuck behind a dead NFS server or DRBD device is abandoned after
// SyncTimeout and the reboot goes ahead; still up ForceAfter later, the
// reboot is forced.
func TestSyncHangsRebootStillRuns(t *testing.T) {
	r := newRig(t)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	r.cfg.Sync = func() { <-hang }
	reboots := make(chan struct{})
	t.Cleanup(func() { close(reboots) })
	r.cfg.Restart = func() error {
		r.restarts <- r.clk.Now()
		<-reboots // as reboot(2) that works: it never returns
		return nil
	}
	r.start()

	r.waitArmed(t0.Add(DefaultSyncTimeout))
	r.clk.Advance(DefaultSyncTimeout - time.Millisecond)
	r.none(r.restarts, "Restart")
	r.clk.Advance(time.Millisecond)
	if at := r.receive(r.restarts, "Restart"); !at.Equal(t0.Add(DefaultSyncTimeout)) {
		t.Errorf("Restart at %v, want at the sync timeout", at.Sub(t0))
	}

	// The reboot hangs too: forced ForceAfter after it began.
	r.waitArmed(t0.Add(DefaultSyncTimeout + DefaultForceAfter))
	r.clk.Advance(DefaultForceAfter)
	if at := r.receive(r.forces, "Force"); !at.Equal(t0.Add(DefaultSyncTimeout + DefaultForceAfter)) {
		t.Errorf("Force at %v", at.Sub(t0))
	}
	if err := r.result(); err != nil {
		t.Errorf("Reboot = %v", err)
	}
	want := []string{
		"CRIT Rebooting now: Resource STOP failure",
		"WARN sync did not finish within 10s; rebooting without it",
		"CRIT Still running 20s after the reboot began: forcing it",
	}
	if diff := cmp.Diff(want, r.lines()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// A reboot command that exits 0 (systemctl reboot, shutdown -r) has only
// asked for the reboot: if we are still running ForceAfter after it began,
// the reboot is forced. The command gets the reason in its environment.
func TestRebootCommandReturnsThenForced(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	got := filepath.Join(dir, "reason")
	r.cfg.Command = []string{writeScript(t, dir, "fake-reboot", `printf %s "$`+EnvReason+`" > "$1"`), got}
	r.cfg.Restart = nil // must not be used
	synced := make(chan struct{})
	r.cfg.Sync = func() { close(synced) }
	r.start()

	line := fmt.Sprintf("WARN reboot command %v exited; forcing the reboot in 20s if still running", r.cfg.Command)
	r.waitLog(line)
	<-synced
	if b, err := os.ReadFile(got); err != nil || string(b) != "Resource STOP failure" {
		t.Errorf("reason seen by the command: %q, %v", b, err)
	}
	r.waitArmed(t0.Add(DefaultForceAfter))
	r.clk.Advance(DefaultForceAfter - time.Millisecond)
	r.none(r.forces, "Force")
	r.clk.Advance(time.Millisecond)
	if at := r.receive(r.forces, "Force"); !at.Equal(t0.Add(DefaultForceAfter)) {
		t.Errorf("Force at %v, want ForceAfter after the command began", at.Sub(t0))
	}
	if err := r.result(); err != nil {
		t.Errorf("Reboot = %v", err)
	}
	want := []string{
		"CRIT Rebooting now: Resource STOP failure",
		line,
		"CRIT Still running 20s after the reboot began: forcing it",
	}
	if diff := cmp.Diff(want, r.lines()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// A reboot that works does not return (reboot(2), or a command killed as
// the machine goes down): until ForceAfter nothing else is done or logged.
func TestRebootThatWorksIsLeftAlone(t *testing.T) {
	r := newRig(t)
	syncs := 0
	r.cfg.Sync = func() { syncs++ }
	reboots := make(chan struct{})
	r.cfg.Restart = func() error {
		r.restarts <- r.clk.Now()
		<-reboots
		return nil
	}
	r.start()
	if at := r.receive(r.restarts, "Restart"); !at.Equal(t0) {
		t.Errorf("Restart at %v, want at once after a prompt sync", at.Sub(t0))
	}
	r.waitArmed(t0.Add(DefaultForceAfter))
	r.clk.Advance(DefaultForceAfter - time.Millisecond)
	r.none(r.forces, "Force")
	r.none(r.restarts, "a second Restart")
	select {
	case err := <-r.done:
		t.Fatalf("Reboot returned %v while the reboot was under way", err)
	default:
	}
	if diff := cmp.Diff([]string{"CRIT Rebooting now: Resource STOP failure"}, r.lines()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if syncs != 1 {
		t.Errorf("%d syncs", syncs)
	}
	// Let the goroutine end: the machine "did not go down" after all.
	close(reboots)
	r.clk.Advance(time.Millisecond)
	r.receive(r.forces, "Force")
	r.result()
}

// A reboot that fails outright is forced at once: waiting ForceAfter for a
// reboot that is not coming only keeps the stuck resource here longer.
func TestRebootFailureForcesAtOnce(t *testing.T) {
	dir := t.TempDir()
	fail := writeScript(t, dir, "fail", "exit 1")
	missing := filepath.Join(dir, "nosuch")
	for _, tt := range []struct {
		name    string
		command []string
		restart func() error
		errLine string
	}{
		{"command exits 1", []string{fail}, nil, fmt.Sprintf("ERROR reboot command [%s]: exit status 1", fail)},
		{"command missing", []string{missing}, nil, fmt.Sprintf("ERROR reboot command [%s]: fork/exec %s: no such file or directory", missing, missing)},
		{"reboot(2) fails", nil, func() error { return errors.New("operation not permitted") }, "ERROR reboot: operation not permitted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.cfg.Command = tt.command
			if tt.restart != nil {
				r.cfg.Restart = tt.restart
			}
			r.start()
			if at := r.receive(r.forces, "Force"); !at.Equal(t0) {
				t.Errorf("Force at %v, want at once", at.Sub(t0))
			}
			if err := r.result(); err != nil {
				t.Errorf("Reboot = %v", err)
			}
			want := []string{"CRIT Rebooting now: Resource STOP failure", tt.errLine, "CRIT Reboot failed: forcing it"}
			if diff := cmp.Diff(want, r.lines()); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

// If even the forced reboot returns, Reboot says so, in cl_reboot's words,
// and returns the error for the caller to act on (we are still up).
func TestForceFailsReturnsError(t *testing.T) {
	r := newRig(t)
	r.cfg.Restart = func() error { return errors.New("operation not permitted") }
	r.cfg.Force = func() error { return errors.New("no sysrq") }
	r.start()
	err := r.result()
	if err == nil || err.Error() != "reboot: no sysrq" {
		t.Errorf("Reboot = %v", err)
	}
	if l := r.lines(); l[len(l)-1] != "CRIT ALL REBOOT OPTIONS FAILED: no sysrq" {
		t.Errorf("last line %q", l[len(l)-1])
	}
}

func TestForceSysrq(t *testing.T) {
	dir := t.TempDir()
	trigger := filepath.Join(dir, "sysrq-trigger")
	if err := os.WriteFile(trigger, nil, 0o200); err != nil {
		t.Fatal(err)
	}
	fallbacks := 0
	fake := func(err error) func() error {
		return func() error { fallbacks++; return err }
	}

	// 'b' written; still running (the file is not the kernel's): fallback.
	if err := ForceSysrq(trigger, fake(nil))(); err != nil {
		t.Errorf("ForceSysrq = %v", err)
	}
	if b, _ := os.ReadFile(trigger); string(b) != "b" || fallbacks != 1 {
		t.Errorf("trigger got %q, %d fallbacks", b, fallbacks)
	}

	// No trigger (no SysRq, no /proc): not created, fallback used, both
	// errors returned when it fails too.
	missing := filepath.Join(dir, "nosuch")
	err := ForceSysrq(missing, fake(errors.New("reboot(2) refused")))()
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "reboot(2) refused") || fallbacks != 2 {
		t.Errorf("ForceSysrq(missing) = %v after %d fallbacks", err, fallbacks)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("ForceSysrq created the trigger file")
	}
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.SyncTimeout != 10*time.Second || c.ForceAfter != 20*time.Second {
		t.Errorf("SyncTimeout %v, ForceAfter %v", c.SyncTimeout, c.ForceAfter)
	}
	if c.Sync == nil || c.Restart == nil || c.Force == nil || c.Clock != (clock.Real{}) {
		t.Error("a default is missing")
	}
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// NoForce (test rigs sharing a kernel): the command runs, nothing is
// forced, and Reboot returns at once.
func TestNoForceNeverForces(t *testing.T) {
	forced := false
	var lines []string
	err := Reboot(Config{Reason: "r", Command: []string{"/bin/true"}, NoForce: true,
		Sync: func() {}, Force: func() error { forced = true; return nil },
		Log: func(_ logging.Level, s string) { lines = append(lines, s) }})
	if err != nil || forced {
		t.Fatalf("err=%v forced=%v", err, forced)
	}
	err = Reboot(Config{Reason: "r", Command: []string{"/bin/false"}, NoForce: true,
		Sync: func() {}, Force: func() error { forced = true; return nil }, Log: func(logging.Level, string) {}})
	if err == nil || forced {
		t.Fatalf("failed command: err=%v forced=%v", err, forced)
	}
}
