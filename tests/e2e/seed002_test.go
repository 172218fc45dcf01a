//go:build netns

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seed002Haresources is the haresources of the seed article, verbatim.
const seed002Haresources = `node1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3
node1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget
`

// loopDevice makes a file-backed loop device with an ext3 file system (the
// stand-in for a DRBD device: this kernel has no DRBD).
func loopDevice(t *testing.T, size string) (dev string, major, minor uint32) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	run(t, "truncate", "-s", size, img)
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	run(t, "mkfs.ext3", "-q", "-F", dev)
	var st syscall.Stat_t
	if err := syscall.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	return dev, uint32(st.Rdev >> 8 & 0xfff), uint32(st.Rdev&0xff | st.Rdev>>12&0xfff00)
}

// seedNodeSetup prepares the private mount namespace of a seed-002 node:
// /dev/drbd0 and /dev/drbd1 are the loop devices (an overlay on /dev),
// drbdadm is the fake (an overlay on /usr/sbin, where drbd-utils puts it),
// /srv/data exists, and tgtd's targets.conf exports /dev/drbd1 — the
// target IET served in the article.
func seedNodeSetup(t *testing.T, n *hbNode, drbd [2][2]uint32, state string) {
	t.Helper()
	d := n.dir
	for _, sub := range []string{"dev-upper", "dev-work", "sbin-upper", "sbin-work"} {
		os.MkdirAll(filepath.Join(d, sub), 0o755)
	}
	for i, mm := range drbd {
		run(t, "mknod", filepath.Join(d, "dev-upper", fmt.Sprintf("drbd%d", i)), "b", strconv.Itoa(int(mm[0])), strconv.Itoa(int(mm[1])))
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nFAKE_DRBD_STATE=%s FAKE_DRBD_VERSION=8.4 exec %s \"$@\"\n", state, fakeDrbdadm(t))
	os.WriteFile(filepath.Join(d, "sbin-upper", "drbdadm"), []byte(wrapper), 0o755)
	conf := filepath.Join(d, "targets.conf")
	os.WriteFile(conf, []byte("<target iqn.2009-02.com.example:storage.disk0>\n    backing-store /dev/drbd1\n</target>\n"), 0o644)
	n.realSetup = fmt.Sprintf(`mount -t overlay overlay -o lowerdir=/dev,upperdir=%[1]s/dev-upper,workdir=%[1]s/dev-work /dev
mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir=%[1]s/sbin-upper,workdir=%[1]s/sbin-work /usr/sbin
mount -t tmpfs seed-srv /srv
mkdir /srv/data
mount -t tmpfs -o mode=755 seed-run /run
mount --bind %[2]s /etc/tgt/targets.conf`, d, conf)
	// heartbeatd's own resource agents, as the package installs them.
	for _, a := range []string{"drbddisk", "Filesystem", "IPaddr", "iscsitarget"} {
		b, err := os.ReadFile(filepath.Join("../../resource.d", a))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(n.confdir, "resource.d", a), b, 0o755)
	}
}

// inNode runs argv in the daemon's mount and network namespaces.
func (n *hbNode) inNode(argv ...string) string {
	pid := strconv.Itoa(n.cmd.Process.Pid)
	out, _ := exec.Command("nsenter", append([]string{"-t", pid, "-m", "-n", "--"}, argv...)...).CombinedOutput()
	return string(out)
}

