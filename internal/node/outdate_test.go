package node

import "testing"

// The mapping dopd applies to drbdadm outdate's exit status (spec §9.2,
// confirmed by C-extras/dopd-exitcodes.tsv: r0->4, r5->3, r17->6, r99->20).
func TestOutdateCode(t *testing.T) {
	for exit, want := range map[int]int{0: 4, 5: 3, 17: 6, 10: 20, 1: 20, -1: 20, 137: 20} {
		if got := OutdateCode(exit); got != want {
			t.Errorf("OutdateCode(%d) = %d, want %d", exit, got, want)
		}
	}
}

func TestDRBDResourceNamesRefuseShellText(t *testing.T) {
	for _, ok := range []string{"r0", "iscsi.config", "iscsi.target.0", "data_1"} {
		if !drbdResource.MatchString(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "r0; reboot", "$(id)", "a b", "../x", "r0\n"} {
		if drbdResource.MatchString(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
