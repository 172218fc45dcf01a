package pacemaker

import (
	"slices"
	"strings"
	"testing"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

const twoNodes = "logfacility daemon\nbcast eth0\nauto_failback on\nnode n1\nnode n2\n"

// parse reads ha.cf and haresources text with the daemon's parsers.
func parse(t *testing.T, hacf, hares string) Input {
	t.Helper()
	cfg, l := config.ParseHACF(strings.NewReader(hacf), "ha.cf")
	hr, l2 := haresources.Parse(strings.NewReader(hares), "haresources")
	if l = append(l, l2...); l.HasErrors() {
		t.Fatalf("test input does not load: %v", l.Err())
	}
	return Input{Cfg: cfg, Hares: hr}
}

func errorsOf(l diag.List) []string {
	var out []string
	for _, f := range l {
		if f.Severity == diag.Error {
			out = append(out, f.String())
		}
	}
	return out
}

// TestErrorsNameFileAndLine: arguments that the daemon's parser lets
// through but the agent would refuse at takeover time are errors of the
// export, with the haresources line.
func TestErrorsNameFileAndLine(t *testing.T) {
	in := parse(t, twoNodes, strings.Join([]string{
		"n1 Filesystem::/dev/sdb1::/",
		"# comment",
		"n2 iSCSITarget::target0",
		"n1 MailTo::a@b::subject::extra",
		"n2 SCSTLun::iqn.2024-01.org.example:t::DEV::0::/dev/x::disk",
		"n1 iSCSILogicalUnit::iqn.2024-01.org.example:t::1::relative",
	}, "\n"))
	_, l := Build(in)
	diffLines(t, "errors", errorsOf(l), []string{
		`haresources:1: error: resource Filesystem::/dev/sdb1::/: refusing to manage / as a mountpoint`,
		`haresources:3: error: resource iSCSITarget::target0: "target0" is not an iSCSI name (iqn.YYYY-MM.reversed.domain[:id], eui. or naa.)`,
		`haresources:4: error: resource MailTo::a@b::subject::extra: MailTo takes at most 2 arguments (email, subject), got 3`,
		`haresources:5: error: resource SCSTLun::iqn.2024-01.org.example:t::DEV::0::/dev/x::disk: handler "disk": want vdisk_fileio (through the page cache) or vdisk_blockio (direct)`,
		`haresources:6: error: resource iSCSILogicalUnit::iqn.2024-01.org.example:t::1::relative: PATH "relative": want an absolute path without commas (IET splits its parameters on them)`,
	})
}

// TestFenceAgent maps the fence_agent extension (named parameters) when
// the configuration carries it, and refuses a parameter that is not
// key=value, naming the line.
func TestFenceAgent(t *testing.T) {
	in := parse(t, twoNodes, "n1 10.0.0.10/24/eth0\n")
	in.Cfg.Directives = append(in.Cfg.Directives,
		config.Directive{Name: "fence_agent", Args: []string{"n1", "fence_ipmilan", "ip=10.0.0.21", "username=admin", "password=x y", "pcmk_host_list=n2"}, Line: 6},
		config.Directive{Name: "fence_agent", Args: []string{"*", "fence_virsh", "ip=10.0.0.1"}, Line: 7})
	c, l := Build(in)
	if l.HasErrors() {
		t.Fatal(l.Err())
	}
	sum := summary(parseCIB(t, c.CIB()))
	diffLines(t, "fence_agent", sum[:3], []string{
		"props stonith-enabled=true no-quorum-policy=stop priority-fencing-delay=15s",
		"primitive st_n1_fence_ipmilan stonith:fence_ipmilan ip=10.0.0.21 username=admin password=x y pcmk_host_list=n2 op:monitor/3600s",
		"primitive st_any_fence_virsh stonith:fence_virsh ip=10.0.0.1 op:monitor/3600s",
	})
	if !strings.Contains(strings.Join(sum, "\n"), "location st_n1_fence_ipmilan n2 -INFINITY") {
		t.Errorf("no ban of the n1-only device from n2:\n%s", strings.Join(sum, "\n"))
	}

	in.Cfg.Directives = append(in.Cfg.Directives, config.Directive{Name: "fence_agent", Args: []string{"n2", "fence_ipmilan", "lanplus"}, Line: 9})
	_, l = Build(in)
	diffLines(t, "bad fence_agent", errorsOf(l), []string{`ha.cf:9: error: fence_agent: parameter "lanplus": want key=value`})
}

// TestStonithFile: a `stonith TYPE FILE` line takes its parameters from
// the file in Heartbeat's -F syntax; an unreadable file leaves a device
// without parameters and a warning.
func TestStonithFile(t *testing.T) {
	in := parse(t, twoNodes+"stonith baytech /etc/ha.d/baytech.cfg\n", "n1 10.0.0.10\n")
	in.StonithFiles = map[string]string{"/etc/ha.d/baytech.cfg": "# BayTech RPC\n10.0.0.9 admin secret word\nnot read\n"}
	c, l := Build(in)
	if len(l) != 0 {
		t.Errorf("findings: %v", l)
	}
	if sum := summary(parseCIB(t, c.CIB())); sum[1] != "primitive st_any_baytech stonith:baytech ipaddr=10.0.0.9 login=admin password=secret word op:monitor/3600s" {
		t.Errorf("got %q", sum[1])
	}
	in.StonithFiles = nil
	c, l = Build(in)
	if len(l) != 1 || l[0].Line != 6 || !strings.Contains(l[0].Message, "the file could not be read") {
		t.Errorf("findings: %v", l)
	}
	if sum := summary(parseCIB(t, c.CIB())); sum[0] != "props stonith-enabled=true no-quorum-policy=stop priority-fencing-delay=15s" {
		t.Errorf("fencing must stay enabled with an unreadable device file: %q", sum[0])
	}
}

// TestLastStonithLineWins: Heartbeat keeps only the last stonith or
// stonith_host line that applies to a node, so an earlier line is used by
// the nodes no later line covers, or left out.
func TestLastStonithLineWins(t *testing.T) {
	in := parse(t, twoNodes+"stonith_host * null n1 n2\nstonith_host n1 ssh n2\nstonith_host n2 meatware n1\nstonith_host n2 external/ssh n1\n", "n1 10.0.0.10\n")
	c, l := Build(in)
	sum := summary(parseCIB(t, c.CIB()))
	diffLines(t, "devices", sum[1:3], []string{
		"primitive st_n1_ssh stonith:ssh hostlist=n2 pcmk_host_list=n2 op:monitor/3600s",
		"primitive st_n2_external-ssh stonith:external/ssh hostlist=n1 pcmk_host_list=n1 op:monitor/3600s",
	})
	diffLines(t, "findings", findings(l), []string{
		"ha.cf:6: warning: fencing device null is used by no node (its host is not a node, or later stonith/stonith_host lines replace it for every node, as Heartbeat keeps only the last one per node); it is left out",
		"ha.cf:8: warning: fencing device meatware is used by no node (its host is not a node, or later stonith/stonith_host lines replace it for every node, as Heartbeat keeps only the last one per node); it is left out",
	})

	in = parse(t, twoNodes+"stonith_host * null n1 n2\nstonith_host n1 ssh n2\n", "n1 10.0.0.10\n")
	c, _ = Build(in)
	sum = summary(parseCIB(t, c.CIB()))
	for _, want := range []string{
		"primitive st_any_null stonith:null hostlist=n1 n2 pcmk_host_list=n1 op:monitor/3600s",
		"location st_any_null n1 -INFINITY",
		"location st_n1_ssh n2 -INFINITY",
	} {
		if !slices.Contains(sum, want) {
			t.Errorf("lacks %q in\n\t%s", want, strings.Join(sum, "\n\t"))
		}
	}
}

// TestCRMSyntax pins the crm shell forms: quoting, scores, roles.
func TestCRMSyntax(t *testing.T) {
	in := parse(t, twoNodes+"stonith_host n1 null n1 n2\n", "n1 drbddisk::r0 Filesystem::/dev/drbd0::/srv/a::ext4 MailTo::x\"y@z\n")
	c, l := Build(in)
	if l.HasErrors() {
		t.Fatal(l.Err())
	}
	crm := string(c.CRM())
	for _, want := range []string{
		"primitive st_n1_null stonith:null \\\n    params hostlist=\"n1 n2\" pcmk_host_list=\"n2\" \\\n    op monitor interval=3600s\n",
		"clone ms_drbd_r0 drbd_r0 \\\n    meta promotable=\"true\" promoted-max=\"1\"",
		`params email="x\"y@z"`,
		"location loc_g_drbddisk_r0 g_drbddisk_r0 100: n1\n",
		"location loc_ms_drbd_r0 ms_drbd_r0 rule $role=Promoted 100: #uname eq n1\n",
		"location loc_st_n1_null_n2 st_n1_null -inf: n2\n",
		"colocation col_g_drbddisk_r0_ms_drbd_r0 inf: g_drbddisk_r0 ms_drbd_r0:Promoted\n",
		"order ord_ms_drbd_r0_g_drbddisk_r0 Mandatory: ms_drbd_r0:promote g_drbddisk_r0:start\n",
		`property cib-bootstrap-options: stonith-enabled="true" no-quorum-policy="stop" priority-fencing-delay="15s"`,
		`rsc_defaults rsc-options: resource-stickiness="0" priority="1"`,
	} {
		if !strings.Contains(crm, want) {
			t.Errorf("crm output lacks %q:\n%s", want, crm)
		}
	}
}

func TestIDs(t *testing.T) {
	s := idSet{}
	for _, tc := range []struct{ in, want string }{
		{"g_" + slug("IPaddr::10.11.55.50/8/eth0"), "g_IPaddr_10.11.55.50-8-eth0"},
		{"fs_" + slug("/srv/data/"), "fs_srv-data"},
		{"fs_" + slug("/srv/data/"), "fs_srv-data-2"},
		{slug("10.0.0.1/24"), "r_10.0.0.1-24"},
		{"lsb_" + slug("naïve"), "lsb_na-ve"},
	} {
		if got := s.take(tc.in); got != tc.want {
			t.Errorf("take(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := xmlCommentSafe("crm_verify --xml-file -"); strings.Contains(got, "--") || strings.HasSuffix(got, "-") {
		t.Errorf("xmlCommentSafe left %q", got)
	}
}
