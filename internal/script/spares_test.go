package script

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
)

// The test binary stands in for heartbeatd: `resource --standby` (a spare)
// and `resource NAME ARGS...` (what the wrapper execs when an op forks)
// run the test agents below.
func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == "resource" {
		registerTestAgents()
		if os.Args[2] == agent.StandbyFlag {
			code := agent.ServeStandby(os.Stdin, os.Stderr)
			// A slow process teardown, after the agent has returned
			// (the environment is the request's now).
			if d, err := time.ParseDuration(os.Getenv("TEST_LINGER")); err == nil {
				time.Sleep(d)
			}
			os.Exit(code)
		}
		f, ok := agent.Lookup(os.Args[2])
		if !ok {
			os.Exit(agent.NotInstalled)
		}
		os.Exit(f(os.Args[3:], agent.OS()))
	}
	os.Exit(m.Run())
}

func registerTestAgents() {
	// TEnv prints what an agent sees of its process.
	agent.Register("TEnv", func(args []string, io agent.IO) int {
		in, _ := ioReadAll(os.Stdin)
		wd, _ := os.Getwd()
		pgid, _ := unix.Getpgid(0)
		io.Printf("pid=%d pgid=%d cwd=%s stdin=%d", os.Getpid(), pgid, wd, len(in))
		io.Printf("args=%s", strings.Join(args, ","))
		for _, kv := range os.Environ() {
			io.Printf("env %s", kv)
		}
		// A tool the agent runs inherits the environment.
		out, _ := exec.Command("sh", "-c", "echo child FOO=$FOO; test -e /proc/$$/fd/3 && echo child holds fd 3").Output()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			io.Printf("%s", l)
		}
		if args[len(args)-1] == "status" {
			io.Printf("running")
		}
		return 0
	})
	agent.Register("TNop", func(_ []string, io agent.IO) int { io.Printf("stopped"); return 0 })
	// TSettle settles with its argument as the code, then goes on for
	// TEST_AFTER before a last line (agent.IO.Settle).
	agent.Register("TSettle", func(args []string, io agent.IO) int {
		code, _ := strconv.Atoi(args[0])
		io.Printf("INFO: settling with %d", code)
		io.Settled(code)
		d, _ := time.ParseDuration(io.Getenv("TEST_AFTER"))
		time.Sleep(d)
		fmt.Fprintln(io.Stderr, "WARNING: said after the settle")
		return code
	})
	// TCode prints its pid and exits with the code of its first argument.
	agent.Register("TCode", func(args []string, io agent.IO) int {
		io.Printf("pid=%d", os.Getpid())
		fmt.Fprintf(io.Stderr, "WARNING: exiting %s\n", args[0])
		code, _ := strconv.Atoi(args[0])
		return code
	})
	agent.Register("TPanic", func([]string, agent.IO) int { panic("agent bug") })
	// TStuck leaves a child in its process group and hangs.
	agent.Register("TStuck", func(args []string, io agent.IO) int {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			return 1
		}
		io.Printf("child=%d", c.Process.Pid)
		c.Wait()
		return 0
	})
}

func ioReadAll(f *os.File) ([]byte, error) { return io.ReadAll(f) }

const testWrapper = "#!/bin/sh\nexec \"${HEARTBEATD:-/usr/sbin/heartbeatd}\" resource %s \"$@\"\n"

// sparesRunner is a Runner whose scripts dir holds wrappers of the test
// agents, and whose spares are the test binary.
func sparesRunner(t testing.TB, size int) (*Runner, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"TEnv", "TPanic", "TStuck", "TNop", "TCode", "TSettle"} {
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, testWrapper, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &Runner{Dirs: []string{dir}, Env: []string{"HEARTBEATD=" + self, "FOO=bar"}, Spares: NewSpares(ctx, self, size)}
	waitIdle(t, r.Spares, size)
	return r, dir
}