func drbdRole(t *testing.T, state, res string) string {
	t.Helper()
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources map[string]struct{ Role string } `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return "" // being rewritten by the fake
	}
	return st.Resources[res].Role
}

// holdsSeedGroups checks everything of both groups is active on n; why
// says what is missing (for the failure message).
func holdsSeedGroups(t *testing.T, c *cluster, n *hbNode, state string, why *string) bool {
	switch {
	case drbdRole(t, state, "iscsi.config") != "Primary" || drbdRole(t, state, "iscsi.target.0") != "Primary":
		*why = "DRBD resources not primary"
	case !strings.Contains(n.inNode("findmnt", "-n", "-o", "TARGET,FSTYPE", "/srv/data"), "ext3"):
		*why = "/srv/data not mounted: " + n.inNode("findmnt", "/srv/data")
	case !strings.Contains(n.inNode("ip", "-o", "addr", "show", "dev", "eth0"), "10.11.55.50/8"):
		*why = "no 10.11.55.50 on eth0"
	case !strings.Contains(n.inNode("tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target"), "storage.disk0"):
		*why = "no iSCSI target: " + n.inNode("tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target")
	case c.arpOwner("10.11.55.50") != n.name:
		*why = "10.11.55.50 answered by " + c.arpOwner("10.11.55.50")
	default:
		return true
	}
	return false
}

func TestSeed002TakeoverEndToEnd(t *testing.T) {
	c := newCluster(t, "seed2", true)
	// The article's addressing: eth0 on 10.0.0.0/8, eth1 on the private
	// 192.168.22.0/24 (only inside this test's namespaces).
	node1 := c.addNodeWith("node1", link{"eth0", "10.11.55.55/8"}, link{"eth1", "192.168.22.11/24"})
	node2 := c.addNodeWith("node2", link{"eth0", "10.11.55.56/8"}, link{"eth1", "192.168.22.12/24"})
	c.client.Exec("ip", "addr", "add", "10.11.55.100/8", "brd", "+", "dev", "eth1")
	t.Cleanup(func() { dumpLogs(t, c) })

	var drbd [2][2]uint32
	for i := range drbd {
		_, maj, min := loopDevice(t, "64M")
		drbd[i] = [2]uint32{maj, min}
	}
	states := map[*hbNode]string{}
	for _, n := range []*hbNode{node1, node2} {
		st := filepath.Join(n.dir, "drbd.json")
		os.WriteFile(st, []byte(`{"resources":{`+
			`"iscsi.config":{"minor":0,"up":true,"role":"Secondary","peer_role":"Unknown","disk":"UpToDate","peer_disk":"DUnknown","cstate":"WFConnection"},`+
			`"iscsi.target.0":{"minor":1,"up":true,"role":"Secondary","peer_role":"Unknown","disk":"UpToDate","peer_disk":"DUnknown","cstate":"WFConnection"}}}`), 0o644)
		states[n] = st
		hacf := fmt.Sprintf("logfile %s\ndebugfile %s.debug\nkeepalive 100ms\ndeadtime 1\nwarntime 500ms\ninitdead 3\nbcast eth0\nbcast eth1\nnode node1\nnode node2\n", n.logfile, n.logfile)
		n.writeConf(hacf, seed002Haresources)
		seedNodeSetup(t, n, drbd, st)
	}
	node1.start()
	var why string
	defer func() {
		if t.Failed() {
			t.Logf("last check: %s", why)
		}
	}()
	waitFor(t, 20*time.Second, "node1 holds both groups", func() bool { return holdsSeedGroups(t, c, node1, states[node1], &why) })
	node2.start()
	waitFor(t, 20*time.Second, "both active", func() bool {
		return node1.nodeStatus("node2") == "active" && node2.nodeStatus("node1") == "active"
	})
	time.Sleep(6 * time.Second) // past the start-up deadtime

	// node1 loses power: every process of it dies (its mount namespace,
	// with /srv/data, goes with them) and its links are dead.
	start := time.Now()
	node1.killProcesses()
	node1.ns.Cut("eth0")
	node1.ns.Cut("eth1")
	took := waitFor(t, 30*time.Second, "node2 holds both groups", func() bool { return holdsSeedGroups(t, c, node2, states[node2], &why) })
	t.Logf("seed 002 takeover (drbddisk, Filesystem, IPaddr, drbddisk, iscsitarget) complete %v after the fault", took)
	if time.Since(start) > 30*time.Second {
		t.Fatal("takeover too slow")
	}
	for _, want := range []string{"Acquiring resource group: node1 drbddisk::iscsi.config Filesystem::/dev/drbd0::/srv/data::ext3",
		"Acquiring resource group: node1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0 iscsitarget"} {
		if !strings.Contains(node2.log(), want) {
			t.Errorf("node2's log lacks %q", want)
		}
	}
}
