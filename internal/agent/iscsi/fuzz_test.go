package iscsi

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseArgs drives iSCSITarget's and iSCSILogicalUnit's arguments
// (haresources iSCSITarget::IQN[::PORTALS[::TID[::INITIATORS]]] and
// iSCSILogicalUnit::IQN::LUN::PATH) from the same strings. An accepted spec
// must hold only what the backends can take and parse the same when written
// back as arguments; a refusal must quote the argument (or list element) it
// refuses, or give the count.
//
// About 10 s on two cores.
// fuzz-execs: 200000
func FuzzParseArgs(f *testing.F) {
	const iqn = "iqn.2011-08.local.demo:storage.disk.0"
	f.Add(iqn, "", "", "", "1", "/dev/drbd1", uint8(1))
	f.Add(iqn, "0.0.0.0:3260", "2", "10.0.0.0/8,iqn.1993-08.org.debian:01:abc", "0", "/srv/a file.img", uint8(4))
	f.Add("iqn.2024-01.test:t1", "-", "-", "ALL", "16383", "/tmp/tgtexp/disk.img", uint8(4))
	f.Add("eui.02004567A425678D", "10.0.0.1:3260", "0", "a b\tc", "16384", "dev/x", uint8(3))
	f.Add(iqn, ",-", "", ",-", "1", "/d", uint8(4)) // "-" inside a list
	f.Add("naa.52004567BA64678D", "0.0.0.0", "x", "", "-1", "/a,b", uint8(5))
	f.Fuzz(func(t *testing.T, iqn, portals, tid, initiators, lun, path string, n uint8) {
		targs := []string{iqn, portals, tid, initiators, "extra"}[:n%6]
		if s, err := ParseTargetArgs(targs); err != nil {
			mustName(t, "iSCSITarget", targs, err)
		} else {
			if !validIQN(s.IQN) || s.TID < 0 || len(s.Initiators) == 0 {
				t.Fatalf("%q accepted as %+v", targs, s)
			}
			for _, i := range s.Initiators {
				if i == "" || strings.ContainsAny(i, ", \t") {
					t.Fatalf("%q: initiator %q accepted", targs, i)
				}
			}
			tidArg := "-"
			if s.TID != 0 {
				tidArg = strconv.Itoa(s.TID)
			}
			back := []string{s.IQN, "", tidArg, strings.Join(s.Initiators, ",")}
			again, err := ParseTargetArgs(back)
			if err != nil {
				t.Fatalf("%q parsed as %+v, written back as %q: %v", targs, s, back, err)
			}
			if d := cmp.Diff(s, again); d != "" {
				t.Fatalf("%q written back as %q (-first +again)\n%s", targs, back, d)
			}
		}

		largs := []string{iqn, lun, path, "extra"}[:n%5]
		if s, err := ParseLUArgs(largs); err != nil {
			mustName(t, "iSCSILogicalUnit", largs, err)
		} else {
			if !validIQN(s.IQN) || s.LUN < 0 || s.LUN > 16383 || !strings.HasPrefix(s.Path, "/") || strings.ContainsAny(s.Path, ",\n") {
				t.Fatalf("%q accepted as %+v", largs, s)
			}
			back := []string{s.IQN, strconv.Itoa(s.LUN), s.Path}
			again, err := ParseLUArgs(back)
			if err != nil || again != s {
				t.Fatalf("%q parsed as %+v, written back as %q: %+v, %v", largs, s, back, again, err)
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
