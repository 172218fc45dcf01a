package script

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"heartbeatd/haresources"
)

// A monitor of an init-style script runs its status; of a built-in agent
// (all have a monitor op), monitor.
func TestMonitorOpChoice(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "ops")
	// A stand-in for heartbeatd: records the agent and op it was run with.
	fake := filepath.Join(dir, "fakehbd")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$2 $4\" >> "+log+"\necho running\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := func(agent string) {
		text := "#!/bin/sh\nexec \"${HEARTBEATD:-/usr/sbin/heartbeatd}\" resource " + agent + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, agent), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	wrapper("IPaddr")
	wrapper("iscsitarget")
	if err := os.WriteFile(filepath.Join(dir, "mysql"), []byte("#!/bin/sh\necho \"mysql $1\" >> "+log+"\necho 'mysql is stopped'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dirs: []string{dir}, Env: []string{"HEARTBEATD=" + fake}, Timeout: 10 * time.Second}
	ctx := context.Background()
	ip := r.RunOp(ctx, haresources.Resource{Script: "IPaddr", Args: []string{"10.0.0.5"}}, OpMonitor, nil)
	tgt := r.RunOp(ctx, haresources.Resource{Script: "iscsitarget", Args: []string{"x"}}, OpMonitor, nil)
	db := r.RunOp(ctx, haresources.Resource{Script: "mysql"}, OpMonitor, nil)
	got, _ := os.ReadFile(log)
	if want := "IPaddr monitor\niscsitarget monitor\nmysql status\n"; string(got) != want {
		t.Errorf("ops run:\n%s\nwant:\n%s", got, want)
	}
	if !ip.Running || !tgt.Running || db.Running {
		t.Errorf("verdicts: IPaddr %v iscsitarget %v mysql %v", ip.Running, tgt.Running, db.Running)
	}
	if FirstLine(db) != "mysql is stopped" {
		t.Errorf("FirstLine = %q", FirstLine(db))
	}
}

// A monitor that overruns monitor_timeout is incomplete (a failure).
func TestMonitorTimeout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow"), []byte("#!/bin/sh\nsleep 5\necho running\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dirs: []string{dir}, Timeout: time.Minute, MonitorTimeout: 200 * time.Millisecond, KillGrace: 100 * time.Millisecond}
	began := time.Now()
	out := r.RunOp(context.Background(), haresources.Resource{Script: "slow"}, OpMonitor, nil)
	if out.Err == nil || out.Running {
		t.Fatalf("slow monitor: err %v running %v", out.Err, out.Running)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("monitor ran %v despite a 200ms timeout", d)
	}
}
