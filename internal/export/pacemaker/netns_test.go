//go:build netns

package pacemaker

import (
	"encoding/xml"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"heartbeatd/internal/diag"
	"heartbeatd/internal/reload"
)

// The pair: two namespaces joined by two veth links (two heartbeat media,
// two knet links), 10.231.0.0/16.
var pairNodes = []struct {
	ns   string
	addr [2]string
}{
	{"hbpxa", [2]string{"10.231.0.1", "10.231.1.1"}},
	{"hbpxb", [2]string{"10.231.0.2", "10.231.1.2"}},
}

const (
	pairVIP   = "10.231.0.100"
	pairHACF  = "logfacility daemon\nkeepalive 1\ndeadtime 5\ninitdead 12\nucast hb0 10.231.0.1\nucast hb0 10.231.0.2\nucast hb1 10.231.1.1\nucast hb1 10.231.1.2\nauto_failback on\nnode hbpxa\nnode hbpxb\n"
	pairHares = "hbpxa " + pairVIP + "/24/hb0\n"
)

// pairNodeScript runs one node: inside its network namespace, a private
// mount and UTS namespace with the node's host name and fresh state
// directories (two nodes on one machine must not share libqb's files in
// /dev/shm or the CIB), then corosync and pacemakerd.
const pairNodeScript = `#!/bin/sh
set -e
name=$1 conf=$2
hostname "$name"
for d in /dev/shm /run /var/lib/pacemaker /var/lib/corosync /etc/corosync /var/log/pacemaker /var/log/cluster /var/log/corosync; do
	mkdir -p "$d"
	mount -t tmpfs -o mode=0755 tmpfs "$d"
done
chmod 1777 /dev/shm
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores /run/pacemaker /run/resource-agents
chown -R hacluster:haclient /var/lib/pacemaker /run/pacemaker /var/log/pacemaker
chmod 0750 /var/lib/pacemaker/cib
cp "$conf/corosync.conf" "$conf/authkey" /etc/corosync/
chmod 0400 /etc/corosync/authkey
corosync -f >"$conf/$name-corosync.out" 2>&1 &
sleep 1
exec pacemakerd -f >"$conf/$name-pacemakerd.out" 2>&1
`

