package pacemaker

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

var ringRE = regexp.MustCompile(`(?m)^\s+(name|ring\d_addr|linknumber|two_node|transport|token): (.*)$`)

// rings lists the nodelist and link facts of a corosync.conf.
func rings(conf string) []string {
	var out []string
	for _, m := range ringRE.FindAllStringSubmatch(conf, -1) {
		out = append(out, m[1]+"="+m[2])
	}
	return out
}

// TestCorosyncAddresses: one knet link per interface that carries
// heartbeats, the local node's address from its interface, the peer's
// from ha.cf's ucast line, placeholders (and warnings) for the rest.
func TestCorosyncAddresses(t *testing.T) {
	set := load(t, "testdata/seed000")
	a := netip.MustParseAddr
	out, l := Corosync(CorosyncInput{Cfg: set.Cfg, Local: "server1", LocalAddrs: map[string][]netip.Addr{
		"eth0": {a("169.254.0.9"), a("10.1.0.100")},
		"eth1": {a("192.168.123.100"), a("192.168.123.5")},
	}})
	if len(l) != 0 {
		t.Errorf("findings: %v", l)
	}
	diffLines(t, "seed000 on server1", rings(string(out)), []string{
		"transport=knet", "token=4545", "linknumber=0", "linknumber=1",
		"name=server1", "ring0_addr=10.1.0.100", "ring1_addr=192.168.123.100",
		"name=server2", "ring0_addr=10.1.0.200", "ring1_addr=192.168.123.200",
		"two_node=1",
	})

	// Off the cluster both ucast addresses are known, but not whose.
	out, l = Corosync(CorosyncInput{Cfg: set.Cfg, Local: "server1"})
	if len(l) != 4 || !strings.Contains(string(out), "# ucast addresses on eth0: 10.1.0.100 10.1.0.200; which node has which is not known here") {
		t.Errorf("findings %v\n%s", l, out)
	}

	// seed 002 (bcast only): nothing is known.
	set = load(t, "testdata/seed002")
	out, l = Corosync(CorosyncInput{Cfg: set.Cfg, Local: "node1"})
	diffLines(t, "seed002", rings(string(out)), []string{
		"transport=knet", "token=13636", "linknumber=0", "linknumber=1",
		"name=node1", "ring0_addr=ADDRESS-OF-node1-ON-eth0", "ring1_addr=ADDRESS-OF-node1-ON-eth1",
		"name=node2", "ring0_addr=ADDRESS-OF-node2-ON-eth0", "ring1_addr=ADDRESS-OF-node2-ON-eth1",
		"two_node=1",
	})
	if len(l) != 4 || l[0].String() != "testdata/seed002/ha.cf:6: warning: address of node node1 on eth0 (link 0) is unknown: corosync.conf holds the placeholder ADDRESS-OF-node1-ON-eth0, which corosync refuses until it is replaced" {
		t.Errorf("findings: %v", l)
	}

	// One ucast line (the peer's address, as each node's own ha.cf may
	// list it), a multicast medium, and a serial one that corosync
	// cannot carry.
	set = load(t, "testdata/stonith")
	out, l = Corosync(CorosyncInput{Cfg: set.Cfg, Local: "alpha"})
	diffLines(t, "stonith", rings(string(out)), []string{
		"transport=knet", "token=4545", "linknumber=0", "linknumber=1",
		"name=alpha", "ring0_addr=ADDRESS-OF-alpha-ON-eth0", "ring1_addr=ADDRESS-OF-alpha-ON-eth1",
		"name=beta", "ring0_addr=ADDRESS-OF-beta-ON-eth0", "ring1_addr=192.168.50.2",
		"two_node=1",
	})
	if len(l) != 4 || !strings.Contains(l[0].Message, "serial /dev/ttyS0: corosync has no serial transport") {
		t.Errorf("findings: %v", l)
	}
	for _, ln := range strings.Split(string(out), "\n") {
		if strings.Contains(ln, "{") && !strings.HasSuffix(ln, "{") {
			t.Errorf("corosync wants each { at the end of its line: %q", ln)
		}
	}
}
