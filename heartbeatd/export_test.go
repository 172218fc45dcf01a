package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runExportTest(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = runExport(&o, &e, args)
	return code, o.String(), e.String()
}

// TestExportCommand runs `heartbeatd export` on seed 002's files: the CIB
// on stdout parses, findings go to stderr with file and line, authkeys is
// not needed, and bad input means no output and status 1.
func TestExportCommand(t *testing.T) {
	code, out, errs := runExportTest("pacemaker", "--confdir", "testdata/seed002", "--node", "node1")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if err := xml.Unmarshal([]byte(out), new(struct{})); err != nil || !strings.Contains(out, `<group id="g_drbddisk_iscsi.config">`) {
		t.Errorf("not a CIB (%v):\n%s", err, out)
	}
	if !strings.Contains(errs, "testdata/seed002/ha.cf: warning: no stonith_host") || strings.Contains(errs, "authkeys") {
		t.Errorf("stderr:\n%s", errs)
	}

	code, out, _ = runExportTest("pacemaker", "--confdir", "testdata/seed002", "--node", "node1", "--format", "crm")
	if code != 0 || !strings.Contains(out, "group g_IPaddr_10.11.55.50-8-eth0 ip_10.11.55.50 lsb_tgt\n") {
		t.Errorf("crm: exit %d\n%s", code, out)
	}

	code, out, _ = runExportTest("corosync", "--confdir", "testdata/seed002", "--node", "node1", "--cluster-name", "iscsi")
	if code != 0 || !strings.Contains(out, "cluster_name: iscsi\n") || !strings.Contains(out, "    two_node: 1\n") {
		t.Errorf("corosync: exit %d\n%s", code, out)
	}

	// Without --node on a machine outside the cluster, the files are read
	// as ha.cf's first node.
	if code, _, errs := runExportTest("pacemaker", "--confdir", "testdata/seed002"); code != 0 {
		t.Errorf("without --node: exit %d\n%s", code, errs)
	}

	if code, _, _ := runExportTest("pacemaker", "--format", "yaml"); code != 2 {
		t.Errorf("--format yaml: exit %d, want 2", code)
	}
	if code, _, _ := runExportTest("nagios"); code != 2 {
		t.Errorf("unknown target: exit %d, want 2", code)
	}

	dir := t.TempDir()
	hacf, err := os.ReadFile("testdata/seed002/ha.cf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ha.cf"), hacf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "haresources"), []byte("node1 10.0.0.5\nnode2 Filesystem::/dev/sdb1::/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runExportTest("pacemaker", "--confdir", dir, "--node", "node1")
	if code != 1 || out != "" || !strings.Contains(errs, filepath.Join(dir, "haresources")+":2: error: resource Filesystem::/dev/sdb1::/: refusing to manage / as a mountpoint") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
	}
}