func waitIdle(t testing.TB, s *Spares, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Idle() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d spares idle, want %d", s.Idle(), n)
		}
	}
}

func idlePids(s *Spares) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, sp := range s.idle {
		out = append(out, sp.cmd.Process.Pid)
	}
	return out
}

// fieldOf is the value of key=... in the first output line holding it.
func fieldOf(out []string, key string) string {
	for _, l := range out {
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				return v
			}
		}
	}
	return ""
}

func TestSparesRunBuiltinAgentInTakenHelper(t *testing.T) {
	t.Setenv("HEARTBEATD_TEST_LEAK", "1") // the daemon's own environment
	r, dir := sparesRunner(t, 2)
	before := idlePids(r.Spares)
	res := haresources.Resource{Script: "TEnv", Args: []string{"10.0.0.5/24/eth0"}}
	out := r.RunEnv(context.Background(), res, "status", []string{"HA_TAKEOVER_FROM=n1"})
	if out.Failed() || !out.Running {
		t.Fatalf("run: %+v", out)
	}
	if out.Path != filepath.Join(dir, "TEnv") {
		t.Errorf("Path = %q, want the wrapper", out.Path)
	}
	pid, _ := strconv.Atoi(fieldOf(out.Output, "pid"))
	if !slices.Contains(before, pid) {
		t.Errorf("agent ran in pid %d, not in a spare %v", pid, before)
	}
	if fieldOf(out.Output, "pgid") != strconv.Itoa(pid) {
		t.Errorf("helper is not its own process group leader: %q", out.Output[0])
	}
	if got := fieldOf(out.Output, "cwd"); got != "/" {
		t.Errorf("cwd = %q", got)
	}
	if got := fieldOf(out.Output, "stdin"); got != "0" {
		t.Errorf("agent read %s bytes on stdin; want /dev/null", got)
	}
	if got := fieldOf(out.Output, "args"); got != "10.0.0.5/24/eth0,status" {
		t.Errorf("args = %q", got)
	}
	env := map[string]bool{}
	for _, l := range out.Output {
		if kv, ok := strings.CutPrefix(l, "env "); ok {
			env[kv] = true
		}
	}
	for _, want := range []string{"FOO=bar", "HA_TAKEOVER_FROM=n1", "HA_DIR=/etc/ha.d"} {
		if !env[want] {
			t.Errorf("environment lacks %s: %v", want, env)
		}
	}
	for kv := range env {
		if strings.HasPrefix(kv, "HEARTBEATD_TEST_LEAK=") {
			t.Errorf("daemon's environment leaked into the agent: %s", kv)
		}
	}
	if !slices.Contains(out.Output, "child FOO=bar") {
		t.Errorf("a tool the agent runs does not inherit its environment: %q", out.Output)
	}
	if slices.Contains(out.Output, "child holds fd 3") {
		t.Errorf("a tool the agent runs inherited the report pipe: %q", out.Output)
	}
	// The taken helper is replaced.
	waitIdle(t, r.Spares, 2)
	if slices.Contains(idlePids(r.Spares), pid) {
		t.Errorf("used helper %d is back in the pool", pid)
	}
}

// A takeover's status then start: the second op finds its helper waiting,
// and no replacement is started until the pool has been quiet for
// refillQuiet (a Go process starting would compete with the start).
func TestSparesRefillWaitsForQuiet(t *testing.T) {
	r, _ := sparesRunner(t, 2)
	clk := clock.NewFake(time.Unix(0, 0))
	r.Spares.clk = clk
	res := haresources.Resource{Script: "TNop"}
	for i, want := range []int{1, 0} {
		if out := r.Run(context.Background(), res, "status"); out.Failed() {
			t.Fatalf("op %d: %+v", i, out)
		}
		r.Spares.mu.Lock()
		idle, pending := len(r.Spares.idle), r.Spares.pending
		r.Spares.mu.Unlock()
		if idle != want || pending != 0 {
			t.Fatalf("after op %d: %d idle, %d being started; want %d and none", i, idle, pending, want)
		}
		clk.Advance(refillQuiet - time.Millisecond)
	}
	clk.Advance(time.Millisecond) // quiet since the second op for refillQuiet
	waitIdle(t, r.Spares, 2)
}

