package scst

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/internal/agent"
	"heartbeatd/tests/fakes/scstfs"
)

type result struct {
	code           int
	stdout, stderr string
}

type lab struct {
	t    *testing.T
	tree *scstfs.Tree
	dir  string
}

func newLab(t *testing.T) *lab {
	dir := t.TempDir()
	tree, err := scstfs.New(filepath.Join(dir, "scst_tgt"))
	if err != nil {
		t.Fatal(err)
	}
	return &lab{t: t, tree: tree, dir: dir}
}

func (l *lab) agent() *Agent {
	a := New(func(k string) string {
		if k == "SCST_SYSFS" {
			return l.tree.Root
		}
		return ""
	})
	a.FS = l.tree
	a.Sleep = func(time.Duration) {}
	return a
}

// run calls the agent and returns what it printed and the sysfs writes it
// made.
func (l *lab) run(lun bool, args ...string) (result, []string) {
	var out, errb bytes.Buffer
	io := agent.IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	l.tree.Writes = nil
	a := l.agent()
	var code int
	if lun {
		code = a.Lun(args, io)
	} else {
		code = a.Target(args, io)
	}
	return result{code, out.String(), errb.String()}, l.tree.Writes
}

func (l *lab) disk(name string) string {
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// Seed 000's group: target first (portals, tgtoptions), then LUN 0.
const (
	seedIQN     = "iqn.2011-04.ru.domain:VM_STORAGE_1"
	seedPortals = "10.1.24.10,10.1.25.10,10.1.26.10,10.1.27.10,10.1.28.10,10.1.29.10"
	seedOptions = "InitialR2T=No,ImmediateData=Yes,MaxRecvDataSegmentLength=1048576,MaxXmitDataSegmentLength=1048576,MaxBurstLength=1048576,FirstBurstLength=524284,MaxOutstandingR2T=32,HeaderDigest=CRC32C,DataDigest=CRC32C,QueuedCommands=32,io_grouping_type=never"
)

func TestSeed000Group(t *testing.T) {
	l := newLab(t)
	drbd := l.disk("drbd0")
	tgt := "targets/iscsi/" + seedIQN

	if r, _ := l.run(false, seedIQN, seedPortals, seedOptions, "status"); r.stdout != "stopped\n" || r.code != 3 {
		t.Fatalf("status before start: %+v", r)
	}
	r, writes := l.run(false, seedIQN, seedPortals, seedOptions, "start")
	if r.code != 0 {
		t.Fatalf("target start: %+v", r)
	}
	want := []string{"targets/iscsi/mgmt <- add_target " + seedIQN}
	for _, kv := range strings.Split(seedOptions, ",") {
		k, v, _ := strings.Cut(kv, "=")
		want = append(want, tgt+"/"+k+" <- "+v)
	}
	for _, p := range strings.Split(seedPortals, ",") {
		want = append(want, "targets/iscsi/mgmt <- add_target_attribute "+seedIQN+" allowed_portal "+p)
	}
	want = append(want, tgt+"/enabled <- 1", "targets/iscsi/enabled <- 1")
	if d := cmp.Diff(want, writes); d != "" {
		t.Fatalf("target start writes (-want +got):\n%s", d)
	}
	for attr, v := range map[string]string{"enabled": "1", "InitialR2T": "No", "FirstBurstLength": "524284",
		"io_grouping_type": "never", "allowed_portal": "10.1.24.10", "allowed_portal5": "10.1.29.10"} {
		if got, err := l.tree.Attr(tgt + "/" + attr); err != nil || got != v {
			t.Errorf("%s = %q, %v; want %q", attr, got, err, v)
		}
	}
	if r, _ := l.run(false, seedIQN, seedPortals, seedOptions, "status"); r.stdout != "running\n" || r.code != 0 {
		t.Fatalf("target status: %+v", r)
	}
	if r, w := l.run(false, seedIQN, seedPortals, seedOptions, "start"); r.code != 0 || len(w) != 0 {
		t.Fatalf("second target start: %+v wrote %q", r, w)
	}

	lunArgs := []string{seedIQN, "VM_STORAGE_1", "0", drbd, "vdisk_fileio"}
	r, writes = l.run(true, append(lunArgs, "start")...)
	if r.code != 0 {
		t.Fatalf("lun start: %+v", r)
	}
	want = []string{
		"handlers/vdisk_fileio/mgmt <- add_device VM_STORAGE_1 filename=" + drbd,
		tgt + "/luns/mgmt <- add VM_STORAGE_1 0",
	}
	if d := cmp.Diff(want, writes); d != "" {
		t.Fatalf("lun start writes (-want +got):\n%s", d)
	}
	if strings.Contains(r.stderr, "warning") {
		t.Fatalf("unexpected warning: %q", r.stderr)
	}
	if nv, _ := l.tree.Attr("devices/VM_STORAGE_1/nv_cache"); nv != "0" {
		t.Fatalf("nv_cache = %q: must not be implied", nv)
	}
	if d := cmp.Diff(map[int]string{0: "VM_STORAGE_1"}, l.tree.LUNs(seedIQN)); d != "" {
		t.Fatal(d)
	}
	if r, _ := l.run(true, append(lunArgs, "status")...); r.stdout != "running\n" {
		t.Fatalf("lun status: %+v", r)
	}
	if r, w := l.run(true, append(lunArgs, "start")...); r.code != 0 || len(w) != 0 {
		t.Fatalf("second lun start: %+v wrote %q", r, w)
	}

	// Stop right to left: LUN, then target.
	r, writes = l.run(true, append(lunArgs, "stop")...)
	want = []string{tgt + "/luns/mgmt <- del 0", "handlers/vdisk_fileio/mgmt <- del_device VM_STORAGE_1"}
	if r.code != 0 || cmp.Diff(want, writes) != "" {
		t.Fatalf("lun stop: %+v wrote %q", r, writes)
	}
	if l.tree.Exists("devices/VM_STORAGE_1") {
		t.Fatal("device still open after stop: DRBD could not be demoted")
	}
	if r, w := l.run(true, append(lunArgs, "stop")...); r.code != 0 || len(w) != 0 {
		t.Fatalf("second lun stop: %+v wrote %q", r, w)
	}
	if err := l.tree.AddSession(seedIQN, "iqn.1998-01.com.vmware:esx1"); err != nil {
		t.Fatal(err)
	}
	r, writes = l.run(false, seedIQN, seedPortals, seedOptions, "stop")
	want = []string{tgt + "/enabled <- 0", tgt + "/sessions/iqn.1998-01.com.vmware:esx1/force_close <- 1",
		"targets/iscsi/mgmt <- del_target " + seedIQN}
	if r.code != 0 || cmp.Diff(want, writes) != "" {
		t.Fatalf("target stop: %+v wrote %q", r, writes)
	}
	if len(l.tree.Targets()) != 0 {
		t.Fatalf("targets left: %v", l.tree)
	}
	if r, _ := l.run(false, seedIQN, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status after stop: %+v", r)
	}
	if r, w := l.run(false, seedIQN, "stop"); r.code != 0 || len(w) != 0 {
		t.Fatalf("second target stop: %+v wrote %q", r, w)
	}
}

func TestLUN0WarningAndNVCache(t *testing.T) {
	l := newLab(t)
	iqn := "iqn.2024-01.test:t"
	if r, _ := l.run(false, iqn, "start"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	disk := l.disk("d1")
	r, writes := l.run(true, iqn, "D1", "1", disk, "vdisk_blockio", "nv_cache=1,blocksize=4096", "start")
	if r.code != 0 {
		t.Fatalf("lun start: %+v", r)
	}
	if writes[0] != "handlers/vdisk_blockio/mgmt <- add_device D1 filename="+disk+"; nv_cache=1; blocksize=4096" {
		t.Fatalf("add_device line: %q", writes[0])
	}
	if !strings.Contains(r.stderr, "no LUN 0") || !strings.Contains(r.stderr, "nv_cache=1") {
		t.Fatalf("want LUN 0 and nv_cache warnings, got %q", r.stderr)
	}
	if r, _ := l.run(true, iqn, "D0", "0", l.disk("d0"), "vdisk_fileio", "start"); r.code != 0 || strings.Contains(r.stderr, "LUN 0") {
		t.Fatalf("lun 0 start: %+v", r)
	}
	// Removing LUN 0 while LUN 1 stays brings the warning back.
	if r, _ := l.run(true, iqn, "D0", "0", l.dir+"/d0", "vdisk_fileio", "stop"); r.code != 0 || !strings.Contains(r.stderr, "no LUN 0") {
		t.Fatalf("lun 0 stop: %+v", r)
	}
	// Another resource's LUN number: refuse, and leave it on stop.
	if r, _ := l.run(true, iqn, "OTHER", "1", disk, "vdisk_fileio", "start"); r.code != agent.Failed || !strings.Contains(r.stderr, "already holds device D1") {
		t.Fatalf("LUN clash: %+v", r)
	}
	if r, w := l.run(true, iqn, "OTHER", "1", disk, "vdisk_fileio", "stop"); r.code != 0 || len(w) != 0 {
		t.Fatalf("stop of someone else's LUN: %+v wrote %q", r, w)
	}
	if l.tree.LUNs(iqn)[1] != "D1" {
		t.Fatal("LUN 1 was removed")
	}
}

func TestFailures(t *testing.T) {
	l := newLab(t)
	iqn := "iqn.2024-01.test:t"
	disk := l.disk("d")

	if r, _ := l.run(true, iqn, "D", "0", disk, "vdisk_fileio", "start"); r.code != agent.Failed || !strings.Contains(r.stderr, "put SCSTTarget::"+iqn) {
		t.Fatalf("lun before target: %+v", r)
	}
	l.tree.SetOpenState("closed")
	if r, w := l.run(false, iqn, "start"); r.code != agent.Failed || !strings.Contains(r.stderr, "start iscsi-scstd") || len(w) != 0 {
		t.Fatalf("start without iscsi-scstd: %+v wrote %q", r, w)
	}
	l.tree.SetOpenState("open")

	// A bad option undoes the target: no half-configured target remains.
	r, _ := l.run(false, iqn, "-", "NoSuchParam=1", "start")
	if r.code != agent.Failed || !strings.Contains(r.stderr, "no attribute NoSuchParam") || len(l.tree.Targets()) != 0 {
		t.Fatalf("bad option: %+v tree %v", r, l.tree)
	}
	// A value SCST refuses is reported with the errno.
	r, _ = l.run(false, iqn, "-", "InitialR2T= ", "start")
	if r.code != agent.BadArgs {
		t.Fatalf("empty value: %+v", r)
	}

	if r, _ := l.run(false, iqn, "start"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if r, w := l.run(true, iqn, "D", "0", filepath.Join(l.dir, "missing"), "vdisk_fileio", "start"); r.code != agent.Failed || !strings.Contains(r.stderr, "backing store") || len(w) != 0 {
		t.Fatalf("missing backing store: %+v wrote %q", r, w)
	}
	// Device name taken by another path.
	if r, _ := l.run(true, iqn, "D", "0", disk, "vdisk_fileio", "start"); r.code != 0 {
		t.Fatalf("lun start: %+v", r)
	}
	if r, _ := l.run(true, iqn, "D", "2", l.disk("e"), "vdisk_fileio", "start"); r.code != agent.Failed || !strings.Contains(r.stderr, "already exists on "+disk) {
		t.Fatalf("device name clash: %+v", r)
	}
	// A disabled leftover target says "may be running", and start rebuilds it.
	if err := l.tree.WriteFile("targets/iscsi/"+iqn+"/enabled", "0"); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.run(false, iqn, "status"); r.stdout != "may be running\n" {
		t.Fatalf("status of disabled target: %+v", r)
	}
	if r, w := l.run(false, iqn, "start"); r.code != 0 || w[0] != "targets/iscsi/mgmt <- del_target "+iqn {
		t.Fatalf("restart of disabled target: %+v wrote %q", r, w)
	}
}

func TestAsyncMgmt(t *testing.T) {
	l := newLab(t)
	l.tree.Async = true
	iqn := "iqn.2024-01.test:t"
	if r, _ := l.run(false, iqn, "start"); r.code != 0 {
		t.Fatalf("start with queued commands: %+v", r)
	}
	if got := l.tree.Targets(); len(got) != 1 {
		t.Fatalf("targets %v", got)
	}
	// A queued command that fails reports its -errno from last_sysfs_mgmt_res.
	err := l.agent().mgmt("targets/iscsi/mgmt", "add_target "+iqn)
	if !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), "last_sysfs_mgmt_res -17") {
		t.Fatalf("queued failure: %v", err)
	}
}

func TestBadArgs(t *testing.T) {
	l := newLab(t)
	for _, args := range [][]string{
		{}, {"start"}, {"restart"}, {"notaniqn", "start"}, {"iqn.a:b", "10.0.0.1/24", "start"},
		{"iqn.a:b", "-", "InitialR2T", "start"}, {"iqn.a:b", "-", "enabled=1", "start"}, {"iqn.a:b", "-", "-", "x", "start"},
	} {
		if r, w := l.run(false, args...); r.code != agent.BadArgs || r.stderr == "" || len(w) != 0 {
			t.Errorf("SCSTTarget %q: %+v wrote %q", args, r, w)
		}
	}
	for _, args := range [][]string{
		{"iqn.a:b", "D", "0", "/x", "start"},
		{"iqn.a:b", "D", "-1", "/x", "vdisk_fileio", "start"},
		{"iqn.a:b", "D/x", "0", "/x", "vdisk_fileio", "start"},
		{"iqn.a:b", "D", "0", "rel", "vdisk_fileio", "start"},
		{"iqn.a:b", "D", "0", "/x;y", "vdisk_fileio", "start"},
		{"iqn.a:b", "D", "0", "/x", "dev_disk", "start"},
		{"iqn.a:b", "D", "0", "/x", "vdisk_fileio", "filename=/y", "start"},
		{"iqn.a:b", "D", "0", "/x", "vdisk_fileio", "nv_cache", "start"},
	} {
		if r, w := l.run(true, args...); r.code != agent.BadArgs || r.stderr == "" || len(w) != 0 {
			t.Errorf("SCSTLun %q: %+v wrote %q", args, r, w)
		}
	}
}

// OSFS never creates files: a write to a missing attribute fails as on
// sysfs.
func TestOSFSWrite(t *testing.T) {
	dir := t.TempDir()
	fs := OSFS{Root: dir}
	if err := fs.WriteFile("nope", "1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("write to missing attribute: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !os.IsNotExist(err) {
		t.Fatal("WriteFile created a file")
	}
	os.WriteFile(filepath.Join(dir, "enabled"), []byte("0\n"), 0o644)
	if err := fs.WriteFile("enabled", "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := fs.ReadFile("enabled"); attr(v) != "1" {
		t.Fatalf("enabled = %q", v)
	}
	if attr("/dev/drbd0\n[key]\n") != "/dev/drbd0" {
		t.Fatal("attr does not strip [key]")
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add(seedIQN, seedPortals, seedOptions, "VM_STORAGE_1", "0", "/dev/drbd0", "vdisk_fileio", "nv_cache=1")
	f.Fuzz(func(t *testing.T, iqn, portals, opts, dev, lun, p, h, params string) {
		if s, err := ParseTargetArgs([]string{iqn, portals, opts}); err == nil {
			if !validName(s.IQN) {
				t.Fatalf("accepted IQN %q", s.IQN)
			}
			for _, o := range s.Options {
				if !validName(o[0]) || strings.ContainsAny(o[1], ",; \t") {
					t.Fatalf("accepted option %q", o)
				}
			}
		}
		if s, err := ParseLunArgs([]string{iqn, dev, lun, p, h, params}); err == nil {
			if strings.ContainsAny(s.Path, "; \t\n") || !validName(s.Device) || s.LUN < 0 {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}
