//go:build netns

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	fakeOnce sync.Once
	fakePath string
	fakeErr  error
)

// fakeDrbdadm builds tests/fakes/drbdadm (this kernel has no DRBD).
func fakeDrbdadm(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fake-drbdadm-")
		if err != nil {
			fakeErr = err
			return
		}
		os.Chmod(dir, 0o755)
		fakePath = filepath.Join(dir, "drbdadm")
		if out, err := exec.Command("go", "build", "-o", fakePath, "heartbeatd/tests/fakes/drbdadm").CombinedOutput(); err != nil {
			fakeErr = fmt.Errorf("build fake drbdadm: %v: %s", err, out)
		}
	})
	if fakeErr != nil {
		t.Fatal(fakeErr)
	}
	return fakePath
}

// drbdState is the peer's DRBD as the fake drbdadm keeps it: r0 a
// disconnected UpToDate secondary (outdate works: 4), r5 Inconsistent (3),
// r17 Primary (6); r99 is not configured (drbdadm fails: 20).
func drbdState(path string) {
	res := func(role, disk string) map[string]any {
		return map[string]any{"minor": 0, "up": true, "role": role, "peer_role": "Unknown", "disk": disk, "peer_disk": "DUnknown", "cstate": "WFConnection"}
	}
	st := map[string]any{"resources": map[string]any{
		"r0": res("Secondary", "UpToDate"), "r5": res("Secondary", "Inconsistent"), "r17": res("Primary", "UpToDate"),
		"rslow": res("Secondary", "UpToDate"),
	}}
	b, _ := json.Marshal(st)
	os.WriteFile(path, b, 0o666)
}

func diskOf(t *testing.T, path, res string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources map[string]struct{ Disk string } `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("fake state: %v", err)
	}
	return st.Resources[res].Disk
}

// outdater runs drbd-peer-outdater on n (heartbeatd's, through the
// multi-call binary) and returns its exit code.
func (n *hbNode) outdater(env []string, args ...string) int {
	n.c.t.Helper()
	cmd := exec.Command(binary(n.c.t), append([]string{"drbd-peer-outdater", "--rundir", n.rundir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		n.c.t.Logf("drbd-peer-outdater %v on %s: exit %d: %s", args, n.name, ee.ExitCode(), strings.TrimSpace(string(out)))
		return ee.ExitCode()
	}
	if err != nil {
		n.c.t.Fatalf("drbd-peer-outdater: %v", err)
	}
	return 0
}

func TestPeerOutdaterExitCodes(t *testing.T) {
	c := newCluster(t, "outdate", false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	state := filepath.Join(t.TempDir(), "drbd.json")
	drbdState(state)
	// The peer's drbdadm takes 2 s for resource rslow, so that a second
	// request for it arrives while the first one runs.
	slow := filepath.Join(t.TempDir(), "drbdadm")
	os.WriteFile(slow, []byte(fmt.Sprintf("#!/bin/sh\n[ \"$2\" = rslow ] && sleep 2\nexec %s \"$@\"\n", fakeDrbdadm(t))), 0o755)
	n2.env = []string{"DRBDADM=" + slow, "FAKE_DRBD_STATE=" + state, "FAKE_DRBD_VERSION=8.4"}
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", "auto_failback on\n"), "")
		n.start()
	}
	waitFor(t, 10*time.Second, "both active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})

	for _, tc := range []struct {
		res  string
		want int
		why  string
	}{
		{"r0", 4, "peer's disk outdated"},
		{"r5", 3, "peer's disk was inconsistent"},
		{"r17", 6, "peer is primary"},
		{"r99", 20, "drbdadm failed on the peer"},
	} {
		if got := n1.outdater(nil, "-p", "n2", "-r", tc.res, "-t", "5"); got != tc.want {
			t.Errorf("%s (%s): exit %d, want %d", tc.res, tc.why, got, tc.want)
		}
	}
	if d := diskOf(t, state, "r0"); d != "Outdated" {
		t.Errorf("peer's r0 disk is %q after a successful outdate, want Outdated", d)
	}
	// DRBD 8.4's drbdadm passes the peer and resource in the environment;
	// DRBD 9's passes no peer: the other node of the cluster is meant.
	if got := n1.outdater([]string{"DRBD_PEER=n2", "DRBD_RESOURCE=r0"}, "-t", "5"); got != 4 {
		t.Errorf("from the environment: exit %d, want 4", got)
	}
	if got := n1.outdater([]string{"DRBD_RESOURCE=r0"}, "-t", "5"); got != 4 {
		t.Errorf("without a peer (DRBD 9): exit %d, want 4", got)
	}
	// A second request for a resource whose outdate is still running: 21.
	first := make(chan int, 1)
	go func() { first <- n1.outdater(nil, "-p", "n2", "-r", "rslow", "-t", "5") }()
	waitFor(t, 5*time.Second, "first rslow request under way", func() bool {
		return strings.Contains(n2.log(), "asks to outdate resource rslow")
	})
	if got := n1.outdater(nil, "-p", "n2", "-r", "rslow", "-t", "5"); got != 21 {
		t.Errorf("concurrent request for one resource: exit %d, want 21", got)
	}
	if got := <-first; got != 4 {
		t.Errorf("slow outdate: exit %d, want 4", got)
	}
	if got := n1.outdater(nil, "-p", "nosuchnode", "-r", "r0", "-t", "5"); got != 5 {
		t.Errorf("unknown peer: exit %d, want 5", got)
	}
	if got := n1.outdater(nil, "-p", "n2", "-r", "r0; reboot", "-t", "5"); got != 20 {
		t.Errorf("shell text as resource name: exit %d, want 20", got)
	}

	// The peer unreachable on every link: 5, as soon as it is declared
	// dead (not after the whole timeout).
	n1.ns.Cut("eth1")
	n1.ns.Cut("eth2")
	start := time.Now()
	if got := n1.outdater(nil, "-p", "n2", "-r", "r0", "-t", "10"); got != 5 {
		t.Errorf("peer unreachable: exit %d, want 5", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("unreachable peer answered after %v, want about one deadtime", took)
	}
	// And with heartbeatd not running at all: 5, like dopd unreachable.
	n1.stop(10 * time.Second)
	if got := n1.outdater(nil, "-p", "n2", "-r", "r0", "-t", "2"); got != 5 {
		t.Errorf("local daemon down: exit %d, want 5", got)
	}
}