// A helper reports its agent's exit code before it exits: the op ends
// there, with all of its output, and the process's teardown is waited for
// (and reaped) in the background.
func TestSparesOpEndsOnTheReportedCode(t *testing.T) {
	r, _ := sparesRunner(t, 1)
	r.Env = append(r.Env, "TEST_LINGER=3s")
	out := r.Run(context.Background(), haresources.Resource{Script: "TCode", Args: []string{"7"}}, "start")
	pid, _ := strconv.Atoi(fieldOf(out.Output, "pid"))
	if out.Err != nil || out.ExitCode != 7 || pid == 0 {
		t.Fatalf("want exit code 7 and the agent's pid: %+v", out)
	}
	if !slices.Contains(out.Output, "WARNING: exiting 7") {
		t.Errorf("stderr not collected: %q", out.Output)
	}
	// Run returned while the helper still lingers in its teardown.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(b), ") Z ") {
		t.Fatalf("helper %d already gone when Run returned (%v): the op waited for its exit", pid, err)
	}
	// It is reaped once it exits: no zombie stays behind.
	for deadline := time.Now().Add(10 * time.Second); unix.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("helper %d not reaped after it exited", pid)
		}
	}
}

// An agent that settles early (IPaddr's takeover, before it listens for
// the old holder) ends the op then; what it says afterwards is still
// logged, and it is reaped when it ends.
func TestSparesSettleEndsTheOpEarly(t *testing.T) {
	r, _ := sparesRunner(t, 1)
	log := &recLogger{}
	r.Log = log
	r.Env = append(r.Env, "TEST_AFTER=1500ms")
	pid := idlePids(r.Spares)[0] // the one helper: it runs the op
	began := time.Now()
	out := r.RunOp(context.Background(), haresources.Resource{Script: "TSettle", Args: []string{"0"}}, "start", nil)
	took := time.Since(began)
	if out.Err != nil || out.ExitCode != 0 {
		t.Fatalf("want exit code 0: %+v", out)
	}
	if took > time.Second {
		t.Errorf("Run took %v: it waited for the agent past its settle", took)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(b), ") Z ") {
		t.Fatalf("helper %d gone when Run returned (%v): the op waited for the agent", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		said := slices.ContainsFunc(log.records(), func(rec logRecord) bool {
			return rec.entity == "TSettle" && rec.level == LevelWarn && rec.text == "said after the settle"
		})
		if said && unix.Kill(pid, 0) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the settle: line logged %v, helper %d reaped %v; log %v", said, pid, unix.Kill(pid, 0) != nil, log.records())
		}
	}
}

// An agent that settled and then overstays the script timeout is killed.
func TestSparesSettledAgentOverstayingIsKilled(t *testing.T) {
	r, _ := sparesRunner(t, 1)
	log := &recLogger{}
	r.Log, r.Timeout, r.KillGrace = log, 300*time.Millisecond, 100*time.Millisecond
	r.Env = append(r.Env, "TEST_AFTER=1h")
	pid := idlePids(r.Spares)[0]
	out := r.RunOp(context.Background(), haresources.Resource{Script: "TSettle", Args: []string{"0"}}, "start", nil)
	if out.Err != nil || out.ExitCode != 0 {
		t.Fatalf("want exit code 0: %+v", out)
	}
	killed := func() bool {
		return slices.ContainsFunc(log.records(), func(rec logRecord) bool {
			return rec.level == LevelWarn && strings.Contains(rec.text, "after it reported its result; killing process group")
		})
	}
	for deadline := time.Now().Add(10 * time.Second); !killed() || unix.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the overstaying agent (helper %d) was not killed and reaped: %v", pid, log.records())
		}
	}
}

