package scst

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzArgsWrittenBack drives SCSTLun's and SCSTTarget's arguments (the
// haresources lines of the SCST setups this agent replaces) and checks what
// FuzzParseArgs does not: an accepted spec parses the same when written
// back as arguments, and a refusal quotes the argument or list element it
// refuses, or gives the count.
//
// About 10 s on two cores.
// fuzz-execs: 200000
func FuzzArgsWrittenBack(f *testing.F) {
	f.Add(seedIQN, "VM_STORAGE_1", "0", "/dev/drbd0", "vdisk_fileio", "nv_cache=1", seedPortals, seedOptions, uint8(6))
	f.Add(seedIQN, "VM_STORAGE_2", "1", "/dev/drbd1", "vdisk_blockio", "", "", "", uint8(5))
	f.Add("iqn.2011-04.ru.domain:x", "D", "16383", "/srv/a.img", "vdisk_fileio", "none", "10.1.2?.*", "-", uint8(6))
	f.Add(seedIQN, "D", "0", "/d", "vdisk_fileio", ",none", ",-", ",-", uint8(2)) // "-" inside a list
	f.Add(seedIQN, "a:b", "-1", "rel/path", "vdisk_nullio", "filename=/x", "10.0.0.1/24", "enabled=1", uint8(6))
	f.Fuzz(func(t *testing.T, iqn, dev, lun, path, handler, params, portals, opts string, n uint8) {
		largs := []string{iqn, dev, lun, path, handler, params, "extra"}[:n%8]
		if s, err := ParseLunArgs(largs); err != nil {
			mustName(t, "SCSTLun", largs, err)
		} else {
			back := []string{s.IQN, s.Device, strconv.Itoa(s.LUN), s.Path, s.Handler, strings.Join(s.Params, ",")}
			again, err := ParseLunArgs(back)
			if err != nil {
				t.Fatalf("%q parsed as %+v, written back as %q: %v", largs, s, back, err)
			}
			if d := cmp.Diff(s, again); d != "" {
				t.Fatalf("%q written back as %q (-first +again)\n%s", largs, back, d)
			}
		}

		targs := []string{iqn, portals, opts, "extra"}[:n%5]
		if s, err := ParseTargetArgs(targs); err != nil {
			mustName(t, "SCSTTarget", targs, err)
		} else {
			var kv []string
			for _, o := range s.Options {
				kv = append(kv, o[0]+"="+o[1])
			}
			back := []string{s.IQN, strings.Join(s.Portals, ","), strings.Join(kv, ",")}
			again, err := ParseTargetArgs(back)
			if err != nil {
				t.Fatalf("%q parsed as %+v, written back as %q: %v", targs, s, back, err)
			}
			if d := cmp.Diff(s, again); d != "" {
				t.Fatalf("%q written back as %q (-first +again)\n%s", targs, back, d)
			}
		}
	})
}

// mustName fails unless err quotes one of args, or one element of a list
// argument, or gives the argument count.
func mustName(t *testing.T, who string, args []string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, fmt.Sprintf("got %d arguments", len(args))) {
		return
	}
	for _, a := range args {
		if strings.Contains(msg, strconv.Quote(a)) {
			return
		}
		for _, e := range splitList(a) {
			if strings.Contains(msg, strconv.Quote(e)) {
				return
			}
		}
	}
	t.Fatalf("%s %q: error %q names no argument", who, args, msg)
}