// pairRun runs a command and fails the test with its output.
func pairRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pairKill kills every process of a namespace.
func pairKill(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestPacemakerPairInNetns runs an export on real Pacemaker 2.1 and
// Corosync 3: the corosync.conf and the CIB of a haresources address
// group, both nodes up, the address on its home node, then that node
// killed and the address on the other node within about deadtime.
func TestPacemakerPairInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network and mount namespaces)")
	}
	for _, tool := range []string{"ip", "unshare", "nsenter", "corosync", "corosync-keygen", "pacemakerd", "cibadmin", "crm_mon"} {
		requireTool(t, tool)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"ha.cf": pairHACF, "haresources": pairHares, "node.sh": pairNodeScript} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	set, l := reload.Read(dir, "hbpxa")
	for _, f := range l {
		if f.Severity == diag.Error && f.File != set.AuthFile {
			t.Fatal(f)
		}
	}
	// The export as run on hbpxa: its own addresses from its interfaces,
	// the peer's from the ucast lines.
	conf, l := Corosync(CorosyncInput{Cfg: set.Cfg, Local: "hbpxa", LocalAddrs: map[string][]netip.Addr{
		"hb0": {netip.MustParseAddr("10.231.0.1")}, "hb1": {netip.MustParseAddr("10.231.1.1")},
	}})
	if len(l) != 0 || placeholderRE.Match(conf) {
		t.Fatalf("corosync.conf not complete (%v):\n%s", l, conf)
	}
	c, l := Build(Input{Cfg: set.Cfg, Hares: set.Hares})
	if l.HasErrors() {
		t.Fatal(l.Err())
	}
	cib := filepath.Join(dir, "cib.xml")
	for name, data := range map[string][]byte{"corosync.conf": conf, "cib.xml": c.CIB()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pairRun(t, "corosync-keygen", "-k", filepath.Join(dir, "authkey"))

	for _, n := range pairNodes {
		exec.Command("ip", "netns", "del", n.ns).Run() // a run killed before its cleanup
	}
	t.Cleanup(func() {
		for _, n := range pairNodes {
			pairKill(n.ns)
		}
		time.Sleep(200 * time.Millisecond)
		for _, n := range pairNodes {
			exec.Command("ip", "netns", "del", n.ns).Run()
		}
	})
	for _, n := range pairNodes {
		pairRun(t, "ip", "netns", "add", n.ns)
	}
	a, b := pairNodes[0].ns, pairNodes[1].ns
	for i := 0; i < 2; i++ {
		pairRun(t, "ip", "link", "add", fmt.Sprintf("%s%d", a, i), "netns", a, "type", "veth", "peer", "name", fmt.Sprintf("%s%d", b, i), "netns", b)
		for _, n := range pairNodes {
			pairRun(t, "ip", "-n", n.ns, "link", "set", fmt.Sprintf("%s%d", n.ns, i), "name", fmt.Sprintf("hb%d", i))
			pairRun(t, "ip", "-n", n.ns, "addr", "add", n.addr[i]+"/24", "dev", fmt.Sprintf("hb%d", i))
			pairRun(t, "ip", "-n", n.ns, "link", "set", fmt.Sprintf("hb%d", i), "up")
		}
	}
	pids := map[string]int{}
	for _, n := range pairNodes {
		pairRun(t, "ip", "-n", n.ns, "link", "set", "lo", "up")
		cmd := exec.Command("ip", "netns", "exec", n.ns, "unshare", "--mount", "--uts", "--propagation", "private", filepath.Join(dir, "node.sh"), n.ns, dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		// ip netns exec and unshare exec their command: this pid ends up
		// as pacemakerd, inside the node's namespaces.
		pids[n.ns] = cmd.Process.Pid
	}
	in := func(ns string, args ...string) (string, error) {
		out, err := exec.Command("nsenter", append([]string{"-t", fmt.Sprint(pids[ns]), "-m", "-n", "-u"}, args...)...).CombinedOutput()
		return string(out), err
	}
	logs := func() string {
		var b strings.Builder
		for _, n := range pairNodes {
			for _, f := range []string{"corosync.out", "pacemakerd.out"} {
				data, _ := os.ReadFile(filepath.Join(dir, n.ns+"-"+f))
				fmt.Fprintf(&b, "--- %s %s\n%s", n.ns, f, data)
			}
		}
		return b.String()
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < limit {
			if ok() {
				return time.Since(start)
			}
			time.Sleep(250 * time.Millisecond)
		}
		out, _ := in(b, "crm_mon", "-1")
		t.Fatalf("%s: not within %s\n%s\n%s", what, limit, out, logs())
		return 0
	}

	waitFor("both nodes online", 90*time.Second, func() bool {
		out, err := in(a, "crm_mon", "--one-shot", "--output-as=xml")
		var mon struct {
			Nodes []struct {
				Online string `xml:"online,attr"`
			} `xml:"nodes>node"`
		}
		if err != nil || xml.Unmarshal([]byte(out), &mon) != nil || len(mon.Nodes) != 2 {
			return false
		}
		return mon.Nodes[0].Online == "true" && mon.Nodes[1].Online == "true"
	})
	if out, err := in(a, "cibadmin", "--replace", "--scope", "configuration", "--xml-file", cib); err != nil {
		t.Fatalf("cibadmin: %v\n%s", err, out)
	}
	hasVIP := func(ns string) bool {
		out, err := exec.Command("ip", "-n", ns, "-4", "addr", "show", "dev", "hb0").Output()
		return err == nil && strings.Contains(string(out), " "+pairVIP+"/24 ")
	}
	waitFor("the address on its home node hbpxa", 60*time.Second, func() bool { return hasVIP(a) })
	if hasVIP(b) {
		t.Fatalf("the address is on both nodes")
	}

	pairKill(a)
	took := waitFor("the address on hbpxb after hbpxa was killed", 60*time.Second, func() bool { return hasVIP(b) })
	t.Logf("failover after kill -9 of hbpxa's corosync and pacemaker: %.1f s (deadtime %s)", took.Seconds(), set.Cfg.Deadtime)
}