// Through the wrapper (no helper) there is no early end: the op lasts
// until the agent returns, as Heartbeat's scripts do.
func TestForkedSettleWaitsForTheExit(t *testing.T) {
	r, dir := sparesRunner(t, 1)
	os.WriteFile(filepath.Join(dir, "TSettle"), fmt.Appendf(nil, testWrapper+"# forked\n", "TSettle"), 0o755)
	r.Env = append(r.Env, "TEST_AFTER=300ms")
	began := time.Now()
	out := r.Run(context.Background(), haresources.Resource{Script: "TSettle", Args: []string{"3"}}, "start")
	if took := time.Since(began); took < 300*time.Millisecond || out.ExitCode != 3 || !slices.Contains(out.Output, "WARNING: said after the settle") {
		t.Fatalf("forked run: took %v, %+v; want it to last the whole agent", took, out)
	}
}

func TestSparesReplacedWrapperRunsAsScript(t *testing.T) {
	r, dir := sparesRunner(t, 1)
	// An admin's own script where the wrapper was: it must run, as a script.
	writeScript(t, dir, "TEnv", "echo admin script \"$@\"\n")
	out := r.Run(context.Background(), haresources.Resource{Script: "TEnv", Args: []string{"x"}}, "start")
	if out.Failed() || !slices.Contains(out.Output, "admin script x start") {
		t.Fatalf("run: %+v", out)
	}
	if r.Spares.Idle() != 1 {
		t.Errorf("a spare was taken for an admin's script")
	}
}

func TestSparesDeadHelperFallsBackToFork(t *testing.T) {
	r, _ := sparesRunner(t, 2)
	dead := idlePids(r.Spares)
	for _, pid := range dead {
		unix.Kill(pid, unix.SIGKILL)
	}
	time.Sleep(50 * time.Millisecond)
	out := r.Run(context.Background(), haresources.Resource{Script: "TEnv"}, "start")
	if out.Failed() {
		t.Fatalf("run: %+v", out)
	}
	pid, _ := strconv.Atoi(fieldOf(out.Output, "pid"))
	if pid == 0 || slices.Contains(dead, pid) {
		t.Errorf("pid %d: want a forked process, not one of the dead spares %v", pid, dead)
	}
	if got := fieldOf(out.Output, "args"); got != "start" {
		t.Errorf("args = %q", got)
	}
	waitIdle(t, r.Spares, 2)
	for _, pid := range dead {
		if unix.Kill(pid, 0) == nil {
			t.Errorf("dead spare %d was not reaped", pid)
		}
	}
}

func TestSparesTimeoutKillsHelperGroup(t *testing.T) {
	r, _ := sparesRunner(t, 1)
	r.Timeout, r.KillGrace = 300*time.Millisecond, 200*time.Millisecond
	out := r.Run(context.Background(), haresources.Resource{Script: "TStuck"}, "start")
	if !out.TimedOut || !out.Failed() {
		t.Fatalf("want a timed-out failure: %+v", out)
	}
	child, _ := strconv.Atoi(fieldOf(out.Output, "child"))
	if child == 0 {
		t.Fatalf("no child pid in %q", out.Output)
	}
	// The agent's child, in the helper's process group, is gone too
	// (reparented and reaped by init, or a zombie there for a moment).
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent's child %d survived the timeout: %s", child, b)
		}
	}
}

