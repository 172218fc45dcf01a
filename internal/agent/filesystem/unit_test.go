package filesystem

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Lines from a real Debian 12 host and from this test machine.
const realMountInfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
65 44 7:0 / /tmp/mt rw,relatime - ext4 /dev/loop0 rw
70 27 0:45 / /srv/my\040data rw,nosuid shared:30 master:2 - nfs4 server:/exp\040ort rw,vers=4.2
71 27 8:17 /sub /mnt/back\134slash rw - ext2 /dev/sdb1 rw
`

func TestParseMountInfo(t *testing.T) {
	ms, err := ParseMountInfo([]byte(realMountInfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{ID: 22, Parent: 27, Major: 0, Minor: 21, Root: "/", Point: "/proc", Options: "rw,relatime", FSType: "proc", Source: "proc", SuperOptions: "rw"},
		{ID: 27, Parent: 1, Major: 254, Minor: 1, Root: "/", Point: "/", Options: "rw,relatime", FSType: "ext4", Source: "/dev/vda1", SuperOptions: "rw,errors=remount-ro"},
		{ID: 65, Parent: 44, Major: 7, Minor: 0, Root: "/", Point: "/tmp/mt", Options: "rw,relatime", FSType: "ext4", Source: "/dev/loop0", SuperOptions: "rw"},
		{ID: 70, Parent: 27, Major: 0, Minor: 45, Root: "/", Point: "/srv/my data", Options: "rw,nosuid", FSType: "nfs4", Source: "server:/exp ort", SuperOptions: "rw,vers=4.2"},
		{ID: 71, Parent: 27, Major: 8, Minor: 17, Root: "/sub", Point: `/mnt/back\slash`, Options: "rw", FSType: "ext2", Source: "/dev/sdb1", SuperOptions: "rw"},
	}
	if d := cmp.Diff(want, ms); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParseMountInfoErrors(t *testing.T) {
	for _, bad := range []string{
		"22 27 0:21 / /proc rw,relatime proc proc rw",   // no separator
		"x 27 0:21 / /proc rw - proc proc rw",           // id
		"22 27 021 / /proc rw - proc proc rw",           // dev
		"22 27 0:21 / /pr\\04 rw - proc proc rw",        // truncated escape
		"22 27 0:21 / /pr\\999x rw - proc proc rw",      // not octal
		"22 27 0:21 / /proc rw - proc proc rw extra",    // trailing field
		"22 27 0:99999999999 / /proc rw - proc proc rw", // minor range
	} {
		if _, err := ParseMountInfo([]byte("1 1 0:1 / / rw - ext4 /dev/x rw\n" + bad + "\n")); err == nil {
			t.Errorf("%q parsed", bad)
		} else if !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v does not name line 2", bad, err)
		}
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add([]byte(realMountInfo))
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("1 2 3:4 / /a\\040b rw - t s o\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseMountInfo(data)
		if err != nil {
			return
		}
		// Whatever parses must survive the kernel's escaping again.
		for _, m := range ms {
			line := fmt.Sprintf("%d %d %d:%d %s %s %s - %s %s %s", m.ID, m.Parent, m.Major, m.Minor,
				escape(m.Root), escape(m.Point), m.Options, escape(m.FSType), escape(m.Source), m.SuperOptions)
			again, err := ParseMountInfo([]byte(line))
			if err != nil {
				t.Fatalf("re-parse %q: %v", line, err)
			}
			if d := cmp.Diff([]Mount{m}, again); d != "" {
				t.Fatalf("round trip of %q (-want +got)\n%s", line, d)
			}
		}
	})
}

// escape mangles like the kernel's show_mountinfo (space, tab, newline,
// backslash as octal).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		args []string
		want Spec
		err  string
	}{
		{args: []string{"/dev/sdb1", "/data1", "ext2"},
			want: Spec{Device: "/dev/sdb1", Kind: ByPath, Name: "/dev/sdb1", Mountpoint: "/data1", FSType: "ext2"}},
		{args: []string{"/dev/drbd0", "/srv/data/", "ext4", "noatime,nodiratime"},
			want: Spec{Device: "/dev/drbd0", Kind: ByPath, Name: "/dev/drbd0", Mountpoint: "/srv/data", FSType: "ext4", Options: "noatime,nodiratime"}},
		{args: []string{"-Ldata1", "/data1", "ext2"},
			want: Spec{Device: "-Ldata1", Kind: ByLabel, Name: "data1", Mountpoint: "/data1", FSType: "ext2"}},
		{args: []string{"-U1b4e28ba-2fa1", "/d", "xfs"},
			want: Spec{Device: "-U1b4e28ba-2fa1", Kind: ByUUID, Name: "1b4e28ba-2fa1", Mountpoint: "/d", FSType: "xfs"}},
		{args: []string{"LABEL=web", "/d"},
			want: Spec{Device: "LABEL=web", Kind: ByLabel, Name: "web", Mountpoint: "/d"}},
		{args: []string{"--uuid=abc", "/d", "ext4"},
			want: Spec{Device: "--uuid=abc", Kind: ByUUID, Name: "abc", Mountpoint: "/d", FSType: "ext4"}},
		{args: []string{"server:/data1", "/data1", "nfs", "ro"},
			want: Spec{Device: "server:/data1", Kind: BySource, Name: "server:/data1", Mountpoint: "/data1", FSType: "nfs", Options: "ro"}},
		{args: []string{"/dev/sdb1"}, err: "want DEVICE MOUNTPOINT"},
		{args: []string{"a", "b", "c", "d", "e"}, err: "want DEVICE MOUNTPOINT"},
		{args: []string{"/dev/sdb1", "data"}, err: "not an absolute path"},
		{args: []string{"/dev/sdb1", "/"}, err: "refusing to manage /"},
		{args: []string{"/dev/sdb1", "//"}, err: "refusing to manage /"},
		{args: []string{"-L", "/d", "ext4"}, err: "empty label"},
		{args: []string{"-x", "/d", "ext4"}, err: "unknown option"},
		{args: []string{"sdb1", "/d", "ext4"}, err: "not an absolute path"},
		{args: []string{"", "/d", "ext4"}, err: "empty device"},
	}
	for _, tc := range tests {
		got, err := ParseSpec(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q (-want +got)\n%s", tc.args, d)
		}
	}
}

func TestNeedsFsck(t *testing.T) {
	for fstype, want := range map[string]bool{"ext2": true, "": true, "minix": true, "ext3": false, "ext4": false, "xfs": false, "btrfs": false, "vfat": false} {
		s, err := ParseSpec([]string{"/dev/sdb1", "/d", fstype})
		if err != nil {
			t.Fatal(err)
		}
		if s.needsFsck() != want {
			t.Errorf("%q: needsFsck %v", fstype, !want)
		}
	}
}

// fakeProc builds a /proc tree of links and text files.
func fakeProc(t *testing.T, procs map[int]map[string]string) string {
	root := t.TempDir()
	for pid, files := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		for name, v := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if target, ok := strings.CutPrefix(v, "->"); ok {
				if err := os.Symlink(target, p); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.MkdirAll(filepath.Join(root, "self"), 0o755) // not a pid: ignored
	return root
}

func TestFindHolders(t *testing.T) {
	root := fakeProc(t, map[int]map[string]string{
		100: {"comm": "bash\n", "cwd": "->/srv/data/sub", "root": "->/"},
		101: {"comm": "other\n", "cwd": "->/srv/database", "root": "->/"}, // prefix, not under
		102: {"comm": "db\n", "cwd": "->/", "fd/0": "->/dev/null", "fd/3": "->/srv/data/f (deleted)"},
		103: {"comm": "mapper\n", "cwd": "->/", "maps": "7f00-7f01 r-xp 00000000 fd:01 12 /usr/lib/x.so\n7f02-7f03 r--p 00000000 07:00 13 /elsewhere/lib.so\n"},
		104: {"comm": "viafd\n", "cwd": "->/", "fd/5": "->/some/bind/path", "fdinfo/5": "pos:\t0\nflags:\t02\nmnt_id:\t65\n"},
		105: {"comm": "self\n", "cwd": "->/srv/data"},
		106: {"comm": "chroot\n", "cwd": "->/", "root": "->/srv/data/jail"},
		107: {"comm": "anon\n", "cwd": "->/", "maps": "7f00-7f01 rw-p 00000000 00:00 0 \n"},
	})
	target := busyTarget{points: []string{"/srv/data"}, mountIDs: map[int]bool{65: true}, devs: map[[2]uint32]bool{{7, 0}: true}}
	got, err := findHolders(root, target, map[int]bool{105: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Holder{
		{PID: 100, Comm: "bash", Why: "cwd /srv/data/sub"},
		{PID: 102, Comm: "db", Why: "fd 3 /srv/data/f (deleted)"},
		{PID: 103, Comm: "mapper", Why: "maps /elsewhere/lib.so"},
		{PID: 104, Comm: "viafd", Why: "fd 5 on mount 65"},
		{PID: 106, Comm: "chroot", Why: "root /srv/data/jail"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if _, err := findHolders(filepath.Join(root, "missing"), target, nil); err == nil {
		t.Error("no error for a missing proc root")
	}
}

func TestUnmountTargetsDeepestFirst(t *testing.T) {
	ms, err := ParseMountInfo([]byte(`27 1 254:1 / / rw - ext4 /dev/vda1 rw
80 27 7:0 / /srv/data rw - ext4 /dev/loop0 rw
81 80 0:50 / /srv/data/tmp rw - tmpfs tmpfs rw
82 81 0:51 / /srv/data/tmp/x rw - tmpfs tmpfs rw
83 27 7:0 /sub /var/bind rw - ext4 /dev/loop0 rw
84 27 0:52 / /srv/database rw - tmpfs tmpfs rw
`))
	if err != nil {
		t.Fatal(err)
	}
	v := view{all: ms, ours: &ms[1], others: []Mount{ms[4]}}
	var got []string
	for _, m := range unmountTargets(v) {
		got = append(got, m.Point)
	}
	want := []string{"/srv/data/tmp/x", "/srv/data/tmp", "/var/bind", "/srv/data"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}
