package drbddisk

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"heartbeatd/internal/agent"
)

var (
	fakeOnce sync.Once
	fakeBin  string
	fakeErr  error
	fakeOut  []byte
)

// fakeDrbdadm builds tests/fakes/drbdadm once per test binary.
func fakeDrbdadm(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fake-drbdadm")
		if err != nil {
			fakeErr = err
			return
		}
		fakeBin = filepath.Join(dir, "drbdadm")
		fakeOut, fakeErr = exec.Command("go", "build", "-o", fakeBin, "heartbeatd/tests/fakes/drbdadm").CombinedOutput()
	})
	if fakeErr != nil {
		t.Fatalf("build fake drbdadm: %v\n%s", fakeErr, fakeOut)
	}
	return fakeBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeBin != "" {
		os.RemoveAll(filepath.Dir(fakeBin))
	}
	os.Exit(code)
}

// resource mirrors the fake's per-resource state.
type resource struct {
	Minor        int    `json:"minor"`
	Up           bool   `json:"up"`
	Role         string `json:"role"`
	PeerRole     string `json:"peer_role"`
	Disk         string `json:"disk"`
	PeerDisk     string `json:"peer_disk"`
	CState       string `json:"cstate"`
	TwoPrimaries bool   `json:"allow_two_primaries,omitempty"`
	Open         bool   `json:"open,omitempty"`
}

type failure struct {
	Exit   int    `json:"exit"`
	Stderr string `json:"stderr,omitempty"`
	Times  int    `json:"times,omitempty"`
}

type state struct {
	Resources map[string]*resource `json:"resources"`
	Fail      map[string]*failure  `json:"fail,omitempty"`
	Calls     []string             `json:"calls,omitempty"`
}

// cluster is one test's fake DRBD node.
type cluster struct {
	t     *testing.T
	path  string
	slept []time.Duration
	agent *Agent
}

func newCluster(t *testing.T, ver string, st state) *cluster {
	c := &cluster{t: t, path: filepath.Join(t.TempDir(), "drbd.json")}
	c.write(st)
	t.Setenv("FAKE_DRBD_STATE", c.path)
	t.Setenv("FAKE_DRBD_VERSION", ver)
	c.agent = New(func(k string) string {
		if k == "DRBDADM" {
			return fakeDrbdadm(t)
		}
		return ""
	})
	c.agent.Sleep = func(d time.Duration) { c.slept = append(c.slept, d) }
	return c
}

func (c *cluster) write(st state) {
	data, err := json.Marshal(st)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(c.path, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) read() state {
	var st state
	data, err := os.ReadFile(c.path)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		c.t.Fatal(err)
	}
	return st
}

func (c *cluster) calls(prefix string) int {
	n := 0
	for _, call := range c.read().Calls {
		if strings.HasPrefix(call, prefix) {
			n++
		}
	}
	return n
}

