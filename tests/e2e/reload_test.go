//go:build netns

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startWith runs heartbeatd -f in the node's namespace like start, with
// extra environment and argv prefix (a wrapper such as unshare, setpriv).
func (n *hbNode) startWith(env []string, wrap ...string) {
	n.c.t.Helper()
	argv := append(append([]string(nil), wrap...), binary(n.c.t), "-f", "--confdir", n.confdir, "--rundir", n.rundir,
		"--statedir", n.statedir, "--node", n.name, "--reboot-command", "/bin/true", "--reboot-force-after", "0")
	cmd := n.ns.Command(argv...)
	cmd.Env = append(os.Environ(), env...)
	w := &prefixLog{t: n.c.t, prefix: n.name + ": "}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		n.c.t.Fatalf("start %s: %v", n.name, err)
	}
	n.cmd = cmd
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { cmd.Wait(); close(ch) }(cmd, n.exited)
}

// prefixLog keeps a daemon's stderr out of the test log unless -v: the
// log file is what the tests read.
type prefixLog struct {
	t      *testing.T
	prefix string
}

func (p *prefixLog) Write(b []byte) (int, error) { return len(b), nil }

// replaceFile writes body to a temporary file and renames it over path, as
// editors and config management do: a watch on the old file would miss it.
func replaceFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (n *hbNode) reloadCmd() (string, int) {
	n.c.t.Helper()
	out, err := exec.Command(binary(n.c.t), "reload", "--rundir", n.rundir).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.c.t.Fatal(err)
	}
	return string(out), code
}

func (n *hbNode) hasLog(sub string) bool { return strings.Contains(n.log(), sub) }

