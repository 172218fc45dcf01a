package script

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/haresources"
)

func TestStartGroupLeftToRightStopGroupRightToLeft(t *testing.T) {
	tb := newTestbed(t, "a", "b", "c")
	g := group("pa1", "a", "b::x::y", "c")
	ctx := context.Background()

	if err := tb.runner.StartGroup(ctx, g); err != nil {
		t.Fatalf("StartGroup: %v", err)
	}
	if err := tb.runner.StopGroup(ctx, g); err != nil {
		t.Fatalf("StopGroup: %v", err)
	}
	want := []string{
		"a status", "a start",
		"b x y status", "b x y start",
		"c status", "c start",
		"c stop", "b x y stop", "a stop",
	}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for _, n := range []string{"a", "b", "c"} {
		if tb.isUp(n) {
			t.Errorf("%s still up after StopGroup", n)
		}
	}
	// Heartbeat's own lines, as in the A-main capture.
	wantLog := []string{
		"info: Acquiring resource group: pa1 a b::x::y c",
		"info: Running " + filepath.Join(tb.dir, "a") + "  start", // no args: two blanks, as Heartbeat
		"info: Running " + filepath.Join(tb.dir, "b") + " x y start",
		"info: Running " + filepath.Join(tb.dir, "c") + "  start",
		"info: Releasing resource group: pa1 a b::x::y c",
		"info: Running " + filepath.Join(tb.dir, "c") + "  stop",
		"info: Running " + filepath.Join(tb.dir, "b") + " x y stop",
		"info: Running " + filepath.Join(tb.dir, "a") + "  stop",
	}
	if diff := cmp.Diff(wantLog, tb.log.ofEntity(EntityResourceManager, false)); diff != "" {
		t.Errorf("ResourceManager log (-want +got):\n%s", diff)
	}
	if !tb.log.contains(LevelDebug, filepath.Join(tb.dir, "b")+" x y start done. RC=0") {
		t.Error("no debug line with the return code")
	}
}

