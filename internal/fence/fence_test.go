package fence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/config"
)

// These tests drive the real cluster-glue stonith program and the real
// fence_dummy agent (tests/install-deps.sh installs both); only the power
// switch behind the plugin is ours.

// installPlugin installs testdata/hbdtest as a cluster-glue external
// plugin under a random name and returns its type ("external/hbdtest-...").
func installPlugin(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(DefaultStonith); err != nil {
		t.Skipf("cluster-glue's stonith is not installed (tests/install-deps.sh): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a stonith plugin in /usr/lib/stonith/plugins/external needs root")
	}
	src, err := os.ReadFile("testdata/hbdtest")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "hbdtest-" + hex.EncodeToString(b)
	path := filepath.Join(DefaultPluginDir, "external", name)
	if err := os.WriteFile(path, src, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	// cluster-glue ignores a plugin writable by group or others; the
	// umask decides what WriteFile gives.
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return "external/" + name
}

// switchDevice is a stonith_host device of the test plugin whose switch
// controls node1 and node2 and logs to a fresh file.
func switchDevice(t *testing.T, typ, mode string) (config.FenceDevice, string) {
	log := filepath.Join(t.TempDir(), "switch.log")
	return config.FenceDevice{Host: "*", Kind: config.FenceStonithParams, Type: typ,
		Params: log + " " + mode + " node1 node2", Directive: "stonith_host", Line: 7}, log
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestStonithReset(t *testing.T) {
	typ := installPlugin(t)
	dev, log := switchDevice(t, typ, "ok")
	var r Runner
	res := r.Reset(timeout(t, 20*time.Second), dev, "Node2")
	if !res.OK() || res.RC != 0 || res.Err != nil {
		t.Fatalf("reset: %s\n%s", res, res.Output())
	}
	// stonith lower-cases the node name, as Heartbeat relies on.
	if l := readLog(t, log); len(l) != 1 || !strings.HasPrefix(l[0], "reset node2 pid ") {
		t.Errorf("switch log %q, want one reset of node2", l)
	}
	// The parameters (here a path; on a real device a password) never
	// appear in what is logged.
	want := "stonith -t " + typ + " -p (4 values) -T reset Node2"
	if res.Command != want || strings.Contains(res.String(), log) {
		t.Errorf("Command = %q, want %q; String %q", res.Command, want, res.String())
	}
}

func TestStonithResetRefused(t *testing.T) {
	typ := installPlugin(t)
	var r Runner
	for _, c := range []struct{ mode, node, stderr string }{
		{"fail", "node2", "hbdtest: the switch refuses reset"},
		{"ok", "node3", "hbdtest: node3 is not on this switch"},
	} {
		dev, log := switchDevice(t, typ, c.mode)
		res := r.Reset(timeout(t, 20*time.Second), dev, c.node)
		// external.c turns any non-zero exit of the plugin into S_RESETFAIL.
		if res.Outcome != Failed || res.RC != 5 {
			t.Errorf("%s %s: %s, want failed with exit 5", c.mode, c.node, res)
		}
		if !strings.Contains(res.String(), "S_RESETFAIL") || !strings.Contains(res.Stderr, c.stderr) {
			t.Errorf("%s %s: String %q, stderr %q", c.mode, c.node, res, res.Stderr)
		}
		if l := readLog(t, log); len(l) != 1 || !strings.HasPrefix(l[0], "reset "+c.node) {
			t.Errorf("%s: switch log %q", c.mode, l)
		}
	}
}

// A switch that never answers is killed at the deadline, with everything
// it started: the stonith program, the plugin's shell and its sleep. The
// stubborn plugin ignores SIGTERM; stonith itself dies of it, and then the
// rest of the group gets SIGKILL at once (TestKillGrace covers a leader
// that ignores SIGTERM).
func TestStonithResetHangs(t *testing.T) {
	typ := installPlugin(t)
	for _, mode := range []string{"hang", "stubborn"} {
		t.Run(mode, func(t *testing.T) {
			dev, log := switchDevice(t, typ, mode)
			r := Runner{KillGrace: 5 * time.Second}
			start := time.Now()
			res := r.Reset(timeout(t, 1500*time.Millisecond), dev, "node1")
			took := time.Since(start)
			if res.Outcome != TimedOut || res.RC != -1 || res.Err == nil {
				t.Fatalf("%s, want timed out", res)
			}
			// The upper bound leaves room for a loaded machine; what matters
			// is that the KillGrace of 5s was not waited for.
			if took < 1500*time.Millisecond || took > 4*time.Second {
				t.Errorf("took %v, want 1.5s..4s", took)
			}
			var pids []int
			for _, line := range readLog(t, log) {
				f := strings.Fields(line)
				if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
					pids = append(pids, n)
				}
			}
			if len(pids) != 2 {
				t.Fatalf("switch log %q: want the plugin's and its sleep's pids", readLog(t, log))
			}
			for _, pid := range pids {
				waitGone(t, pid)
			}
		})
	}
}

// A program that ignores SIGTERM gets SIGKILL KillGrace later. This is the
// one test with a fake agent: no real one ignores SIGTERM on purpose.
func TestKillGrace(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pids")
	script := `#!/bin/sh
if [ "$1" = "-o" ]; then
	echo '<resource-agent name="fence_stubborn"><parameters/><actions><action name="reboot"/></actions></resource-agent>'
	exit 0
fi
trap '' TERM
sleep 1000 &
echo "$$ $!" >` + pidfile + `
wait
`
	if err := os.WriteFile(filepath.Join(dir, "fence_stubborn"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := Runner{AgentDir: dir, KillGrace: 700 * time.Millisecond}
	dev := config.FenceDevice{Kind: config.FenceAgent, Type: "fence_stubborn", Directive: "fence_agent"}
	r.Metadata(timeout(t, 10*time.Second), dev.Type)
	start := time.Now()
	res := r.Reset(timeout(t, time.Second), dev, "node2")
	took := time.Since(start)
	if res.Outcome != TimedOut || took < 1700*time.Millisecond || took > 5*time.Second {
		t.Errorf("%s after %v, want timed out after 1s + 0.7s", res, took)
	}
	b, _ := os.ReadFile(pidfile)
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("pid file %q", b)
	}
	for _, s := range f {
		pid, _ := strconv.Atoi(s)
		waitGone(t, pid)
	}
}

// waitGone fails unless pid is gone (or a zombie nobody reaps: some
// containers have no init that does) within 3 seconds.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); ; {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		// "pid (comm) S ...": the state follows the last ')'.
		if s := string(b); strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
			return
		}
		if time.Now().After(end) {
			t.Errorf("process %d still runs: %s", pid, b)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStonithStatus(t *testing.T) {
	typ := installPlugin(t)
	var r Runner
	dev, log := switchDevice(t, typ, "ok")
	if res := r.Status(timeout(t, 20*time.Second), dev); !res.OK() {
		t.Errorf("status ok: %s\n%s", res, res.Output())
	} else if want := "stonith -t " + typ + " -p (4 values) -S"; res.Command != want {
		t.Errorf("Command %q, want %q", res.Command, want)
	}
	if l := readLog(t, log); len(l) != 1 || !strings.HasPrefix(l[0], "status") {
		t.Errorf("switch log %q", l)
	}
	dev, _ = switchDevice(t, typ, "fail")
	res := r.Status(timeout(t, 20*time.Second), dev)
	if res.Outcome != Failed || res.RC <= 0 || !strings.Contains(res.Stderr, "the switch refuses status") {
		t.Errorf("status fail: %s, stderr %q", res, res.Stderr)
	}
	// Too few parameters: stonith cannot configure the device.
	dev.Params = "/tmp/x ok"
	if res := r.Status(timeout(t, 20*time.Second), dev); res.Outcome != Failed || res.RC != 1 {
		t.Errorf("status with 2 of 3 parameters: %s", res)
	}
}

// A stonith line configured from a file (-F): the first line that is not
// a comment holds the parameters.
func TestStonithConfigFile(t *testing.T) {
	typ := installPlugin(t)
	_, log := switchDevice(t, typ, "ok")
	file := filepath.Join(t.TempDir(), "stonith.cfg")
	os.WriteFile(file, []byte("# the test switch\n"+log+" ok node1 node2\n"), 0o600)
	dev := config.FenceDevice{Host: "*", Kind: config.FenceStonithFile, Type: typ, File: file, Directive: "stonith", Line: 3}
	var r Runner
	res := r.Reset(timeout(t, 20*time.Second), dev, "node1")
	if !res.OK() || res.Command != "stonith -t "+typ+" -F "+file+" -T reset node1" {
		t.Fatalf("%s\n%s", res, res.Output())
	}
	if l := readLog(t, log); len(l) != 1 || !strings.HasPrefix(l[0], "reset node1") {
		t.Errorf("switch log %q", l)
	}
}

func TestStonithParams(t *testing.T) {
	typ := installPlugin(t)
	var r Runner
	ctx := timeout(t, 30*time.Second)
	names := func(ps []Param) []string {
		var out []string
		for _, p := range ps {
			if !p.Required {
				t.Errorf("%s not required", p.Name)
			}
			out = append(out, p.Name)
		}
		return out
	}
	ps, res := r.Params(ctx, config.FenceStonithParams, typ)
	if diff := cmp.Diff([]string{"logfile", "mode", "hostlist"}, names(ps)); diff != "" || !res.OK() {
		t.Errorf("%s: %s (-want +got):\n%s", typ, res, diff)
	}
	ps, res = r.Params(ctx, config.FenceStonithFile, "apcmaster")
	if diff := cmp.Diff([]string{"ipaddr", "login", "password"}, names(ps)); diff != "" || !res.OK() {
		t.Errorf("apcmaster: %s (-want +got):\n%s", res, diff)
	}
	for _, missing := range []string{"external/hbdtest-nosuch", "nosuchplugin"} {
		if ps, res := r.Params(ctx, config.FenceStonithParams, missing); res.Outcome != NotInstalled || ps != nil {
			t.Errorf("%s: %s, %v", missing, res, ps)
		}
	}
	nostonith := Runner{Stonith: "/nonexistent/stonith"}
	if _, res := nostonith.Params(ctx, config.FenceStonithParams, "apcmaster"); res.Outcome != NotInstalled ||
		!strings.Contains(res.Err.Error(), "stonith program is missing") {
		t.Errorf("without stonith: %s", res)
	}
	dev, _ := switchDevice(t, "external/hbdtest-nosuch", "ok")
	if res := r.Reset(ctx, dev, "node1"); res.Outcome != NotInstalled {
		t.Errorf("reset with a missing plugin: %s", res)
	}
	// A name stonith would read as an option or a parameter, or that would
	// add a line to an agent's stdin, never reaches a program.
	dev, log := switchDevice(t, typ, "ok")
	for _, bad := range []string{"", "-S", "hostlist=x", "node1\naction=off"} {
		if res := r.Reset(ctx, dev, bad); res.Outcome != Failed || res.Err == nil {
			t.Errorf("reset %q: %s", bad, res)
		}
	}
	if l := readLog(t, log); l[0] != "" {
		t.Errorf("the switch was called: %q", l)
	}
}

// Output beyond MaxOutput is counted, not kept.
func TestOutputBounded(t *testing.T) {
	typ := installPlugin(t)
	dev, _ := switchDevice(t, typ, "chatty")
	r := Runner{MaxOutput: 1000}
	res := r.Reset(timeout(t, 20*time.Second), dev, "node1")
	if !res.OK() || !res.Truncated || len(res.Stderr) != 1000 || strings.Trim(res.Stderr, "x") != "" {
		t.Errorf("%s: truncated %v, %d bytes of stderr", res, res.Truncated, len(res.Stderr))
	}
	if !strings.HasSuffix(res.Output(), "[output truncated]") {
		t.Errorf("Output() does not say it was cut")
	}
	var d Runner
	res = d.Reset(timeout(t, 20*time.Second), dev, "node1")
	if !res.Truncated || len(res.Stderr) != DefaultMaxOutput {
		t.Errorf("default bound: truncated %v, %d bytes", res.Truncated, len(res.Stderr))
	}
}

// fenceDummy is fence-agents' fence_dummy with its status in a fresh file.
func fenceDummy(t *testing.T, args ...config.FenceArg) (config.FenceDevice, string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(DefaultAgentDir, "fence_dummy")); err != nil {
		t.Skipf("fence-agents is not installed (tests/install-deps.sh): %v", err)
	}
	status := filepath.Join(t.TempDir(), "status")
	args = append([]config.FenceArg{{Key: "status_file", Value: status}}, args...)
	return config.FenceDevice{Host: "*", Kind: config.FenceAgent, Type: "fence_dummy", Args: args,
		Directive: "fence_agent", Line: 9}, status
}

// fence_dummy reads its parameters on stdin, as every fence agent: a
// reboot powers its "machine" (the status file) off and on again.
func TestAgentReset(t *testing.T) {
	dev, status := fenceDummy(t)
	var r Runner
	res := r.Reset(timeout(t, 30*time.Second), dev, "node2")
	if !res.OK() {
		t.Fatalf("%s\n%s", res, res.Output())
	}
	// fence_dummy has no plug: the device is one machine.
	if res.Command != "fence_dummy action=reboot (+1 values on stdin)" {
		t.Errorf("Command %q", res.Command)
	}
	if b, _ := os.ReadFile(status); string(b) != "on" {
		t.Errorf("status file %q after reboot, want on", b)
	}
	// A switch that cannot power off: fail type, short power timeout.
	dev, _ = fenceDummy(t, config.FenceArg{Key: "type", Value: "fail"}, config.FenceArg{Key: "power_timeout", Value: "1"})
	res = r.Reset(timeout(t, 30*time.Second), dev, "node2")
	if res.Outcome != Failed || res.RC != 1 || !strings.Contains(res.Stderr, "Failed") {
		t.Errorf("type=fail: %s\n%s", res, res.Output())
	}
}

func TestAgentStatus(t *testing.T) {
	dev, status := fenceDummy(t)
	var r Runner
	os.WriteFile(status, []byte("off"), 0o600)
	// monitor checks the device: a machine that is off is no failure.
	if res := r.Status(timeout(t, 30*time.Second), dev); !res.OK() || !strings.Contains(res.Command, "action=monitor") {
		t.Errorf("status off: %s\n%s", res, res.Output())
	}
	os.WriteFile(status, []byte("garbage"), 0o600)
	if res := r.Status(timeout(t, 30*time.Second), dev); res.Outcome != Failed || res.RC != 1 {
		t.Errorf("status unreadable: %s\n%s", res, res.Output())
	}
}

func TestAgentTimesOut(t *testing.T) {
	dev, _ := fenceDummy(t, config.FenceArg{Key: "delay", Value: "60"})
	r := Runner{KillGrace: 300 * time.Millisecond}
	r.Metadata(timeout(t, 30*time.Second), "fence_dummy") // python starts slowly; time the reset alone
	start := time.Now()
	res := r.Reset(timeout(t, 2*time.Second), dev, "node2")
	if res.Outcome != TimedOut || time.Since(start) > 6*time.Second {
		t.Errorf("%s after %v, want timed out after 2s", res, time.Since(start))
	}
	// A context without deadline gets Runner.Timeout.
	r.Timeout = time.Second
	if res := r.Reset(context.Background(), dev, "node2"); res.Outcome != TimedOut {
		t.Errorf("Runner.Timeout: %s", res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	if res := r.Reset(ctx, dev, "node2"); res.Outcome != Canceled {
		t.Errorf("canceled: %s", res)
	}
}

func TestAgentMetadata(t *testing.T) {
	dev, _ := fenceDummy(t)
	var r Runner
	ctx := timeout(t, 30*time.Second)
	m, res := r.Metadata(ctx, "dummy")
	if m == nil {
		t.Fatalf("%s\n%s", res, res.Output())
	}
	_, hasStatusFile := m.Param("status-file") // the agents accept - for _
	if !hasStatusFile || m.ResetAction() != "reboot" || m.StatusAction() != "monitor" || m.HostParam(dev) != "" {
		t.Errorf("fence_dummy: status_file %v, reset %q, status %q, host %q", hasStatusFile, m.ResetAction(), m.StatusAction(), m.HostParam(dev))
	}
	ps, res := r.Params(ctx, config.FenceAgent, "fence_dummy")
	if len(ps) < 5 || !res.OK() {
		t.Errorf("Params: %d, %s", len(ps), res)
	}
	if _, res := r.Metadata(ctx, "fence_hbd_nosuch"); res.Outcome != NotInstalled || !strings.Contains(res.Err.Error(), "install fence-agents") {
		t.Errorf("missing agent: %s", res)
	}
	if _, res := r.Metadata(ctx, "fence_../../bin/sh"); res.Outcome != Failed {
		t.Errorf("agent name with a slash: %s", res)
	}
}

// Which parameter carries the node name, from the metadata alone.
func TestHostParam(t *testing.T) {
	meta := func(params ...string) *Metadata {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" ?><resource-agent name="fence_x"><parameters>`)
		for _, p := range params {
			b.WriteString(`<parameter name="` + p + `" required="0"><content type="string"/></parameter>`)
		}
		b.WriteString(`</parameters><actions><action name="off"/><action name="status"/></actions></resource-agent>`)
		m, err := ParseMetadata("fence_x", []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	dev := func(keys ...string) config.FenceDevice {
		d := config.FenceDevice{Kind: config.FenceAgent, Type: "fence_x"}
		for _, k := range keys {
			d.Args = append(d.Args, config.FenceArg{Key: k, Value: "v"})
		}
		return d
	}
	cases := []struct {
		name string
		m    *Metadata
		dev  config.FenceDevice
		want string
	}{
		{"plug first", meta("ip", "port", "plug"), dev("ip"), "plug"},
		{"port only", meta("port"), dev(), "port"},
		{"nodename only (fence_kdump)", meta("nodename"), dev(), "nodename"},
		{"plug before nodename (fence_pve: nodename is the hypervisor)", meta("nodename", "plug"), dev("nodename"), "plug"},
		{"port_as_ip (fence_ipmilan)", meta("ip", "plug", "port", "port_as_ip"), dev("ip"), ""},
		{"line sets the plug", meta("plug", "port"), dev("port"), ""},
		{"none (fence_dummy)", meta("status_file"), dev(), ""},
	}
	for _, c := range cases {
		if got := c.m.HostParam(c.dev); got != c.want {
			t.Errorf("%s: HostParam = %q, want %q", c.name, got, c.want)
		}
	}
	m := meta("plug")
	if m.ResetAction() != "off" || m.StatusAction() != "status" {
		t.Errorf("off-only agent: reset %q, status %q", m.ResetAction(), m.StatusAction())
	}
	if _, err := ParseMetadata("fence_x", []byte("Traceback (most recent call last):")); err == nil {
		t.Errorf("garbage parsed as metadata")
	}
}
