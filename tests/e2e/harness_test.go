//go:build netns

// Package e2e runs whole heartbeatd daemons (and real Heartbeat 3.0.6) in
// network namespaces built by tests/netlab, and checks what an admin would:
// cl_status, the logs, where the floating IP lives.
package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"heartbeatd/tests/netlab"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds heartbeatd once per test process. HBD_E2E_BINARY names a
// binary built elsewhere instead, to bench an older build beside this one
// (make bench-cluster HBD_BENCH_ONLY=idle, once per build).
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HBD_E2E_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "heartbeatd-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "heartbeatd")
		out, err := exec.Command("go", "build", "-o", binPath, "heartbeatd/heartbeatd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// timing is the ha.cf timing block of a test cluster. Tests use short times
// so a failover takes a second, not thirty.
type timing struct {
	keepalive, deadtime, warntime, initdead string
}

var fast = timing{"100ms", "600ms", "300ms", "3"}

// cluster is a two-node lab: nodes n1/n2 joined by two bridges (eth1, eth2),
// plus a client namespace on the first bridge.
type cluster struct {
	t      *testing.T
	lab    *netlab.Lab
	br     [2]*netlab.Bridge
	client *netlab.Node
	nodes  map[string]*hbNode
	// shared is a directory all nodes see (marker files).
	shared string
	// started is when the nodes were seen active.
	started time.Time
}

// pastStartupDeadtime waits until the nodes advertise their configured
// deadtime: for the first 5 s after a start Heartbeat (and heartbeatd, on the
// wire) advertise deadtime + 2 s, and peers honour the advertised value.
func (c *cluster) pastStartupDeadtime() {
	if d := 5500*time.Millisecond - time.Since(c.started); d > 0 {
		time.Sleep(d)
	}
}

func newCluster(t *testing.T, name string, withClient bool) *cluster {
	t.Helper()
	lab := netlab.New(t, name)
	c := &cluster{t: t, lab: lab, nodes: map[string]*hbNode{}}
	c.br[0] = lab.AddBridge("link1")
	c.br[1] = lab.AddBridge("link2")
	if withClient {
		c.client = lab.AddNode("client")
		c.client.Connect(c.br[0], "eth1", c.br[0].Addr(200).String())
	}
	return c
}

// hbNode is one cluster node with its own config, run and state dirs.
type hbNode struct {
	c        *cluster
	name     string
	ns       *netlab.Node
	dir      string
	confdir  string
	rundir   string
	statedir string
	logfile  string
	cmd      *exec.Cmd
	exited   chan struct{}
	real     bool     // real Heartbeat 3.0.6 instead of heartbeatd
	env      []string // extra environment for the daemon
	// realSetup is shell run in the node's private mount namespace before
	// the daemon (real Heartbeat or heartbeatd) starts: extra mounts,
	// environment. Empty: heartbeatd runs in the host's mount namespace.
	realSetup string
}

// addNode creates node name (host number host on both bridges).
func (c *cluster) addNode(name string, host int) *hbNode {
	c.t.Helper()
	return c.addNodeWith(name, link{"eth1", c.br[0].Addr(host).String()}, link{"eth2", c.br[1].Addr(host).String()})
}

// link is one interface of a node: on bridge br[i] for the i-th link given.
type link struct{ ifname, cidr string }

// addNodeWith creates node name with its i-th interface on bridge br[i].
func (c *cluster) addNodeWith(name string, links ...link) *hbNode {
	c.t.Helper()
	n := &hbNode{c: c, name: name, ns: c.lab.AddNode(name), dir: c.t.TempDir()}
	for i, l := range links {
		n.ns.Connect(c.br[i], l.ifname, l.cidr)
	}
	n.confdir = filepath.Join(n.dir, "ha.d")
	n.rundir = filepath.Join(n.dir, "run")
	n.statedir = filepath.Join(n.dir, "state")
	n.logfile = filepath.Join(n.dir, "ha-log")
	// Cleanups run last-in first-out: this one runs before the removal of
	// n.dir, so no daemon is still writing its log there.
	c.t.Cleanup(n.killProcesses)
	for _, d := range []string{n.confdir, filepath.Join(n.confdir, "resource.d"), n.rundir, n.statedir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	c.nodes[name] = n
	return n
}

const testKey = "auth 1\n1 sha1 PaLabKey-hb306-sha1\n"

// haCF renders an ha.cf for the cluster; media lines are given by the test.
func (c *cluster) haCF(n *hbNode, tm timing, media, extra string) string {
	var names []string
	for _, nm := range []string{"n1", "n2"} {
		if _, ok := c.nodes[nm]; ok {
			names = append(names, nm)
		}
	}
	return fmt.Sprintf("logfile %s\ndebugfile %s.debug\nkeepalive %s\ndeadtime %s\nwarntime %s\ninitdead %s\nudpport 694\n%s\n%snode %s\n",
		n.logfile, n.logfile, tm.keepalive, tm.deadtime, tm.warntime, tm.initdead, media, extra, strings.Join(names, "\nnode "))
}

func (n *hbNode) writeConf(hacf, haresources string) {
	n.c.t.Helper()
	files := map[string]string{"ha.cf": hacf, "authkeys": testKey, "haresources": haresources}
	for name, body := range files {
		mode := os.FileMode(0o644)
		if name == "authkeys" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(n.confdir, name), []byte(body), mode); err != nil {
			n.c.t.Fatal(err)
		}
	}
}

// start runs heartbeatd -f in the node's namespace.
func (n *hbNode) start() {
	n.c.t.Helper()
	argv := []string{binary(n.c.t), "-f", "--confdir", n.confdir, "--rundir", n.rundir,
		"--statedir", n.statedir, "--node", n.name, "--reboot-command", "/bin/true", "--reboot-force-after", "0"}
	if n.realSetup != "" {
		// A private mount namespace prepared by the test's shell (devices,
		// mount points, tools), with the daemon exec'ed at its end so the
		// namespace lives exactly as long as the node's processes.
		argv = append([]string{"unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
			"set -e\n" + n.realSetup + "\nexec \"$@\"", "sh"}, argv...)
	}
	n.cmd = n.ns.Command(argv...)
	n.cmd.Env = append(os.Environ(), n.env...)
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, io.Discard
	if err := n.cmd.Start(); err != nil {
		n.c.t.Fatalf("start heartbeatd on %s: %v", n.name, err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { cmd.Wait(); close(ch) }(n.cmd, n.exited)
}

// kill9 kills the daemon (and, like a crashed machine, leaves its resources
// as they were).
func (n *hbNode) kill9() {
	n.c.t.Helper()
	if n.real {
		n.killReal()
		return
	}
	n.cmd.Process.Kill()
	<-n.exited
}

// stop sends SIGTERM and waits for the graceful shutdown.
func (n *hbNode) stop(timeout time.Duration) {
	n.c.t.Helper()
	n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
	case <-time.After(timeout):
		n.c.t.Fatalf("%s: did not stop within %v", n.name, timeout)
	}
}

// clStatus runs cl_status against the node's daemon.
func (n *hbNode) clStatus(args ...string) (string, int) {
	n.c.t.Helper()
	var cmd *exec.Cmd
	if n.real {
		cmd = n.realExec(append([]string{"cl_status"}, args...)...)
	} else {
		cmd = exec.Command(binary(n.c.t), append([]string{"cl_status", "--rundir", n.rundir}, args...)...)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.c.t.Fatalf("cl_status: %v", err)
	}
	return strings.TrimSpace(out.String()), code
}

// admin runs hb_standby / hb_takeover on the node.
func (n *hbNode) admin(cmd string, args ...string) string {
	n.c.t.Helper()
	var c *exec.Cmd
	if n.real {
		c = n.realExec(append([]string{"/usr/share/heartbeat/" + cmd}, args...)...)
	} else {
		sub := strings.TrimPrefix(cmd, "hb_")
		c = exec.Command(binary(n.c.t), append([]string{sub, "--rundir", n.rundir}, args...)...)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		n.c.t.Fatalf("%s %s on %s: %v: %s", cmd, strings.Join(args, " "), n.name, err, out)
	}
	return string(out)
}

// log returns the node's log file.
func (n *hbNode) log() string {
	b, _ := os.ReadFile(n.logfile)
	return string(b)
}

// waitFor polls cond every 20 ms until it holds or timeout passes; it
// returns how long it took. Multi-node tests observe real daemons, so they
// poll; the cores' timing is tested with a fake clock elsewhere.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nodeStatus is `cl_status nodestatus other` on n.
func (n *hbNode) nodeStatus(other string) string {
	out, _ := n.clStatus("nodestatus", other)
	return out
}

func (n *hbNode) linkStatus(other, link string) string {
	out, _ := n.clStatus("hblinkstatus", other, link)
	return out
}

func dumpLogs(t *testing.T, c *cluster) {
	if !t.Failed() {
		return
	}
	for _, n := range c.nodes {
		t.Logf("==== log of %s ====\n%s", n.name, n.log())
	}
}

// killProcesses kills every process in the node's namespace (the daemon,
// real Heartbeat and its children, resource-script leftovers).
func (n *hbNode) killProcesses() {
	out, _ := exec.Command("ip", "netns", "pids", n.ns.NS).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if n.exited != nil {
		select {
		case <-n.exited:
		case <-time.After(5 * time.Second):
		}
	}
	// Give the kernel a moment to reap children that held files open.
	for i := 0; i < 50; i++ {
		if out, _ := exec.Command("ip", "netns", "pids", n.ns.NS).Output(); len(strings.TrimSpace(string(out))) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
