package script

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"heartbeatd/haresources"
)

func TestRunPassesArgsDirectlyWithActionLast(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "args", `for a; do printf '<%s>\n' "$a"; done`)
	r := &Runner{Dirs: []string{dir}}
	// Shell metacharacters must arrive verbatim: nothing is run through a shell.
	res := haresources.Resource{Script: "args", Args: []string{"10.0.0.5/24/eth0", "$(touch${IFS}/pwned)", ";rm", "a b", ""}}
	out := r.Run(context.Background(), res, "start")
	if out.Err != nil || out.ExitCode != 0 {
		t.Fatalf("Run: %+v", out)
	}
	// Blanks split an argument and empty ones vanish, as ResourceManager's
	// unquoted $arg does.
	want := []string{"<10.0.0.5/24/eth0>", "<$(touch${IFS}/pwned)>", "<;rm>", "<a>", "<b>", "<start>"}
	if diff := cmp.Diff(want, out.Output); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if out.Path != filepath.Join(dir, "args") {
		t.Errorf("Path = %q", out.Path)
	}
	if _, err := os.Stat("/pwned"); err == nil {
		t.Error("argument was run through a shell")
	}
}

func TestRunEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "env", `env`)
	t.Setenv("HEARTBEATD_TEST_LEAK", "1")
	envCfg := Environment{
		CurHost: "pa1", LogFile: "/var/log/ha-log", DebugLog: "/var/log/ha-debug",
		LogFacility: "local7", Debug: 1,
		Vars: []EnvVar{{Name: "FOO", Value: "bar baz"}},
	}
	r := &Runner{Dirs: []string{dir}, Env: append(envCfg.List(), "LC_ALL=fr_FR.UTF-8", "LANGUAGE=fr", "HA_src=pa2", "bogus")}
	out := r.Run(context.Background(), haresources.Resource{Script: "env"}, "status")
	if out.Failed() {
		t.Fatalf("Run: %+v", out)
	}
	got := map[string]string{}
	for _, l := range out.Output {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	want := map[string]string{
		"HA_DIR":         "/etc/ha.d",
		"HA_FUNCS":       "/etc/ha.d/shellfuncs",
		"OCF_ROOT":       "/usr/lib/ocf",
		"HA_DATEFMT":     "%Y/%m/%d_%T\t", // ends in a tab, as Heartbeat's
		"HA_CURHOST":     "pa1",
		"HA_LOGFILE":     "/var/log/ha-log",
		"HA_DEBUGLOG":    "/var/log/ha-debug",
		"HA_LOGFACILITY": "local7",
		"HA_LOGD":        "no",
		"HA_debug":       "1",
		"HA_FOO":         "bar baz",
		"HA_src":         "pa2",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if !strings.Contains(got["PATH"], "/usr/bin") || !strings.Contains(got["PATH"], "/sbin") {
		t.Errorf("PATH = %q lacks system dirs", got["PATH"])
	}
	for _, k := range []string{"LC_ALL", "LANGUAGE", "HEARTBEATD_TEST_LEAK", "bogus"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s passed to the script", k)
		}
	}
}

func TestRunVerdictAndExitCode(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "s", `echo "$MSG"; exit $RC`)
	for _, tt := range []struct {
		msg     string
		rc      int
		running bool
	}{
		{"INFO:  Running OK", 0, true},
		{"INFO:  Resource is stopped", 7, false},
		{"may be running", 4, true},
		{"running but exit 3", 3, true}, // exit code does not count
		{"", 0, false},                  // neither does a clean exit
	} {
		r := &Runner{Dirs: []string{dir}, Env: []string{"MSG=" + tt.msg, "RC=" + strconv.Itoa(tt.rc)}}
		out := r.Run(context.Background(), haresources.Resource{Script: "s"}, "status")
		if out.Err != nil || out.ExitCode != tt.rc || out.Running != tt.running {
			t.Errorf("%q rc %d: got Err=%v ExitCode=%d Running=%v", tt.msg, tt.rc, out.Err, out.ExitCode, out.Running)
		}
		running, err := r.IsRunning(context.Background(), haresources.Resource{Script: "s"})
		if err != nil || running != tt.running {
			t.Errorf("IsRunning %q = %v, %v", tt.msg, running, err)
		}
	}
}

// Status is judged from stdout only, as ResourceManager's `...` captures it.
func TestRunVerdictIgnoresStderr(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "s", `echo "running" >&2; echo stopped`)
	out := (&Runner{Dirs: []string{dir}}).Run(context.Background(), haresources.Resource{Script: "s"}, "status")
	if out.Running {
		t.Error("stderr text counted for status")
	}
}

