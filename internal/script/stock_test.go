//go:build netns

package script

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
)

// netnsEnv marks the copy of the test binary that runs inside a private
// network namespace.
const netnsEnv = "HEARTBEATD_SCRIPT_TEST_NETNS"

// TestStockIPaddrInNetns runs Debian's own /etc/ha.d/resource.d/IPaddr
// (status, start, status, stop) through Runner, proving the environment we
// give scripts is enough for the stock wrapper, its shellfuncs and the OCF
// agent behind it. It re-executes the test binary under `unshare --net`, so
// the host's network is never touched.
func TestStockIPaddrInNetns(t *testing.T) {
	const stock = "/etc/ha.d/resource.d/IPaddr"
	if _, err := os.Stat(stock); err != nil {
		t.Fatal("Debian's heartbeat package is not installed (tests/install-deps.sh installs it)")
	}
	if os.Getenv(netnsEnv) != "1" {
		if os.Geteuid() != 0 {
			t.Fatal("needs root for a private network namespace")
		}
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Fatal("unshare not installed")
		}
		cmd := exec.Command(unshare, "--net", os.Args[0], "-test.run=^TestStockIPaddrInNetns$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), netnsEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("inside the namespace:\n%s", out)
		if err != nil {
			t.Fatalf("test in namespace: %v", err)
		}
		if !strings.Contains(string(out), "--- PASS: TestStockIPaddrInNetns") {
			t.Fatal("test in namespace did not pass")
		}
		return
	}

	// Inside the private namespace: refuse to go on anywhere else.
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("not a fresh network namespace (interfaces %v); refusing to touch it", ifs)
	}
	for _, args := range [][]string{
		{"link", "add", "hbtest0", "type", "veth", "peer", "name", "hbtest1"},
		{"link", "set", "hbtest0", "up"},
		{"addr", "add", "10.11.0.1/8", "dev", "hbtest0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("cannot set up a test interface: ip %v: %v: %s", args, err, out)
		}
	}
	addrs := func() string {
		out, err := exec.Command("ip", "-4", "-o", "addr", "show", "dev", "hbtest0").CombinedOutput()
		if err != nil {
			t.Fatalf("ip addr: %v: %s", err, out)
		}
		return string(out)
	}

	logDir := t.TempDir()
	env := Environment{CurHost: "pa1", LogFile: filepath.Join(logDir, "ha-log"), DebugLog: filepath.Join(logDir, "ha-debug")}
	log := &recLogger{}
	r := &Runner{Env: env.List(), Timeout: time.Minute, Log: log}
	ip := haresources.Resource{Script: "IPaddr", Args: []string{"10.11.55.50/8/hbtest0"}, Raw: "10.11.55.50/8/hbtest0"}
	ctx := context.Background()

	if out := r.RunOp(ctx, ip, "status", nil); out.Err != nil || out.Running {
		t.Fatalf("status before start: %+v", out)
	}
	if out := r.RunOp(ctx, ip, "start", nil); out.Failed() {
		t.Fatalf("start: %+v\nlog:\n%s", out, fmtLines(recStrings(log)))
	}
	if a := addrs(); !strings.Contains(a, "10.11.55.50/8") {
		t.Errorf("address not added: %s", a)
	}
	if out := r.RunOp(ctx, ip, "status", nil); out.Err != nil || !out.Running {
		t.Errorf("status after start: %+v", out)
	}
	if out := r.RunOp(ctx, ip, "stop", nil); out.Failed() {
		t.Fatalf("stop: %+v\nlog:\n%s", out, fmtLines(recStrings(log)))
	}
	if a := addrs(); strings.Contains(a, "10.11.55.50") {
		t.Errorf("address not removed: %s", a)
	}
	if !log.contains(LevelInfo, "Running /etc/ha.d/resource.d/IPaddr 10.11.55.50/8/hbtest0 start") {
		t.Errorf("no Running line; log:\n%s", fmtLines(recStrings(log)))
	}
	// The agent's own ha_log found HA_LOGFILE and HA_DATEFMT.
	b, err := os.ReadFile(env.LogFile)
	if err != nil {
		t.Fatalf("the script logged nothing to HA_LOGFILE: %v", err)
	}
	if !strings.Contains(string(b), "IPaddr(IPaddr_10.11.55.50)[") || !strings.Contains(string(b), "INFO:  Success") {
		t.Errorf("HA_LOGFILE:\n%s", b)
	}
	t.Logf("HA_LOGFILE:\n%s", b)
}

func recStrings(l *recLogger) []string {
	var out []string
	for _, r := range l.records() {
		out = append(out, r.String())
	}
	return out
}
