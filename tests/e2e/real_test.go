//go:build netns

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// addRealNode creates a node that runs Debian's Heartbeat 3.0.6, the way the
// lab of the wire captures ran it: in the node's network namespace plus
// a private mount and UTS namespace, with per-node copies of /etc/ha.d and
// /var/lib/heartbeat bind-mounted over the real ones and a tmpfs on /run.
func (c *cluster) addRealNode(name string, host int) *hbNode {
	c.t.Helper()
	n := c.addNode(name, host)
	n.real = true
	n.confdir = filepath.Join(n.dir, "etc-ha.d")
	os.RemoveAll(n.confdir)
	run(c.t, "cp", "-a", "/etc/ha.d", n.confdir)
	varlib := filepath.Join(n.dir, "varlib")
	run(c.t, "cp", "-a", "/var/lib/heartbeat", varlib)
	// Scripts log as hacluster through ha_log; the log must be writable.
	os.Chmod(n.dir, 0o777)
	// Heartbeat's ResourceManager reboots the machine after a failed stop;
	// the lab neutralised that path and so do we.
	rm, err := os.ReadFile("/usr/share/heartbeat/ResourceManager")
	if err != nil {
		c.t.Fatalf("real Heartbeat not installed (tests/install-deps.sh installs it): %v", err)
	}
	safe := strings.NewReplacer("pkill -9 $name", `ha_log "TEST: would pkill -9 $name"`,
		"[ -x /sbin/reboot ] && /sbin/reboot -nf", "false",
		"[ -x /sbin/init ] && /sbin/init 6", "false").Replace(string(rm))
	if err := os.WriteFile(filepath.Join(n.dir, "ResourceManager"), []byte(safe), 0o755); err != nil {
		c.t.Fatal(err)
	}
	return n
}

func run(t interface {
	Helper()
	Fatalf(string, ...any)
}, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// startReal starts real Heartbeat; it daemonises, so this returns once the
// master control process is up.
func (n *hbNode) startReal() {
	n.c.t.Helper()
	script := fmt.Sprintf(`set -e
mount --bind %[1]s /etc/ha.d
mount --bind %[2]s /var/lib/heartbeat
mount -t tmpfs -o mode=755 hbt-run /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/lock /run/resource-agents /run/crm
chown -R hacluster:haclient /run/heartbeat /run/crm
chmod 750 /run/heartbeat /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd
mount --bind %[3]s /usr/share/heartbeat/ResourceManager
%[5]s
hostname %[4]s
exec /usr/libexec/heartbeat/heartbeat`, n.confdir, filepath.Join(n.dir, "varlib"), filepath.Join(n.dir, "ResourceManager"), n.name, n.realSetup)
	cmd := n.ns.Command("unshare", "-m", "-u", "--propagation", "private", "/bin/sh", "-c", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.c.t.Fatalf("start real heartbeat on %s: %v: %s", n.name, err, out)
	}
	waitFor(n.c.t, 10*time.Second, "real heartbeat master process on "+n.name, func() bool { return n.mcpPID() > 0 })
}

// mcpPID finds real Heartbeat's master control process in the namespace.
func (n *hbNode) mcpPID() int {
	out, _ := exec.Command("ip", "netns", "pids", n.ns.NS).Output()
	for _, f := range strings.Fields(string(out)) {
		cl, err := os.ReadFile("/proc/" + f + "/cmdline")
		if err == nil && strings.Contains(string(cl), "master control process") {
			pid, _ := strconv.Atoi(f)
			return pid
		}
	}
	return 0
}

// realExec runs argv inside the real node's mount, UTS and network
// namespaces (cl_status, hb_standby need its /run and /etc/ha.d).
func (n *hbNode) realExec(argv ...string) *exec.Cmd {
	n.c.t.Helper()
	pid := n.mcpPID()
	if pid == 0 {
		n.c.t.Fatalf("real heartbeat on %s is not running", n.name)
	}
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-m", "-u", "-n", "--"}, argv...)...)
}

// killReal kills every process of the real node (kill -9, as lab.sh kill9).
func (n *hbNode) killReal() {
	out, _ := exec.Command("ip", "netns", "pids", n.ns.NS).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	waitFor(n.c.t, 5*time.Second, "real heartbeat gone on "+n.name, func() bool { return n.mcpPID() == 0 })
}

// stopReal is `heartbeat -k` (graceful).
func (n *hbNode) stopReal(timeout time.Duration) {
	n.c.t.Helper()
	if out, err := n.realExec("/usr/libexec/heartbeat/heartbeat", "-k").CombinedOutput(); err != nil {
		n.c.t.Fatalf("heartbeat -k on %s: %v: %s", n.name, err, out)
	}
	waitFor(n.c.t, timeout, "real heartbeat stopped on "+n.name, func() bool { return n.mcpPID() == 0 })
}