func (c *cluster) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = c.agent.Main(args, agent.IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func healthy() state {
	return state{Resources: map[string]*resource{
		"r0": {Minor: 0, Up: true, Role: "Secondary", PeerRole: "Secondary",
			Disk: "UpToDate", PeerDisk: "UpToDate", CState: "Connected"},
	}}
}

// judged applies Heartbeat's ResourceManager status rule (spec §6.2), the
// shell glob of we_own_resource: *[Nn][Oo][Tt]\ *[Rr]unning* → stopped,
// then *[Rr]unning*|*OK* → running, else stopped.
func judged(out string) string {
	switch {
	case notRunning.MatchString(out):
		return "stopped"
	case running.MatchString(out):
		return "running"
	}
	return "stopped"
}

var (
	notRunning = regexp.MustCompile(`(?s)[Nn][Oo][Tt] .*[Rr]unning`)
	running    = regexp.MustCompile(`[Rr]unning|OK`)
)

// The stock drbddisk's "cannot determine status, may be running" is judged
// stopped by that glob ("not " ... "running"); ours must not be.
func TestJudgedIsHeartbeatsGlob(t *testing.T) {
	for out, want := range map[string]string{
		"cannot determine status, may be running (Unknown)": "stopped",
		"may be running: status unknown":                    "running",
		"running (Primary)":                                 "running",
		"stopped (Secondary)":                               "stopped",
		"INFO: Running OK":                                  "running",
		"INFO: Resource is stopped":                         "stopped",
		"Not running":                                       "stopped",
	} {
		if got := judged(out); got != want {
			t.Errorf("judged(%q) = %s, want %s", out, got, want)
		}
	}
}

func TestStartPromotes(t *testing.T) {
	for _, ver := range []string{"8.4", "9"} {
		t.Run(ver, func(t *testing.T) {
			c := newCluster(t, ver, healthy())
			code, _, stderr := c.run("r0", "start")
			if code != agent.OK {
				t.Fatalf("start: exit %d, stderr %q", code, stderr)
			}
			if got := c.read().Resources["r0"].Role; got != "Primary" {
				t.Fatalf("role %s after start", got)
			}
			// Idempotent: starting a Primary succeeds without retries.
			if code, _, stderr := c.run("r0", "start"); code != agent.OK {
				t.Fatalf("second start: exit %d, %q", code, stderr)
			}
			if len(c.slept) != 0 {
				t.Errorf("slept %v on a clean start", c.slept)
			}
			_, out, _ := c.run("r0", "status")
			if out != "running (Primary)\n" || judged(out) != "running" {
				t.Errorf("status %q", out)
			}
		})
	}
}

func TestStartRetriesWhilePeerIsPrimary(t *testing.T) {
	st := healthy()
	st.Resources["r0"].PeerRole = "Primary"
	c := newCluster(t, "8.4", st)
	code, _, stderr := c.run("r0", "start")
	if code != agent.Failed {
		t.Fatalf("exit %d, want %d", code, agent.Failed)
	}
	if n := c.calls("primary r0"); n != 6 {
		t.Errorf("drbdadm primary ran %d times, want 6", n)
	}
	if len(c.slept) != 5 {
		t.Errorf("slept %d times, want 5 (between 6 tries)", len(c.slept))
	}
	for _, d := range c.slept {
		if d != time.Second {
			t.Errorf("slept %v, want 1s", d)
		}
	}
	for _, want := range []string{"Multiple primaries not allowed by config", "try 6 of 6, exit 11", "after 6 tries"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if got := c.read().Resources["r0"].Role; got != "Secondary" {
		t.Errorf("role %s", got)
	}
}

// The peer's Primary role is still seen for a moment after it died (drbd
// ping time > heartbeat deadtime): the retry wins once DRBD notices.
func TestStartSucceedsOnLaterTry(t *testing.T) {
	st := healthy()
	st.Fail = map[string]*failure{"primary r0": {Exit: 11,
		Stderr: "r0: State change failed: (-1) Multiple primaries not allowed by config\n", Times: 2}}
	c := newCluster(t, "9", st)
	if code, _, stderr := c.run("r0", "start"); code != agent.OK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := c.calls("primary r0"); n != 3 {
		t.Errorf("primary ran %d times, want 3", n)
	}
	if len(c.slept) != 2 {
		t.Errorf("slept %d times, want 2", len(c.slept))
	}
}

func TestStartRefusesUnsafeDisk(t *testing.T) {
	for _, disk := range []string{"Outdated", "Inconsistent", "Diskless"} {
		t.Run(disk, func(t *testing.T) {
			st := healthy()
			st.Resources["r0"].Disk = disk
			st.Resources["r0"].CState = "WFConnection"
			c := newCluster(t, "8.4", st)
			code, _, stderr := c.run("r0", "start")
			if code != agent.Failed {
				t.Fatalf("exit %d", code)
			}
			if !strings.Contains(stderr, "local disk is "+disk) {
				t.Errorf("stderr does not say why: %s", stderr)
			}
			if n := c.calls("primary"); n != 0 {
				t.Errorf("drbdadm primary ran %d times on a %s disk", n, disk)
			}
		})
	}
}

func TestStartResourceDown(t *testing.T) {
	st := healthy()
	st.Resources["r0"].Up = false
	c := newCluster(t, "9", st)
	code, _, stderr := c.run("r0", "start")
	if code != agent.Failed || !strings.Contains(stderr, "drbdadm up r0") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}

func TestStop(t *testing.T) {
	st := healthy()
	st.Resources["r0"].Role = "Primary"
	c := newCluster(t, "9", st)
	if code, _, stderr := c.run("r0", "stop"); code != agent.OK {
		t.Fatalf("stop: %d %s", code, stderr)
	}
	if got := c.read().Resources["r0"].Role; got != "Secondary" {
		t.Fatalf("role %s", got)
	}
	if code, _, _ := c.run("r0", "stop"); code != agent.OK {
		t.Fatal("second stop failed")
	}
	_, out, _ := c.run("r0", "status")
	if out != "stopped (Secondary)\n" || judged(out) != "stopped" {
		t.Errorf("status %q", out)
	}
}

func TestStopHeldOpenFails(t *testing.T) {
	st := healthy()
	st.Resources["r0"].Role = "Primary"
	st.Resources["r0"].Open = true
	c := newCluster(t, "8.4", st)
	code, _, stderr := c.run("r0", "stop")
	if code != agent.Failed {
		t.Fatalf("exit %d", code)
	}
	if n := c.calls("secondary r0"); n != 3 {
		t.Errorf("secondary ran %d times, want 3", n)
	}
	if !strings.Contains(stderr, "Device is held open by someone") {
		t.Errorf("stderr: %s", stderr)
	}
	_, out, _ := c.run("r0", "status")
	if judged(out) != "running" {
		t.Errorf("status after failed stop %q", out)
	}
}

func TestStopWhenDownSucceeds(t *testing.T) {
	for _, ver := range []string{"8.4", "9"} {
		t.Run(ver, func(t *testing.T) {
			st := healthy()
			st.Resources["r0"].Up = false
			c := newCluster(t, ver, st)
			if code, _, stderr := c.run("r0", "stop"); code != agent.OK {
				t.Fatalf("stop of a down resource: %d %s", code, stderr)
			}
			_, out, _ := c.run("r0", "status")
			if out != "stopped (Unconfigured)\n" {
				t.Errorf("status %q", out)
			}
		})
	}
}

func TestStatusUnknownMayBeRunning(t *testing.T) {
	st := healthy()
	st.Fail = map[string]*failure{"role": {Exit: 20, Stderr: "Command 'drbdsetup role r0' did not terminate within 5 seconds\n"}}
	c := newCluster(t, "9", st)
	code, out, stderr := c.run("r0", "status")
	if out != "may be running: status unknown\n" || judged(out) != "running" {
		t.Errorf("status %q", out)
	}
	if code != agent.StatusUnknown {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stderr, "did not terminate") {
		t.Errorf("drbdadm's reason not logged: %q", stderr)
	}
}

func TestStatusGarbageNeverLeaksToStdout(t *testing.T) {
	st := healthy()
	st.Fail = map[string]*failure{"role": {Exit: 0, Stderr: ""}}
	c := newCluster(t, "9", st)
	// An injected exit 0 with no output: nothing to judge.
	_, out, _ := c.run("r0", "status")
	if judged(out) != "running" {
		t.Errorf("empty role output judged %q (%q)", judged(out), out)
	}
}

func TestAllResources(t *testing.T) {
	st := healthy()
	st.Resources["r1"] = &resource{Minor: 1, Up: true, Role: "Secondary", PeerRole: "Secondary",
		Disk: "UpToDate", PeerDisk: "UpToDate", CState: "Connected"}
	c := newCluster(t, "8.4", st)
	_, out, _ := c.run("status")
	if out != "stopped (Secondary, Secondary)\n" {
		t.Errorf("status all %q", out)
	}
	if code, _, stderr := c.run("start"); code != agent.OK {
		t.Fatalf("start all: %d %s", code, stderr)
	}
	got := c.read()
	if got.Resources["r0"].Role != "Primary" || got.Resources["r1"].Role != "Primary" {
		t.Errorf("roles after start all: %s %s", got.Resources["r0"].Role, got.Resources["r1"].Role)
	}
	_, out, _ = c.run("status")
	if judged(out) != "running" {
		t.Errorf("status all %q", out)
	}
}

func TestBadArgs(t *testing.T) {
	c := newCluster(t, "9", healthy())
	for _, args := range [][]string{nil, {"r0"}, {"r0", "restart"}, {"r0", "r1", "start"}, {"-x", "start"}} {
		if code, _, _ := c.run(args...); code != agent.BadArgs {
			t.Errorf("%q: exit %d, want %d", args, code, agent.BadArgs)
		}
	}
}

func TestUnknownResourceIsConfigError(t *testing.T) {
	c := newCluster(t, "9", healthy())
	code, out, stderr := c.run("r9", "status")
	if judged(out) != "running" || code != agent.StatusUnknown {
		t.Errorf("status of an undefined resource: %d %q", code, out)
	}
	if !strings.Contains(stderr, "not defined in your config") {
		t.Errorf("stderr %q", stderr)
	}
	if code, _, _ := c.run("r9", "start"); code != agent.Failed {
		t.Errorf("start of undefined resource exit %d", code)
	}
}

func TestMissingDrbdadm(t *testing.T) {
	a := New(func(string) string { return "/nonexistent/drbdadm" })
	var out, errb bytes.Buffer
	code := a.Main([]string{"r0", "start"}, agent.IO{Stdout: &out, Stderr: &errb})
	if code != agent.NotInstalled {
		t.Errorf("exit %d, want %d", code, agent.NotInstalled)
	}
	code = a.Main([]string{"r0", "status"}, agent.IO{Stdout: &out, Stderr: &errb})
	if judged(out.String()) != "running" {
		t.Errorf("status without drbdadm %q", out.String())
	}
}

func TestRegistered(t *testing.T) {
	f, ok := agent.Lookup("drbddisk")
	if !ok {
		t.Fatal("drbddisk not registered")
	}
	// Through the registered entry point, DRBDADM comes from the IO's env.
	c := newCluster(t, "9", healthy())
	var out, errb bytes.Buffer
	env := map[string]string{"DRBDADM": fakeDrbdadm(t)}
	code := f([]string{"r0", "status"}, agent.IO{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	if code != agent.StatusStopped || out.String() != "stopped (Secondary)\n" {
		t.Errorf("exit %d out %q err %q", code, out.String(), errb.String())
	}
	_ = c
}