func TestSparesAgentPanicFailsTheOpOnly(t *testing.T) {
	r, _ := sparesRunner(t, 2)
	log := &recLogger{}
	r.Log = log
	out := r.RunOp(context.Background(), haresources.Resource{Script: "TPanic"}, "start", nil)
	if !out.Failed() || out.ExitCode != 2 {
		t.Fatalf("want exit 2 (Go's panic exit): %+v", out)
	}
	if !slices.ContainsFunc(out.Output, func(l string) bool { return strings.Contains(l, "panic: agent bug") }) {
		t.Errorf("panic not in the output: %q", out.Output)
	}
	if !log.contains(LevelError, "Return code 2 from "+out.Path) {
		t.Errorf("no Return code line: %v", log.records())
	}
	// The runner (the daemon) is fine and the next op runs.
	if out := r.Run(context.Background(), haresources.Resource{Script: "TEnv"}, "status"); !out.Running {
		t.Errorf("next op: %+v", out)
	}
}

func TestSparesReplacedBinaryIsNotUsed(t *testing.T) {
	self, _ := os.Executable()
	bin := filepath.Join(t.TempDir(), "heartbeatd")
	copyFile(t, self, bin)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "TEnv"), fmt.Appendf(nil, testWrapper, "TEnv"), 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &Runner{Dirs: []string{dir}, Env: []string{"HEARTBEATD=" + bin}, Spares: NewSpares(ctx, bin, 1)}
	waitIdle(t, r.Spares, 1)
	old := idlePids(r.Spares)
	// A package upgrade puts a new file in place.
	copyFile(t, self, bin+".new")
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	out := r.Run(context.Background(), haresources.Resource{Script: "TEnv"}, "start")
	pid, _ := strconv.Atoi(fieldOf(out.Output, "pid"))
	if out.Failed() || slices.Contains(old, pid) {
		t.Fatalf("ran in a helper of the old binary (pid %d, old %v): %+v", pid, old, out)
	}
	waitIdle(t, r.Spares, 1)
	// The refill runs the new binary: the next op uses it.
	fresh := idlePids(r.Spares)
	out = r.Run(context.Background(), haresources.Resource{Script: "TEnv"}, "start")
	if pid, _ := strconv.Atoi(fieldOf(out.Output, "pid")); !slices.Contains(fresh, pid) {
		t.Errorf("pid %d not a fresh spare %v", pid, fresh)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestSparesClosedReapsHelpers(t *testing.T) {
	r, _ := sparesRunner(t, 3)
	pids := idlePids(r.Spares)
	r.Spares.Close()
	for _, pid := range pids {
		if unix.Kill(pid, 0) == nil {
			t.Errorf("helper %d still there after Close", pid)
		}
	}
	// Ops fork from now on.
	if out := r.Run(context.Background(), haresources.Resource{Script: "TEnv"}, "status"); !out.Running {
		t.Errorf("after Close: %+v", out)
	}
	if n := r.Spares.Idle(); n != 0 {
		t.Errorf("%d spares started after Close", n)
	}
}

func TestBuiltinAgent(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text  string
		agent string
	}{
		{fmt.Sprintf(testWrapper, "IPaddr"), "IPaddr"},
		{strings.TrimSuffix(fmt.Sprintf(testWrapper, "IPaddr2"), "\n"), "IPaddr2"},
		{fmt.Sprintf(testWrapper, "IPaddr") + "echo more\n", ""},
		{"#!/bin/sh\nlogger hi\n" + fmt.Sprintf(testWrapper, "IPaddr")[10:], ""},
		{"#!/bin/bash\nexec \"${HEARTBEATD:-/usr/sbin/heartbeatd}\" resource IPaddr \"$@\"\n", ""},
		{"#!/bin/sh\nexec \"${HEARTBEATD:-/usr/sbin/heartbeatd}\" resource IPaddr; rm -rf / \"$@\"\n", ""},
		{"#!/bin/sh\nexec /usr/local/bin/other resource IPaddr \"$@\"\n", ""},
	} {
		p := filepath.Join(dir, "w")
		os.WriteFile(p, []byte(c.text), 0o755)
		got, ok := BuiltinAgent(p)
		if got != c.agent || ok != (c.agent != "") {
			t.Errorf("%q: got %q %v, want %q", c.text, got, ok, c.agent)
		}
	}
	if _, ok := BuiltinAgent(filepath.Join(dir, "missing")); ok {
		t.Error("missing file taken for a wrapper")
	}
	// Every wrapper shipped in resource.d must be recognised, or its ops
	// would silently fork and its monitor fall back to status.
	shipped, _ := filepath.Glob(filepath.Join("..", "..", "resource.d", "*"))
	if len(shipped) == 0 {
		t.Fatal("no wrappers in resource.d")
	}
	for _, p := range shipped {
		if got, ok := BuiltinAgent(p); !ok || got != filepath.Base(p) {
			t.Errorf("%s: BuiltinAgent = %q %v", p, got, ok)
		}
	}
}

