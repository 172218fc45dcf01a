// Package dist holds the service files shipped with heartbeatd; its tests
// check them with the real tools that will read them.
package dist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "heartbeatd")
	if out, err := exec.Command("go", "build", "-o", bin, "heartbeatd/heartbeatd").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	return bin
}

// systemd-analyze verify must be clean. It checks that ExecStart exists, so
// the unit is verified with the path of a freshly built binary.
func TestUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatalf("systemd-analyze not installed: %v", err)
	}
	unit, err := os.ReadFile("heartbeatd.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"Type=notify", "KillMode=process", "WatchdogSec=", "LimitMEMLOCK=infinity", "TimeoutStopSec=15min", "ExecReload="} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "heartbeatd.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/sbin/heartbeatd", bin)), 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The LSB init script parses, and answers status/usage like an LSB script.
func TestInitScript(t *testing.T) {
	if out, err := exec.Command("sh", "-n", "heartbeatd.init").CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v: %s", err, out)
	}
	b, _ := os.ReadFile("heartbeatd.init")
	for _, verb := range []string{"start)", "stop)", "restart)", "reload)", "force-reload)", "status)"} {
		if !strings.Contains(string(b), verb) {
			t.Errorf("init script lacks %s", verb)
		}
	}
	// Run it against a built binary in place of /usr/sbin/heartbeatd with a
	// run dir of our own: status of a daemon that is not running is exit 3.
	bin := buildBinary(t)
	run := t.TempDir()
	script := strings.NewReplacer("DAEMON=/usr/sbin/heartbeatd", "DAEMON="+bin, "RUNDIR=/run/heartbeatd", "RUNDIR="+run).Replace(string(b))
	path := filepath.Join(t.TempDir(), "heartbeatd")
	os.WriteFile(path, []byte(script), 0o755)
	cmd := exec.Command(path, "status")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "not running") {
		t.Fatalf("status of a stopped daemon: %v %s", err, out)
	}
	if out, err := exec.Command(path, "bogus").CombinedOutput(); err == nil || !strings.Contains(string(out), "Usage:") {
		t.Fatalf("bad verb: %v %s", err, out)
	}
}