func TestStartGroupSkipsRunningResources(t *testing.T) {
	tb := newTestbed(t, "a", "b", "c")
	tb.setState("b", ".up", "")
	if err := tb.runner.StartGroup(context.Background(), group("pa1", "a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	want := []string{"a status", "a start", "b status", "c status", "c start"}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// Unsure means running: a script that cannot tell is not started a second time.
func TestStartGroupSkipsMayBeRunning(t *testing.T) {
	tb := newTestbed(t, "a")
	writeScript(t, tb.dir, "drbdlike", `for a; do action=$a; done
echo "drbdlike $*" >> "$STATE/journal"
[ "$action" = status ] && echo "cannot determine status, may be running (Unknown)" && exit 4
exit 0
`)
	if err := tb.runner.StartGroup(context.Background(), group("pa1", "drbdlike::r0", "a")); err != nil {
		t.Fatal(err)
	}
	want := []string{"drbdlike r0 status", "a status", "a start"}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestStartFailureReleasesGroupInReverse(t *testing.T) {
	tb := newTestbed(t, "a", "b", "c", "d")
	tb.setState("c", ".failstart", "")
	err := tb.runner.StartGroup(context.Background(), group("pa1", "a", "b", "c::arg", "d"))
	var sf *StartFailure
	if !errors.As(err, &sf) {
		t.Fatalf("got %v, want *StartFailure", err)
	}
	if sf.Resource != "c::arg" || sf.ExitCode != 1 || sf.Group != "a" || sf.Release != nil {
		t.Errorf("StartFailure = %+v", sf)
	}
	// As ResourceManager: the whole group is released, right to left.
	want := []string{
		"a status", "a start", "b status", "b start", "c arg status", "c arg start",
		"d stop", "c arg stop", "b stop", "a stop",
	}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for _, n := range []string{"a", "b"} {
		if tb.isUp(n) {
			t.Errorf("%s left running after a failed group start", n)
		}
	}
	for _, l := range []struct{ level, text string }{
		{LevelError, "Return code 1 from " + filepath.Join(tb.dir, "c")},
		{LevelCrit, "Giving up resources due to failure of c::arg"},
		{LevelInfo, "Releasing resource group: pa1 a b c::arg d"},
	} {
		if !tb.log.contains(l.level, l.text) {
			t.Errorf("missing log %s: %s; have:\n%s", l.level, l.text, fmtLines(tb.log.ofEntity(EntityResourceManager, false)))
		}
	}
	// The script's stderr is logged under its own name.
	if !tb.log.contains(LevelDebug, "start of c failed") {
		t.Error("script stderr not logged")
	}
}

func TestStopRetriesThroughClockThenSucceeds(t *testing.T) {
	tb := newTestbed(t, "a", "b")
	clk := newSteppedClock()
	tb.runner.Clock = clk
	tb.setState("a", ".up", "")
	tb.setState("b", ".up", "")
	tb.setState("b", ".failstop", "3")
	g := group("pa1", "a", "b")

	waits, err := clk.drive(t, func() error { return tb.runner.StopGroup(context.Background(), g) })
	if err != nil {
		t.Fatalf("StopGroup: %v", err)
	}
	if diff := cmp.Diff([]time.Duration{time.Second, time.Second, time.Second}, waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	want := []string{"b stop", "b stop", "b stop", "b stop", "a stop"}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	retries := 0
	for _, l := range tb.log.ofEntity(EntityResourceManager, false) {
		if l == "info: Retrying failed stop operation [b]" {
			retries++
		}
	}
	if retries != 3 {
		t.Errorf("logged %d retries, want 3", retries)
	}
}

func TestStopFailureWhenStatusSaysRunning(t *testing.T) {
	tb := newTestbed(t, "a", "b", "c")
	clk := newSteppedClock()
	tb.runner.Clock = clk
	tb.runner.StopRetries = 4
	tb.runner.RetryInterval = 250 * time.Millisecond
	for _, n := range []string{"a", "b", "c"} {
		tb.setState(n, ".up", "")
	}
	tb.setState("b", ".failstop", "999")

	waits, err := clk.drive(t, func() error {
		return tb.runner.StopGroup(context.Background(), group("pa1", "a", "b", "c"))
	})
	var sf *StopFailure
	if !errors.As(err, &sf) {
		t.Fatalf("got %v, want *StopFailure", err)
	}
	if sf.Resource != "b" || sf.Attempts != 5 || sf.ExitCode != 1 || sf.StatusErr != nil {
		t.Errorf("StopFailure = %+v", sf)
	}
	if len(waits) != 4 || waits[0] != 250*time.Millisecond {
		t.Errorf("waits = %v, want 4 × 250ms", waits)
	}
	// Heartbeat reboots here; nothing left of b is touched.
	want := []string{"c stop", "b stop", "b stop", "b stop", "b stop", "b stop", "b status"}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if !tb.isUp("a") {
		t.Error("a was stopped after b's stop failure")
	}
	// Heartbeat's line, once for the event: the executor is the one place
	// that logs it (rm adds its own explanation, not this line again).
	if n := tb.log.count(LevelCrit, "Resource STOP failure. Reboot required!"); n != 1 {
		t.Errorf("CRIT line logged %d times, want once", n)
	}
}

func TestStopFailureWithStatusStoppedOnlyWarns(t *testing.T) {
	tb := newTestbed(t, "a", "b")
	clk := newSteppedClock()
	tb.runner.Clock = clk
	tb.runner.StopRetries = 2
	tb.setState("a", ".up", "")
	tb.setState("b", ".failstop", "999") // not up: a non-LSB stop that fails when stopped

	_, err := clk.drive(t, func() error { return tb.runner.StopGroup(context.Background(), group("pa1", "a", "b")) })
	if err != nil {
		t.Fatalf("StopGroup: %v", err)
	}
	want := []string{"b stop", "b stop", "b stop", "b status", "a stop"}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for _, l := range []struct{ level, text string }{
		{LevelError, "Resource script for b probably not LSB-compliant."},
		{LevelWarn, "it (b) MUST succeed on a stop when already stopped"},
		{LevelWarn, "Machine reboot narrowly avoided!"},
	} {
		if !tb.log.contains(l.level, l.text) {
			t.Errorf("missing %s: %s", l.level, l.text)
		}
	}
	if tb.log.contains(LevelCrit, "Resource STOP failure. Reboot required!") {
		t.Error("CRIT logged although status said stopped")
	}
}

func TestStopRetriesEndWithContext(t *testing.T) {
	tb := newTestbed(t, "a")
	clk := newSteppedClock()
	tb.runner.Clock = clk
	tb.runner.StopRetries = -1 // for ever, as HA_STOPRETRYMAX=0
	tb.setState("a", ".up", "")
	tb.setState("a", ".failstop", "999")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tb.runner.StopGroup(ctx, group("pa1", "a")) }()
	for i := 0; i < 20; i++ { // 20 retries prove "more than the default 10"
		clk.Advance(<-clk.waits)
	}
	<-clk.waits // the 21st wait: cancel instead of advancing
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := len(tb.journal()); n != 21 {
		t.Errorf("%d stop calls, want 21", n)
	}
}

func TestMissingScriptFailsStartButDoesNotBlockRelease(t *testing.T) {
	tb := newTestbed(t, "a")
	clk := newSteppedClock()
	tb.runner.Clock = clk
	_, err := clk.drive(t, func() error {
		return tb.runner.StartGroup(context.Background(), group("pa1", "a", "nosuch::x"))
	})
	var sf *StartFailure
	if !errors.As(err, &sf) || sf.Resource != "nosuch::x" {
		t.Fatalf("got %v, want *StartFailure for nosuch::x", err)
	}
	var se *haresources.ScriptError
	if !errors.As(err, &se) {
		t.Errorf("%v does not wrap a *haresources.ScriptError", err)
	}
	want := []string{"a status", "a start", "a stop"}
	if diff := cmp.Diff(want, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if !tb.log.contains(LevelError, "Cannot locate resource script nosuch ("+filepath.Join(tb.dir, "nosuch")+": does not exist)") {
		t.Errorf("no Cannot locate line; have:\n%s", fmtLines(tb.log.ofEntity(EntityResourceManager, false)))
	}
}

// A status that cannot be run to completion is not "stopped".
func TestStatusTimeoutBlocksStart(t *testing.T) {
	tb := newTestbed(t, "a")
	writeScript(t, tb.dir, "hang", `for a; do action=$a; done
[ "$action" = status ] && exec sleep 5
exit 0
`)
	tb.runner.Timeout = 100 * time.Millisecond
	tb.runner.KillGrace = 100 * time.Millisecond
	err := tb.runner.StartGroup(context.Background(), group("pa1", "a", "hang"))
	var sf *StartFailure
	if !errors.As(err, &sf) || sf.Resource != "hang" || sf.Err == nil {
		t.Fatalf("got %v, want *StartFailure for hang with Err", err)
	}
	if diff := cmp.Diff([]string{"a status", "a start", "a stop"}, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// A script's "ERROR: ..." and "WARNING: ..." lines reach the log at that
// level (an agent's reason for a failed start must not hide in the debug
// log); other output stays at debug.
func TestOutputLevel(t *testing.T) {
	for line, want := range map[string][2]string{
		"ERROR: IPaddr 10.0.0.5: interface eth9 is down": {LevelError, "IPaddr 10.0.0.5: interface eth9 is down"},
		"WARNING: 02:00:00:00:00:01 still answered":      {LevelWarn, "02:00:00:00:00:01 still answered"},
		"INFO: added 10.0.0.5/24":                        {LevelDebug, "INFO: added 10.0.0.5/24"},
		"running":                                        {LevelDebug, "running"},
		"ERRORS are fine":                                {LevelDebug, "ERRORS are fine"},
	} {
		if lvl, text := outputLevel(line); lvl != want[0] || text != want[1] {
			t.Errorf("outputLevel(%q) = %q, %q; want %q, %q", line, lvl, text, want[0], want[1])
		}
	}
}
