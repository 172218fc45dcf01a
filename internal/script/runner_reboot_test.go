package script

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/reboot"
)

// The whole stop path with a stop stuck in the kernel, as the daemon will
// wire it: the runner gives up on the script within its deadlines with
// ErrUnkillable, and the reboot that follows runs the (fake) reboot command
// and then the (fake) forced step. Nothing here waits without a bound.
func TestUnkillableStopLeadsToReboot(t *testing.T) {
	fz := newFreezer(t)
	dir := t.TempDir()
	writeScript(t, dir, "Filesystem", frozenScript("umount: /data: target is busy"))
	log := &recLogger{}
	r := &Runner{Dirs: []string{dir}, Env: []string{"FREEZER=" + fz.dir}, Log: log, Clock: newSteppedClock(),
		Timeout: 300 * time.Second, KillGrace: 5 * time.Second, ReapGrace: 5 * time.Second}

	res := haresources.Resource{Script: "Filesystem", Args: []string{"/dev/drbd0", "/data"}}
	out := runFrozen(t, r, r.Clock.(*steppedClock), fz, res, "stop", "umount: /data: target is busy")
	var ue *UnkillableError
	if !errors.As(out.Err, &ue) || !errors.Is(out.Err, ErrUnkillable) || !out.TimedOut {
		t.Fatalf("stop = %+v, want an unkillable timeout", out)
	}
	if st := procState(ue.Pid); st != "D" {
		t.Errorf("stop script state %q, want D", st)
	}

	cmdDir := t.TempDir()
	reasonFile := filepath.Join(cmdDir, "reason")
	fakeReboot := writeScript(t, cmdDir, "fake-reboot", `printf %s "$HEARTBEATD_REBOOT_REASON" > "$1"`)
	var mu sync.Mutex
	var lines []string
	forced := 0
	err := reboot.Reboot(reboot.Config{
		Reason:      "Resource STOP failure: " + out.Err.Error(),
		Command:     []string{fakeReboot, reasonFile},
		Sync:        func() {}, // the test machine's disks are not at issue
		SyncTimeout: time.Second,
		ForceAfter:  100 * time.Millisecond,
		Force:       func() error { forced++; return nil },
		Log: func(level logging.Level, text string) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, string(level)+" "+text)
		},
	})
	if err != nil || forced != 1 {
		t.Errorf("Reboot = %v with %d forced steps, want the forced step once", err, forced)
	}
	b, rerr := os.ReadFile(reasonFile)
	if rerr != nil || !strings.Contains(string(b), "is still there 5s after SIGKILL") {
		t.Errorf("reboot command saw reason %q (%v)", b, rerr)
	}
	mu.Lock()
	got := strings.Join(lines, "\n")
	mu.Unlock()
	for _, want := range []string{"CRIT Rebooting now: Resource STOP failure: ", "CRIT Still running 100ms after the reboot began: forcing it"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}

	fz.thaw()
	waitReapedLog(t, log, ue.Pid)
}