func TestRunSignalExitCode(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "s", `kill -KILL $$`)
	out := (&Runner{Dirs: []string{dir}}).Run(context.Background(), haresources.Resource{Script: "s"}, "stop")
	if out.ExitCode != 128+9 || !out.Failed() {
		t.Errorf("ExitCode = %d, want 137", out.ExitCode)
	}
}

func TestLocate(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(d1, "plain"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d1, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeScript(t, d2, "both", "")
	if err := os.WriteFile(filepath.Join(d1, "both"), []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeScript(t, d2, "target", "")
	if err := os.Symlink(filepath.Join(d2, "target"), filepath.Join(d1, "link")); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dirs: []string{d1, d2}}

	if p, err := r.Locate("both"); err != nil || p != filepath.Join(d2, "both") {
		t.Errorf("both: %q, %v; want the executable one in the second dir", p, err)
	}
	if p, err := r.Locate("link"); err != nil || p != filepath.Join(d1, "link") {
		t.Errorf("link: %q, %v", p, err)
	}
	for _, tt := range []struct{ name, wantMsg string }{
		{"nosuch", "cannot locate resource script nosuch (" + filepath.Join(d1, "nosuch") + ": does not exist; " + filepath.Join(d2, "nosuch") + ": does not exist)"},
		{"plain", filepath.Join(d1, "plain") + ": is not executable"},
		{"adir", filepath.Join(d1, "adir") + ": is a directory"},
		{"../" + filepath.Base(d2) + "/target", `contains "/"`},
		{"", "empty script name"},
		{"..", `starts with '.'`},
	} {
		_, err := r.Locate(tt.name)
		var se *haresources.ScriptError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Locate(%q) = %v, want a *haresources.ScriptError containing %q", tt.name, err, tt.wantMsg)
		}
		out := r.Run(context.Background(), haresources.Resource{Script: tt.name}, "start")
		if out.Err == nil || out.ExitCode != -1 || !out.Failed() {
			t.Errorf("Run(%q) = %+v, want a failure that never ran", tt.name, out)
		}
	}
}

