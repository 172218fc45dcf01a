package iscsi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tgtShow is `tgtadm --lld iscsi --op show --mode target` from tgt
// 1.0.85 (Debian 12), one target with a file LUN, bound to ALL.
const tgtShow = `Target 1: iqn.2024-01.test:t1
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.1993-08.org.debian:01:abc alias: client
            Connection: 0
                IP Address: 10.0.0.9
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            SCSI ID: IET     00010001
            SCSI SN: beaf11
            Size: 10 MB, Block size: 512
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: rdwr
            Backing store path: /tmp/tgtexp/disk.img
            Backing store flags: 
    Account information:
    ACL information:
        ALL
Target 2: iqn.2024-01.test:b
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
    ACL information:
        10.0.0.0/8
`

func TestParseTgtShow(t *testing.T) {
	got, err := ParseTgtShow(tgtShow)
	if err != nil {
		t.Fatal(err)
	}
	want := []TgtTarget{
		{TID: 1, Name: "iqn.2024-01.test:t1", State: "ready", Nexuses: 1,
			LUNs: []TgtLUN{{0, "controller", "None"}, {1, "disk", "/tmp/tgtexp/disk.img"}}, ACL: []string{"ALL"}},
		{TID: 2, Name: "iqn.2024-01.test:b", State: "ready",
			LUNs: []TgtLUN{{0, "controller", "None"}}, ACL: []string{"10.0.0.0/8"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	if got, err := ParseTgtShow(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{
		"    LUN information:\n",
		"Target x: iqn.a:b\n",
		"Target 0: iqn.a:b\n",
		"Target 1:\n",
		"tgtadm: can't send the request\n",
		"Target 1: iqn.a:b\n    LUN information:\n        LUN: -1\n",
	} {
		if _, err := ParseTgtShow(bad); err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("%q: error %v, want one naming the line", bad, err)
		}
	}
}

const ietVolume = "tid:1 name:iqn.2011-08.local.demo:storage.disk.0\n" +
	"\tlun:0 state:0 iotype:blockio iomode:wt blocks:104857536 blocksize:512 path:/dev/drbd1\n" +
	"\tlun:1 state:0 iotype:fileio iomode:wt blocks:2048 blocksize:512 path:/srv/a file.img\n" +
	"tid:2 name:iqn.2011-08.local.demo:empty\n"

func TestParseIetVolume(t *testing.T) {
	got, err := ParseIetVolume(ietVolume)
	if err != nil {
		t.Fatal(err)
	}
	want := []IetTarget{
		{TID: 1, Name: "iqn.2011-08.local.demo:storage.disk.0", LUNs: []IetLUN{
			{0, "blockio", "/dev/drbd1"}, {1, "fileio", "/srv/a file.img"}}},
		{TID: 2, Name: "iqn.2011-08.local.demo:empty"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	for _, bad := range []string{"\tlun:0 path:/x\n", "tid:x name:a\n", "tid:1\n", "tid:1 name:a\n\tlun:q path:/x\n", "garbage\n"} {
		if _, err := ParseIetVolume(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTgtConfTargets(t *testing.T) {
	dir := t.TempDir()
	confd := filepath.Join(dir, "conf.d")
	os.Mkdir(confd, 0o755)
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	main := filepath.Join(dir, "targets.conf")
	write(main, "# Debian's default\ndefault-driver iscsi\ninclude conf.d/*.conf\n<target iqn.2024-01.test:main>\n  backing-store /dev/drbd1\n</target>\n")
	write(filepath.Join(confd, "b.conf"), "<Target \"iqn.2024-01.test:b\">\n</Target>\n")
	write(filepath.Join(confd, "a.conf"), "<target iqn.2024-01.test:a>\n  backing-store /x\n</target>\n")
	write(filepath.Join(confd, "ignored.txt"), "<target iqn.2024-01.test:nope>\n")
	got, err := TgtConfTargets(main)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"iqn.2024-01.test:a", "iqn.2024-01.test:b", "iqn.2024-01.test:main"}, got); d != "" {
		t.Fatalf("-want +got:\n%s", d)
	}
	write(main, "<target>\n")
	if _, err := TgtConfTargets(main); err == nil || !strings.Contains(err.Error(), main+":1:") {
		t.Fatalf("bad target line: %v", err)
	}
	write(main, "include "+main+"\n")
	if _, err := TgtConfTargets(main); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Fatalf("include loop: %v", err)
	}
}

func TestIetConfTargets(t *testing.T) {
	got, err := IetConfTargets("ietd.conf", "Target iqn.2011-08.local.demo:storage.disk.0\n# Target iqn.x:commented\nLun 0 Path=/dev/drbd1,Type=blockio\n  target iqn.2011-08.local.demo:two\n")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"iqn.2011-08.local.demo:storage.disk.0", "iqn.2011-08.local.demo:two"}, got); d != "" {
		t.Fatal(d)
	}
	if _, err := IetConfTargets("ietd.conf", "\nTarget bad name\n"); err == nil || !strings.Contains(err.Error(), "ietd.conf:2:") {
		t.Fatalf("bad Target line: %v", err)
	}
}

func FuzzParseTgtShow(f *testing.F) {
	f.Add(tgtShow)
	f.Add("Target 1: iqn.a:b\n    LUN information:\n        LUN: 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTgtShow(s)
		if err != nil {
			return
		}
		for _, x := range ts {
			if x.TID <= 0 || x.Name == "" {
				t.Fatalf("accepted target %+v", x)
			}
		}
	})
}

func FuzzParseIetVolume(f *testing.F) {
	f.Add(ietVolume)
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseIetVolume(s)
		if err != nil {
			return
		}
		for _, x := range ts {
			if x.TID <= 0 || x.Name == "" {
				t.Fatalf("accepted target %+v", x)
			}
		}
	})
}

func FuzzParseTgtConf(f *testing.F) {
	f.Add("<target iqn.2024-01.test:main>\n  backing-store /dev/drbd1\n</target>\n")
	f.Add("include /nonexistent/*.conf\n<target x>\n")
	f.Fuzz(func(t *testing.T, s string) {
		var names []string
		// Depth at the limit: includes are not followed, only parsed.
		if err := parseTgtConf("f.conf", s, maxIncludeDepth+1, &names); err != nil {
			return
		}
		for _, n := range names {
			if n == "" || strings.ContainsAny(n, " \t<>") {
				t.Fatalf("accepted name %q", n)
			}
		}
	})
}

// TestConfigControlPortRange: a TGT_CONTROL_PORT tgtd would refuse is caught
// when the agent reads its environment, not at takeover time by tgtd.
func TestConfigControlPortRange(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"32767", 32767, true},
		{"32768", 0, false},
		{"39564", 0, false},
		{"-1", 0, false},
		{"x", 0, false},
	} {
		c, err := ConfigFromEnv(func(k string) string {
			if k == "TGT_CONTROL_PORT" {
				return tc.val
			}
			return ""
		})
		if (err == nil) != tc.ok {
			t.Errorf("TGT_CONTROL_PORT=%q: err = %v, want ok=%v", tc.val, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "TGT_CONTROL_PORT") {
			t.Errorf("TGT_CONTROL_PORT=%q: error %q does not name the variable", tc.val, err)
		}
		if tc.ok && c.ControlPort != tc.want {
			t.Errorf("TGT_CONTROL_PORT=%q: port %d, want %d", tc.val, c.ControlPort, tc.want)
		}
	}
}