// The status before a start is left out only for heartbeatd's own wrapper
// of an agent whose start checks for itself; a script of the same name
// that an admin put in its place, another agent, or no script at all gets
// the status run.
func TestStartChecks(t *testing.T) {
	agent.MarkStartChecks("TChecks") // only asked of the registry here; never run
	r := &Runner{Dirs: []string{t.TempDir()}}
	dir := r.Dirs[0]
	os.WriteFile(filepath.Join(dir, "TChecks"), fmt.Appendf(nil, testWrapper, "TChecks"), 0o755)
	os.WriteFile(filepath.Join(dir, "TNop"), fmt.Appendf(nil, testWrapper, "TNop"), 0o755)
	os.WriteFile(filepath.Join(dir, "Own"), []byte("#!/bin/sh\nexec /usr/sbin/heartbeatd resource TChecks \"$@\"\n"), 0o755)
	for script, want := range map[string]bool{"TChecks": true, "TNop": false, "Own": false, "Missing": false} {
		if got := r.StartChecks(haresources.Resource{Script: script}); got != want {
			t.Errorf("StartChecks(%s) = %v, want %v", script, got, want)
		}
	}
	// The wrapper replaced by the admin's own script: the status runs again.
	os.WriteFile(filepath.Join(dir, "TChecks"), []byte("#!/bin/sh\necho running\n"), 0o755)
	if r.StartChecks(haresources.Resource{Script: "TChecks"}) {
		t.Error("an admin's script in place of the wrapper taken for the agent")
	}
}

// BenchmarkRunBuiltinAgent is one status op of a built-in agent that does
// nothing, through a standby helper and, as before them, forked through
// the wrapper (sh, then the binary).
func BenchmarkRunBuiltinAgent(b *testing.B) {
	for _, mode := range []string{"helper", "fork"} {
		b.Run(mode, func(b *testing.B) {
			r, dir := sparesRunner(b, 3)
			if mode == "fork" {
				p := filepath.Join(dir, "TNop")
				os.WriteFile(p, fmt.Appendf(nil, testWrapper+"# forked\n", "TNop"), 0o755)
			}
			res := haresources.Resource{Script: "TNop"}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if mode == "helper" {
					b.StopTimer()
					waitIdle(b, r.Spares, 3) // as in a takeover: the pool is full
					b.StartTimer()
				}
				if out := r.Run(context.Background(), res, "status"); out.Failed() || out.Running {
					b.Fatalf("%+v", out)
				}
			}
		})
	}
}

// The daemon's run ends: its context takes the idle helpers with it.
func TestSparesEndWithTheirContext(t *testing.T) {
	self, _ := os.Executable()
	ctx, cancel := context.WithCancel(context.Background())
	s := NewSpares(ctx, self, 2)
	waitIdle(t, s, 2)
	pids := idlePids(s)
	cancel()
	for deadline := time.Now().Add(5 * time.Second); s.Idle() != 0 || slices.ContainsFunc(pids, func(pid int) bool { return unix.Kill(pid, 0) == nil }); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("helpers %v not reaped after the context ended", pids)
		}
	}
	s.refill()
	time.Sleep(50 * time.Millisecond)
	if s.Idle() != 0 {
		t.Error("a helper was started after the context ended")
	}
}
