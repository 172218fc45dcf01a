//go:build netns

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPeerOutdaterInteropWithRealDopd: real Heartbeat on n1 runs Debian's
// dopd; heartbeatd on n2 answers and asks in dopd's wire format.
func TestPeerOutdaterInteropWithRealDopd(t *testing.T) {
	c := newCluster(t, "dopd", false)
	real, ours := c.addRealNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })

	// Both nodes' fake DRBD state lives in a directory hacluster (dopd's
	// user) can reach.
	shared, err := os.MkdirTemp("", "hbt-dopd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o777)
	realState, ourState := filepath.Join(shared, "n1.json"), filepath.Join(shared, "n2.json")
	drbdState(realState)
	drbdState(ourState)
	os.Chmod(realState, 0o666)
	fake := fakeDrbdadm(t)

	// drbd-utils is not installed: in the real node's private mount
	// namespace an overlay puts the fake drbdadm into /usr/sbin, where
	// dopd's "drbdadm outdate" finds it.
	ovl := filepath.Join(shared, "ovl")
	os.MkdirAll(filepath.Join(ovl, "upper"), 0o755)
	os.MkdirAll(filepath.Join(ovl, "work"), 0o755)
	if out, err := exec.Command("cp", fake, filepath.Join(ovl, "upper", "drbdadm")).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	real.realSetup = fmt.Sprintf("mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir=%s/upper,workdir=%s/work /usr/sbin\nexport FAKE_DRBD_STATE=%s FAKE_DRBD_VERSION=8.4", ovl, ovl, realState)
	ours.env = []string{"DRBDADM=" + fake, "FAKE_DRBD_STATE=" + ourState, "FAKE_DRBD_VERSION=8.4"}

	dopd := "respawn hacluster /usr/libexec/heartbeat/dopd\napiauth dopd gid=haclient uid=hacluster\nauto_failback on\n"
	for _, n := range []*hbNode{real, ours} {
		n.writeConf(c.haCF(n, interopTiming, "bcast eth1 eth2", dopd), "")
	}
	real.startReal()
	ours.start()
	waitFor(t, 20*time.Second, "both active", func() bool {
		return real.nodeStatus("n2") == "active" && ours.nodeStatus("n1") == "active"
	})

	// Real dopd asks heartbeatd: the codes come from heartbeatd's side.
	// dopd is started (and, after each request, restarted) by Heartbeat's
	// respawn: until it listens, its client exits 5.
	realOutdater := func(res string) (int, string) {
		out, err := real.realExec("/usr/libexec/heartbeat/drbd-peer-outdater", "-p", "n2", "-r", res, "-t", "5").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	for _, tc := range []struct {
		res  string
		want int
	}{{"r0", 4}, {"r5", 3}, {"r17", 6}} {
		var code int
		var out string
		waitFor(t, 20*time.Second, "real dopd ready for "+tc.res, func() bool {
			code, out = realOutdater(tc.res)
			return code != 5
		})
		if code != tc.want {
			t.Errorf("real drbd-peer-outdater -r %s against heartbeatd: exit %d, want %d (%s)", tc.res, code, tc.want, out)
		}
	}
	if d := diskOf(t, ourState, "r0"); d != "Outdated" {
		t.Errorf("heartbeatd's node did not outdate r0 for real dopd: disk %q", d)
	}

	// heartbeatd asks real dopd (which crashes after every request and is
	// respawned by Heartbeat: wait for it between requests).
	for _, tc := range []struct {
		res  string
		want int
	}{{"r0", 4}, {"r5", 3}, {"r17", 6}} {
		var got int
		waitFor(t, 20*time.Second, "real dopd answers "+tc.res, func() bool {
			got = ours.outdater(nil, "-p", "n1", "-r", tc.res, "-t", "3")
			return got != 20 && got != 5 // 20/5 while dopd is being respawned
		})
		if got != tc.want {
			t.Errorf("heartbeatd's drbd-peer-outdater -r %s against real dopd: exit %d, want %d", tc.res, got, tc.want)
		}
	}
	if d := diskOf(t, realState, "r0"); d != "Outdated" {
		t.Errorf("real dopd did not outdate r0 for heartbeatd: disk %q", d)
	}
}
