package clstatus

import (
	"testing"
	"time"
)

// A failed start shows under rscstatus, after the unchanged first line: the
// attempts made of the most, and when the next step is due, or that the
// group stays stopped.
func TestRscstatusShowsFailedStarts(t *testing.T) {
	s := snapshotA()
	s.RscStatus = "none"
	s.FailedStarts = []FailedStart{
		{Key: "10.0.0.5/24", Attempts: 1, Max: 4, NextIn: 28400 * time.Millisecond},
		{Key: "drbddisk::r0", Attempts: 4, Max: 4, GaveUp: true},
	}
	want := "none\n" +
		"failed: 10.0.0.5/24: start attempt 1 of 4 failed; next step in 28s\n" +
		"failed: drbddisk::r0: start failed 4 of 4 times; it stays stopped until fixed and taken over (hb_takeover) or heartbeatd restarts\n"
	if r := Run([]string{"rscstatus"}, s); r.Stdout != want || r.Code != OK {
		t.Fatalf("rscstatus with failed starts: code %d\n%s\nwant:\n%s", r.Code, r.Stdout, want)
	}
	s.FailedStarts = nil
	if r := Run([]string{"rscstatus"}, s); r.Stdout != "none\n" {
		t.Fatalf("rscstatus without failed starts: %q", r.Stdout)
	}
}
