package script

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heartbeatd/haresources"
)

// RunOp writes Heartbeat's ResourceManager lines around a start or stop,
// and none around a status.
func TestRunOpLogsLikeResourceManager(t *testing.T) {
	tb := newTestbed(t, "a", "b")
	ctx := context.Background()
	a := haresources.Resource{Script: "a", Raw: "a"}
	b := haresources.Resource{Script: "b", Args: []string{"x", "y"}, Raw: "b::x::y"}
	tb.runner.RunOp(ctx, a, "status", nil)
	if out := tb.runner.RunOp(ctx, a, "start", nil); out.Failed() {
		t.Fatalf("start a: %+v", out)
	}
	tb.runner.RunOp(ctx, b, "stop", nil)
	if diff := cmp.Diff([]string{"a status", "a start", "b x y stop"}, tb.journal()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	want := []string{
		"info: Running " + filepath.Join(tb.dir, "a") + "  start", // no args: two blanks, as Heartbeat
		"info: Running " + filepath.Join(tb.dir, "b") + " x y stop",
	}
	if diff := cmp.Diff(want, tb.log.ofEntity(EntityResourceManager, false)); diff != "" {
		t.Errorf("ResourceManager log (-want +got):\n%s", diff)
	}
	if !tb.log.contains(LevelDebug, filepath.Join(tb.dir, "b")+" x y stop done. RC=0") {
		t.Error("no debug line with the return code")
	}
}

func TestRunOpFailureAndMissingScript(t *testing.T) {
	tb := newTestbed(t, "a")
	ctx := context.Background()
	tb.setState("a", ".failstart", "")
	out := tb.runner.RunOp(ctx, haresources.Resource{Script: "a", Raw: "a"}, "start", nil)
	if out.Err != nil || out.ExitCode != 1 {
		t.Fatalf("start: %+v", out)
	}
	if !tb.log.contains(LevelError, "Return code 1 from "+filepath.Join(tb.dir, "a")) {
		t.Errorf("no return-code line:\n%s", fmtLines(tb.log.ofEntity(EntityResourceManager, true)))
	}
	for _, op := range []string{"status", "stop"} {
		out = tb.runner.RunOp(ctx, haresources.Resource{Script: "nosuch", Raw: "nosuch"}, op, nil)
		if !IsMissing(out.Err) || out.ExitCode != -1 {
			t.Errorf("%s of a missing script: %+v", op, out)
		}
	}
	n := 0
	for _, l := range tb.log.ofEntity(EntityResourceManager, false) {
		if strings.HasPrefix(l, "ERROR: Cannot locate resource script nosuch (") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d 'Cannot locate' lines, want 2:\n%s", n, fmtLines(tb.log.ofEntity(EntityResourceManager, true)))
	}
}

// A script's "ERROR: ..." and "WARNING: ..." lines reach the log at that
// level (an agent's reason for a failed start must not hide in the debug
// log); other output stays at debug.
func TestOutputLevel(t *testing.T) {
	for line, want := range map[string][2]string{
		"ERROR: IPaddr 10.0.0.5: interface eth9 is down": {"ERROR", "IPaddr 10.0.0.5: interface eth9 is down"},
		"WARNING: 02:00:00:00:00:01 still answered":      {"WARN", "02:00:00:00:00:01 still answered"},
		"INFO: added 10.0.0.5/24":                        {"debug", "INFO: added 10.0.0.5/24"},
		"running":                                        {"debug", "running"},
		"ERRORS are fine":                                {"debug", "ERRORS are fine"},
	} {
		if lvl, text := outputLevel(line); string(lvl) != want[0] || text != want[1] {
			t.Errorf("outputLevel(%q) = %q, %q; want %q, %q", line, lvl, text, want[0], want[1])
		}
	}
}
