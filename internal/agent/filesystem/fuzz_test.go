package filesystem

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseSpec drives the Filesystem arguments (haresources
// Filesystem::DEVICE::MOUNTPOINT[::FSTYPE[::OPTIONS]]). An accepted spec
// must be one the agent can act on safely (an absolute, clean mountpoint
// that is not /, a non-empty device name) and must parse the same when
// written back as arguments; a refusal must quote the argument it refuses
// or give the count.
//
// About 10 s on two cores.
// fuzz-execs: 200000
func FuzzParseSpec(f *testing.F) {
	for _, a := range [][4]string{
		{"/dev/drbd0", "/srv/data", "ext3", ""}, // haresources.example
		{"/dev/drbd0", "/srv/data/", "ext4", "noatime,nodiratime"},
		{"-Ldata1", "/data1", "ext2", ""},
		{"-U1b4e28ba-2fa1", "/d", "xfs", ""},
		{"LABEL=web", "/d", "", ""},
		{"--uuid=abc", "/d", "ext4", ""},
		{"server:/data1", "/data1", "nfs", "ro"},
		{"/srv/img", "/mnt/img", "ext4", "loop,ro"},
		{"/dev/sdb1", "//", "ext4", ""},
		{"sdb1", "/d", "ext4", ""},
	} {
		f.Add(a[0], a[1], a[2], a[3], uint8(4))
	}
	f.Add("/dev/sdb1", "/data1", "", "", uint8(2))
	f.Add("/dev/sdb1", "", "", "", uint8(1))
	f.Fuzz(func(t *testing.T, dev, mp, fstype, opts string, n uint8) {
		args := []string{dev, mp, fstype, opts, "extra"}[:n%6]
		s, err := ParseSpec(args)
		if err != nil {
			msg := err.Error()
			named := strings.Contains(msg, fmt.Sprintf("got %d arguments", len(args))) ||
				msg == "refusing to manage / as a mountpoint" || msg == "empty device"
			for _, a := range args {
				named = named || strings.Contains(msg, strconv.Quote(a))
			}
			if !named {
				t.Fatalf("%q: error %q names no argument", args, msg)
			}
			return
		}
		switch {
		case !filepath.IsAbs(s.Mountpoint) || s.Mountpoint != filepath.Clean(s.Mountpoint) || s.Mountpoint == "/":
			t.Fatalf("%q: mountpoint %q accepted", args, s.Mountpoint)
		case s.Name == "":
			t.Fatalf("%q: empty device name accepted", args)
		case s.Kind == ByPath && (s.Name != filepath.Clean(s.Device) || !filepath.IsAbs(s.Name)):
			t.Fatalf("%q: device path %q accepted as %q", args, s.Device, s.Name)
		case strings.ContainsAny(s.FSType+s.Options, " \t\n"):
			t.Fatalf("%q: fstype %q, options %q accepted", args, s.FSType, s.Options)
		}
		again, err := ParseSpec([]string{s.Device, s.Mountpoint, s.FSType, s.Options})
		if err != nil {
			t.Fatalf("%q parsed as %+v, but not when written back: %v", args, s, err)
		}
		if d := cmp.Diff(s, again); d != "" {
			t.Fatalf("%q written back (-first +again)\n%s", args, d)
		}
	})
}