func TestReloadAppliesRejectsAndNames(t *testing.T) {
	c := startPair(t, "reload", bcastMedia)
	n1, n2 := c.nodes["n1"], c.nodes["n2"]
	c.pastStartupDeadtime()
	hacf := filepath.Join(n1.confdir, "ha.cf")
	orig, _ := os.ReadFile(hacf)

	// 1. An editor-style replace of ha.cf with a new warntime is noticed
	// without SIGHUP and applied live.
	replaceFile(t, hacf, strings.Replace(string(orig), "warntime 300ms", "warntime 400ms", 1))
	waitFor(t, 5*time.Second, "reload after the file was replaced", func() bool {
		return n1.hasLog("Reload (configuration files changed): applied: keepalive 100ms, deadtime 600ms, warntime 400ms")
	})
	if out, _ := n1.clStatus("hbparameter", "-p", "warntime"); out != "400ms" {
		t.Errorf("hbparameter warntime = %q after reload, want 400ms", out)
	}

	// 2. An invalid edit is refused with FILE:LINE; the old configuration
	// keeps running and the peer never sees us dead.
	bad := strings.Replace(string(orig), "deadtime 600ms", "deadtime 150ms", 1)
	if err := os.WriteFile(hacf, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := n1.reloadCmd()
	if code == 0 || !strings.Contains(out, hacf+":4") {
		t.Errorf("reload of an invalid ha.cf: code %d, output %q; want non-zero naming %s:4", code, out, hacf)
	}
	waitFor(t, 3*time.Second, "the rejection in the log", func() bool { return n1.hasLog("rejected: the configuration is invalid") })
	time.Sleep(1500 * time.Millisecond) // > 2 deadtimes: a broken keepalive would show
	if s := n2.nodeStatus("n1"); s != "active" {
		t.Fatalf("n1 is %q on n2 after a rejected reload", s)
	}
	if n2.hasLog("is dead") || n2.hasLog("Late heartbeat") {
		t.Fatalf("n2 saw n1 late or dead after a rejected reload")
	}

	// 3. SIGHUP with a restart-only change: named with FILE:LINE, not applied.
	os.WriteFile(hacf, []byte(strings.Replace(string(orig), "auto_failback on", "auto_failback off", 1)), 0o644)
	time.Sleep(700 * time.Millisecond) // let the watcher's own reload pass
	n1.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 3*time.Second, "the SIGHUP reload", func() bool { return n1.hasLog("Reload (SIGHUP)") })
	if !n1.hasLog("needs restart: auto_failback changed (" + hacf + ":") {
		t.Errorf("log lacks the needs-restart line for auto_failback")
	}
	if out, _ := n1.clStatus("hbparameter", "-p", "warntime"); out != "300ms" {
		t.Errorf("warntime %q: the SIGHUP reload must apply the file's live values (300ms)", out)
	}
	if n2.hasLog("is dead") {
		t.Fatalf("n2 declared n1 dead during the reloads")
	}

	// 4. An authkeys that drops the key n2 signs with right now is refused
	// (the rotation procedure is named), and n1 keeps its keys: n2 never
	// sees it dead. Adding a second key, the first step of a rotation, is
	// applied.
	ak := filepath.Join(n1.confdir, "authkeys")
	os.WriteFile(hacf, orig, 0o644)
	time.Sleep(700 * time.Millisecond)
	if err := os.WriteFile(ak, []byte("auth 2\n2 sha1 a-new-key-only-n1-has\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = n1.reloadCmd()
	if code != 1 || !strings.Contains(out, "refused: authkeys:") || !strings.Contains(out, "authkeys(5)") ||
		strings.Contains(out, "a-new-key-only-n1-has") {
		t.Errorf("reload dropping the peer's key: code %d, output %q", code, out)
	}
	time.Sleep(1500 * time.Millisecond) // > 2 deadtimes
	if s := n2.nodeStatus("n1"); s != "active" || n2.hasLog("is dead") {
		t.Fatalf("n1 is %q on n2 after a refused authkeys reload", s)
	}
	if err := os.WriteFile(ak, []byte(testKey+"2 sha1 a-new-key-only-n1-has\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := n1.reloadCmd(); code != 0 || !strings.Contains(out, "authkeys") {
		t.Errorf("reload adding a key: code %d, output %q", code, out)
	}
}

const okScript = "#!/bin/sh\ncase \"$1\" in status) echo stopped;; esac\nexit 0\n"

func TestHaresourcesMismatchReportedOnBoth(t *testing.T) {
	c := newCluster(t, "digest", false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	hr := map[string]string{"n1": "n2 svc::a\n", "n2": "n2 svc::b\n"}
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", "auto_failback on\n"), hr[n.name])
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "svc"), []byte(okScript), 0o755)
		n.start()
	}
	for _, n := range []*hbNode{n1, n2} {
		waitFor(t, 15*time.Second, n.name+" reports the mismatch", func() bool {
			return n.hasLog("CRIT: haresources differs between " + n.name)
		})
	}
	if strings.Count(n1.log(), "haresources differs") != 1 {
		t.Errorf("n1 reported the same mismatch more than once")
	}
	// Heal it on n1. Once the resource negotiation is done one node holds
	// the group's set, so n1 may not swap the group live (needs restart);
	// restart n1 with the fixed file instead.
	waitFor(t, 15*time.Second, "both nodes stable", func() bool {
		a, _ := n1.clStatus("rscstatus")
		b, _ := n2.clStatus("rscstatus")
		return a != "transition" && b != "transition" && a != "" && b != ""
	})
	os.WriteFile(filepath.Join(n1.confdir, "haresources"), []byte(hr["n2"]), 0o644)
	waitFor(t, 5*time.Second, "n1 names the held group as needs restart", func() bool {
		return n1.hasLog("needs restart: haresources group svc::b changed")
	})
	n1.stop(10 * time.Second)
	os.Truncate(n1.logfile, 0)
	n1.start()
	waitFor(t, 15*time.Second, "n2 sees the files identical again", func() bool {
		return n2.hasLog("haresources is now identical on n2 and n1")
	})
	if n1.hasLog("haresources differs") {
		t.Errorf("n1 still reports a mismatch after the fix")
	}
}
