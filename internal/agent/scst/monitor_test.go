package scst

import (
	"os"
	"testing"

	"heartbeatd/internal/agent"
)

// monitor on the fake SCST sysfs: healthy when the target, the driver and
// the LUN all serve; each way of not serving is a failure, and absence is
// "stopped".
func TestMonitor(t *testing.T) {
	l := newLab(t)
	drbd := l.disk("drbd0")
	tArgs := []string{seedIQN, seedPortals, seedOptions}
	lArgs := []string{seedIQN, "VM_STORAGE_1", "0", drbd, "vdisk_fileio"}
	monitor := func(step string, lun bool, args []string, wantCode int, wantOut string) {
		t.Helper()
		r, w := l.run(lun, append(args, "monitor")...)
		if r.code != wantCode || r.stdout != wantOut {
			t.Fatalf("%s: monitor exit %d %q (stderr %q), want %d %q", step, r.code, r.stdout, r.stderr, wantCode, wantOut)
		}
		if len(w) != 0 {
			t.Fatalf("%s: monitor wrote %q", step, w)
		}
	}
	status := func(step string, lun bool, args []string, want string) {
		t.Helper()
		if r, _ := l.run(lun, append(args, "status")...); r.stdout != want {
			t.Fatalf("%s: status %q, want %q", step, r.stdout, want)
		}
	}
	monitor("before start", false, tArgs, agent.NotRunning, "stopped\n")
	monitor("before start", true, lArgs, agent.NotRunning, "stopped\n")
	for _, lun := range []bool{false, true} {
		args := tArgs
		if lun {
			args = lArgs
		}
		if r, _ := l.run(lun, append(args, "start")...); r.code != 0 {
			t.Fatalf("start: %+v", r)
		}
	}
	monitor("started", false, tArgs, agent.OK, "running\n")
	monitor("started", true, lArgs, agent.OK, "running\n")

	// iscsi-scstd gone: the kernel target takes no logins.
	if err := l.tree.SetOpenState("closed"); err != nil {
		t.Fatal(err)
	}
	monitor("iscsi-scstd gone", false, tArgs, agent.Failed, "failed: driver down\n")
	status("iscsi-scstd gone", false, tArgs, "running\n")
	if err := l.tree.SetOpenState("open"); err != nil {
		t.Fatal(err)
	}
	if err := l.tree.WriteFile("targets/iscsi/enabled", "0"); err != nil {
		t.Fatal(err)
	}
	monitor("driver disabled", false, tArgs, agent.Failed, "failed: driver disabled\n")
	if err := l.tree.WriteFile("targets/iscsi/enabled", "1"); err != nil {
		t.Fatal(err)
	}
	if err := l.tree.WriteFile("targets/iscsi/"+seedIQN+"/enabled", "0"); err != nil {
		t.Fatal(err)
	}
	monitor("target disabled", false, tArgs, agent.Failed, "failed: target disabled\n")
	if err := l.tree.WriteFile("targets/iscsi/"+seedIQN+"/enabled", "1"); err != nil {
		t.Fatal(err)
	}
	monitor("re-enabled", false, tArgs, agent.OK, "running\n")

	if err := os.Rename(drbd, drbd+".gone"); err != nil {
		t.Fatal(err)
	}
	monitor("store gone", true, lArgs, agent.Failed, "failed: backing store missing\n")
	status("store gone", true, lArgs, "running\n")
	if err := os.Rename(drbd+".gone", drbd); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.run(true, append(lArgs, "stop")...); r.code != 0 {
		t.Fatalf("lun stop: %+v", r)
	}
	monitor("lun stopped", true, lArgs, agent.NotRunning, "stopped\n")
}