// alive reports whether pid exists and is not a zombie (in a container the
// init process may be slow to reap orphans, which is no concern of ours).
func alive(pid int) bool {
	if unix.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func readPids(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

func TestTimeoutKillsWholeProcessGroup(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
	}{
		// sleep dies of the SIGTERM sent to the group.
		{"term", `sleep 1000 & echo $$ $! > "$PIDS"; wait`},
		// TERM is ignored by the script and, inherited, by sleep: SIGKILL after grace.
		{"kill", `trap '' TERM; sleep 1000 & echo $$ $! > "$PIDS"; while :; do wait; done`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pids")
			writeScript(t, dir, "hang", tt.body)
			r := &Runner{Dirs: []string{dir}, Env: []string{"PIDS=" + pidfile},
				Timeout: 200 * time.Millisecond, KillGrace: 100 * time.Millisecond}
			start := time.Now()
			out := r.Run(context.Background(), haresources.Resource{Script: "hang"}, "start")
			if !out.TimedOut || out.Err == nil || !out.Failed() {
				t.Fatalf("Run = %+v, want a timeout", out)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			pids := readPids(t, pidfile)
			if len(pids) != 2 {
				t.Fatalf("pids %v", pids)
			}
			for _, p := range pids {
				// The script was reaped by Run; its child is an orphan that
				// init reaps when it likes: allow it a moment.
				deadline := time.Now().Add(2 * time.Second)
				for alive(p) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if alive(p) {
					t.Errorf("pid %d survived the timeout", p)
					unix.Kill(p, unix.SIGKILL)
				}
			}
		})
	}
}

func TestContextCancelKillsScript(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "hang", `exec sleep 1000`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	out := (&Runner{Dirs: []string{dir}, KillGrace: 100 * time.Millisecond}).Run(ctx, haresources.Resource{Script: "hang"}, "start")
	if !errors.Is(out.Err, context.DeadlineExceeded) || out.TimedOut {
		t.Errorf("Run = %+v", out)
	}
}

// A start script that leaves a daemon holding stdout must not hang Run,
// and the daemon must not be killed for it.
func TestRunDoesNotWaitForBackgroundDaemon(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	writeScript(t, dir, "daemon", `sleep 1000 & echo $! > "$PIDS"; echo started`)
	r := &Runner{Dirs: []string{dir}, Env: []string{"PIDS=" + pidfile}}
	start := time.Now()
	out := r.Run(context.Background(), haresources.Resource{Script: "daemon"}, "start")
	if out.Failed() || time.Since(start) > 3*time.Second {
		t.Fatalf("Run = %+v after %v", out, time.Since(start))
	}
	if !cmp.Equal(out.Output, []string{"started"}) {
		t.Errorf("Output = %q", out.Output)
	}
	pid := readPids(t, pidfile)[0]
	if !alive(pid) {
		t.Error("daemon killed after a successful start")
	}
	unix.Kill(pid, unix.SIGKILL)
}

func TestRunBoundsHugeOutput(t *testing.T) {
	dir := t.TempDir()
	// One 10 MB line, 200000 short lines, a last line, and "running" at the
	// very end of stdout, far past every cap.
	writeScript(t, dir, "loud", `head -c 10000000 /dev/zero | tr '\0' a
echo
yes line | head -n 200000
echo LAST
printf ' running'`)
	log := &recLogger{}
	r := &Runner{Dirs: []string{dir}, Log: log, Output: OutputLimits{MaxLineBytes: 100, HeadLines: 10, TailLines: 5}}
	out := r.Run(context.Background(), haresources.Resource{Script: "loud"}, "status")
	if out.Failed() {
		t.Fatalf("Run: %v, exit %d", out.Err, out.ExitCode)
	}
	if len(out.Output) != 10+1+5 {
		t.Fatalf("%d lines kept, want 16", len(out.Output))
	}
	if want := strings.Repeat("a", 100) + truncatedMark; out.Output[0] != want {
		t.Errorf("first line %.40q…, want 100 a's and the mark", out.Output[0])
	}
	for _, l := range out.Output {
		if len(l) > 100+len(truncatedMark) {
			t.Errorf("line of %d bytes kept", len(l))
		}
	}
	if out.OmittedLines != 200000+3-15 {
		t.Errorf("OmittedLines = %d", out.OmittedLines)
	}
	if got := out.Output[len(out.Output)-2:]; !cmp.Equal(got, []string{"LAST", " running"}) {
		t.Errorf("tail = %q", got)
	}
	if !out.Running {
		t.Error(`"running" at the end of 11 MB of stdout not seen`)
	}
	if n := len(log.records()); n != 16 {
		t.Errorf("%d lines logged, want 16", n)
	}
}

func TestRunSanitisesOutput(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "bin", `printf 'a\000b\377c\033[31m\tok\r\n'; printf 'Jan 1 00:00:00 forged\rline'`)
	log := &recLogger{}
	out := (&Runner{Dirs: []string{dir}, Log: log}).Run(context.Background(), haresources.Resource{Script: "bin"}, "status")
	want := []string{`a\x00b\xffc\x1b[31m` + "\tok", `Jan 1 00:00:00 forged\x0dline`}
	if diff := cmp.Diff(want, out.Output); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	wantLog := []logRecord{{"bin", LevelDebug, want[0]}, {"bin", LevelDebug, want[1]}}
	if diff := cmp.Diff(wantLog, log.records(), cmp.AllowUnexported(logRecord{})); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"tab\there":        "tab\there",
		"ünïcödé ✓":        "ünïcödé ✓",
		"\x00":             `\x00`,
		"\xff\xfe":         `\xff\xfe`,
		"\u0085":           `\xc2\x85`, // C1 NEL, a line break to some syslog readers
		"new\nline":        `new\x0aline`,
		"\x7f":             `\x7f`,
		"half\xe2\x82":     `half\xe2\x82`,
		"bell\a and \x1b[": `bell\x07 and \x1b[`,
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLineSplitter(f *testing.F) {
	f.Add([]byte("INFO:  Running OK\n"), 3)
	f.Add([]byte("a\x00b\xff\r\nsecond\n\nno newline"), 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		const max = 16
		if chunk <= 0 || chunk > 64 {
			chunk = 7
		}
		var lines []string
		s := &lineSplitter{max: max, out: func(l string) { lines = append(lines, l) }}
		for i := 0; i < len(data); i += chunk {
			s.Write(data[i:min(i+chunk, len(data))])
		}
		s.close()
		wantN := strings.Count(string(data), "\n")
		if len(data) > 0 && data[len(data)-1] != '\n' {
			wantN++
		}
		if len(lines) != wantN {
			t.Fatalf("%d lines from %q, want %d", len(lines), data, wantN)
		}
		for _, l := range lines {
			if strings.ContainsAny(l, "\n\x00") || len(l) > 4*max+len(truncatedMark) {
				t.Fatalf("bad line %q", l)
			}
		}
	})
}

// BenchmarkRunStatus is the fork/exec/collect cost of one status call.
func BenchmarkRunStatus(b *testing.B) {
	dir := b.TempDir()
	writeScript(b, dir, "s", "echo running\n")
	r := &Runner{Dirs: []string{dir}}
	for b.Loop() {
		if out := r.Run(context.Background(), haresources.Resource{Script: "s"}, "status"); out.Failed() || !out.Running {
			b.Fatalf("%+v", out)
		}
	}
}
