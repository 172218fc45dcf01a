package iscsi

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"heartbeatd/internal/agent"
)

var (
	fakeOnce sync.Once
	fakeDir  string
	fakeErr  error
	fakeOut  []byte
)

// fakeIET builds tests/fakes/ietadm once, as ietadm and (hard link) ietd.
func fakeIET(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		fakeDir, fakeErr = os.MkdirTemp("", "fake-iet")
		if fakeErr != nil {
			return
		}
		bin := filepath.Join(fakeDir, "ietadm")
		fakeOut, fakeErr = exec.Command("go", "build", "-o", bin, "heartbeatd/tests/fakes/ietadm").CombinedOutput()
		if fakeErr == nil {
			fakeErr = os.Link(bin, filepath.Join(fakeDir, "ietd"))
		}
	})
	if fakeErr != nil {
		t.Fatalf("build fake ietadm: %v\n%s", fakeErr, fakeOut)
	}
	return fakeDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	os.Exit(code)
}

// ietNode is one test's fake IET machine.
type ietNode struct {
	t     *testing.T
	dir   string
	env   map[string]string
	calls []string // command lines the agent ran
}

func newIETNode(t *testing.T) *ietNode {
	bin := fakeIET(t)
	dir := t.TempDir()
	n := &ietNode{t: t, dir: dir, env: map[string]string{
		"ISCSI_IMPLEMENTATION": "iet",
		"IETADM":               filepath.Join(bin, "ietadm"),
		"IETD":                 filepath.Join(bin, "ietd"),
		"IET_PROC":             filepath.Join(dir, "proc-net-iet"),
		"IETD_PIDFILE":         filepath.Join(dir, "ietd.pid"),
		"IET_CONF":             filepath.Join(dir, "etc-iet", "ietd.conf"),
		"FAKE_IET_STATE":       filepath.Join(dir, "state.json"),
		"MODPROBE":             "/bin/false",
	}}
	for k, v := range n.env {
		t.Setenv(k, v) // the fake reads them from its environment
	}
	if err := os.MkdirAll(n.env["IET_PROC"], 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.killIetd)
	return n
}

func (n *ietNode) killIetd() {
	data, err := os.ReadFile(n.env["IETD_PIDFILE"])
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (n *ietNode) agent() *Agent {
	a := New(func(k string) string { return n.env[k] })
	a.Interval = 10 * time.Millisecond
	a.WaitTries = 300
	inner := a.Run
	a.Run = func(name string, args ...string) (Result, error) {
		n.calls = append(n.calls, filepath.Base(name)+" "+strings.Join(args, " "))
		return inner(name, args...)
	}
	return a
}

type result struct {
	code           int
	stdout, stderr string
}

func (n *ietNode) run(f func(*Agent, []string, agent.IO) int, args ...string) result {
	var out, errb bytes.Buffer
	io := agent.IO{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return n.env[k] }}
	n.calls = nil
	code := f(n.agent(), args, io)
	return result{code, out.String(), errb.String()}
}

func service(a *Agent, args []string, io agent.IO) int { return a.Service(args, io) }
func target(a *Agent, args []string, io agent.IO) int  { return a.Target(args, io) }
func lu(a *Agent, args []string, io agent.IO) int      { return a.LogicalUnit(args, io) }

func (n *ietNode) volume() []IetTarget {
	data, err := os.ReadFile(filepath.Join(n.env["IET_PROC"], "volume"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		n.t.Fatal(err)
	}
	ts, err := ParseIetVolume(string(data))
	if err != nil {
		n.t.Fatal(err)
	}
	return ts
}

func (n *ietNode) setFail(prefix string, code int) {
	path := n.env["FAKE_IET_STATE"]
	var s map[string]any
	data, _ := os.ReadFile(path)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &s); err != nil {
			n.t.Fatal(err)
		}
	} else {
		s = map[string]any{}
	}
	s["fail"] = map[string]int{prefix: code}
	data, _ = json.Marshal(s)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// seedConf writes seed 002's ietd.conf the way the admin laid it out:
// the file on the replicated file system, /etc/iet/ietd.conf a symlink.
func (n *ietNode) seedConf(backing string) string {
	shared := filepath.Join(n.dir, "srv-data", "iscsi", "ietd.conf")
	if err := os.MkdirAll(filepath.Dir(n.env["IET_CONF"]), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Symlink(shared, n.env["IET_CONF"]); err != nil {
		n.t.Fatal(err)
	}
	return shared
}

func writeSeedConf(t *testing.T, path, backing string) {
	conf := "Target iqn.2011-08.local.demo:storage.disk.0\n" +
		"# IncomingUser geekshlby secret - ,\n" +
		"Lun 0 Path=" + backing + ",Type=blockio\n" +
		"Alias disk0\nMaxConnections 1\nInitialR2T Yes\nImmediateData No\nWthreads 8\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func backingFile(t *testing.T, dir string) string {
	p := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const seedIQN = "iqn.2011-08.local.demo:storage.disk.0"

func TestIETServiceSeed002(t *testing.T) {
	n := newIETNode(t)
	shared := n.seedConf("")
	disk := backingFile(t, n.dir)

	// The replicated file system is not mounted yet: the symlink dangles.
	r := n.run(service, "start")
	if r.code != agent.Failed || !strings.Contains(r.stderr, "is a symlink to "+shared) || !strings.Contains(r.stderr, "mount the file system") {
		t.Fatalf("start with dangling symlink: %+v", r)
	}
	if len(n.calls) != 0 {
		t.Fatalf("ran %q before finding the config", n.calls)
	}
	if r := n.run(service, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status before start: %+v", r)
	}

	writeSeedConf(t, shared, disk)
	r = n.run(service, "start")
	if r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if len(n.calls) != 1 || n.calls[0] != "ietd -c "+n.env["IET_CONF"] {
		t.Fatalf("start ran %q, want just ietd -c CONF", n.calls)
	}
	ts := n.volume()
	if len(ts) != 1 || ts[0].Name != seedIQN || len(ts[0].LUNs) != 1 || ts[0].LUNs[0].Path != disk || ts[0].LUNs[0].IOType != "blockio" {
		t.Fatalf("kernel after start: %+v", ts)
	}
	if r := n.run(service, "status"); r.stdout != "running\n" || r.code != 0 {
		t.Fatalf("status after start: %+v", r)
	}
	// Idempotent: a second start runs no ietd.
	if r := n.run(service, "start"); r.code != 0 || len(n.calls) != 0 {
		t.Fatalf("second start: %+v, ran %q", r, n.calls)
	}

	r = n.run(service, "stop")
	if r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	if len(n.calls) != 1 || n.calls[0] != "ietadm --op delete" {
		t.Fatalf("stop ran %q", n.calls)
	}
	if ts := n.volume(); len(ts) != 0 {
		t.Fatalf("kernel still exports %+v", ts)
	}
	if a := n.agent(); a.ietdPid() != 0 {
		t.Fatal("ietd still running after stop")
	}
	if r := n.run(service, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status after stop: %+v", r)
	}
	if r := n.run(service, "stop"); r.code != 0 || len(n.calls) != 0 {
		t.Fatalf("second stop: %+v ran %q", r, n.calls)
	}
}

func TestIETServiceStopKeepsIetdWhenDeleteFails(t *testing.T) {
	n := newIETNode(t)
	writeSeedConf(t, n.env["IET_CONF"], backingFile(t, n.dir))
	if r := n.run(service, "iet", "start"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	n.setFail("ietadm --op delete", 240) // -EBUSY
	r := n.run(service, "stop")
	if r.code != agent.Failed || !strings.Contains(r.stderr, "--op delete --tid=1` failed (exit 240)") {
		t.Fatalf("stop with failing delete: %+v", r)
	}
	want := "ietadm --op delete|ietadm --op delete --tid=1"
	if strings.Join(n.calls, "|") != want {
		t.Fatalf("stop ran %q, want %q", n.calls, want)
	}
	if n.agent().ietdPid() == 0 {
		t.Fatal("stop killed ietd although the kernel still exports the target: nothing could delete it now")
	}
	// Targets still exported: status must not say stopped.
	if r := n.run(service, "status"); r.stdout != "running\n" {
		t.Fatalf("status: %+v", r)
	}
	n.setFail("nothing", 0)
	if r := n.run(service, "stop"); r.code != 0 {
		t.Fatalf("stop after the failure cleared: %+v", r)
	}
}

func TestIETServiceKernelWithoutIetd(t *testing.T) {
	n := newIETNode(t)
	writeSeedConf(t, n.env["IET_CONF"], backingFile(t, n.dir))
	if r := n.run(service, "start"); r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	n.killIetd() // ietd crashed; the kernel keeps the targets and sessions
	deadline := time.Now().Add(5 * time.Second)
	for n.agent().ietdPid() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r := n.run(service, "status"); r.stdout != "may be running\n" || !strings.Contains(r.stderr, "kernel still exports") {
		t.Fatalf("status: %+v", r)
	}
	if r := n.run(service, "stop"); r.code != agent.Failed || !strings.Contains(r.stderr, "ietd is not running") {
		t.Fatalf("stop: %+v", r)
	}
}

func TestIETTargetAndLUN(t *testing.T) {
	n := newIETNode(t)
	disk := backingFile(t, n.dir)
	iqn := "iqn.2024-01.test:t1"

	// No ietd: the per-target form needs the service.
	if r := n.run(target, iqn, "start"); r.code != agent.Failed {
		t.Fatalf("target start without ietd: %+v", r)
	}
	writeSeedConf(t, n.env["IET_CONF"], disk)
	if r := n.run(service, "start"); r.code != 0 {
		t.Fatalf("service start: %+v", r)
	}

	r := n.run(target, iqn, "start")
	if r.code != 0 || strings.Join(n.calls, "|") != "ietadm --op new --tid=2 --params Name="+iqn {
		t.Fatalf("target start: %+v ran %q", r, n.calls)
	}
	if r := n.run(target, iqn, "start"); r.code != 0 || len(n.calls) != 0 {
		t.Fatalf("second target start: %+v ran %q", r, n.calls)
	}
	if r := n.run(target, iqn, "status"); r.stdout != "running\n" {
		t.Fatalf("target status: %+v", r)
	}

	// LUN 1 without LUN 0: IET numbers from 0 and initiators want LUN 0.
	r = n.run(lu, iqn, "1", disk, "start")
	if r.code != 0 || strings.Join(n.calls, "|") != "ietadm --op new --tid=2 --lun=1 --params Path="+disk+",Type=fileio" {
		t.Fatalf("lu start: %+v ran %q", r, n.calls)
	}
	if !strings.Contains(r.stderr, "has no LUN 0") {
		t.Fatalf("no LUN 0 warning: %q", r.stderr)
	}
	if r := n.run(lu, iqn, "1", disk, "status"); r.stdout != "running\n" {
		t.Fatalf("lu status: %+v", r)
	}
	if r := n.run(lu, iqn, "1", "/other", "status"); r.stdout != "stopped\n" || !strings.Contains(r.stderr, "exports "+disk) {
		t.Fatalf("lu status for another path: %+v", r)
	}
	if r := n.run(lu, iqn, "1", "/other", "stop"); r.code != 0 || len(n.calls) != 0 {
		t.Fatalf("stop of a LUN that is not ours must leave it: %+v ran %q", r, n.calls)
	}
	if r := n.run(lu, iqn, "0", disk, "start"); r.code != 0 || strings.Contains(r.stderr, "LUN 0") {
		t.Fatalf("lu 0 start: %+v", r)
	}

	r = n.run(lu, iqn, "1", disk, "stop")
	if r.code != 0 || strings.Join(n.calls, "|") != "ietadm --op delete --tid=2 --lun=1" {
		t.Fatalf("lu stop: %+v ran %q", r, n.calls)
	}
	if r := n.run(lu, iqn, "1", disk, "stop"); r.code != 0 || len(n.calls) != 0 {
		t.Fatalf("second lu stop: %+v ran %q", r, n.calls)
	}
	r = n.run(target, iqn, "stop")
	if r.code != 0 || strings.Join(n.calls, "|") != "ietadm --op delete --tid=2" {
		t.Fatalf("target stop: %+v ran %q", r, n.calls)
	}
	if _, ok := findIet(n.volume(), iqn); ok {
		t.Fatal("target still there")
	}
	if r := n.run(target, iqn, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status after stop: %+v", r)
	}
	if _, ok := findIet(n.volume(), seedIQN); !ok {
		t.Fatal("per-target stop removed the service's own target")
	}
}

func TestIETBadArgs(t *testing.T) {
	n := newIETNode(t)
	for _, args := range [][]string{
		{},
		{"start", "extra"},
		{"bogus", "start"},
		{"restart"},
	} {
		if r := n.run(service, args...); r.code != agent.BadArgs || r.stderr == "" {
			t.Errorf("iscsitarget %q: %+v", args, r)
		}
	}
	for _, args := range [][]string{
		{"start"},
		{"not-an-iqn", "start"},
		{"iqn.2024-01.x:y", "10.0.0.1", "start"},
		{"iqn.2024-01.x:y", "", "zero", "start"},
		{"iqn.2024-01.x:y", "", "", "10.0.0.0/8", "start"}, // IET: initiators.allow
	} {
		if r := n.run(target, args...); r.code != agent.BadArgs || r.stderr == "" {
			t.Errorf("iSCSITarget %q: %+v", args, r)
		}
	}
	for _, args := range [][]string{
		{"iqn.2024-01.x:y", "1", "start"},
		{"iqn.2024-01.x:y", "x", "/d", "start"},
		{"iqn.2024-01.x:y", "1", "rel/path", "start"},
		{"iqn.2024-01.x:y", "1", "/a,b", "start"},
	} {
		if r := n.run(lu, args...); r.code != agent.BadArgs || r.stderr == "" {
			t.Errorf("iSCSILogicalUnit %q: %+v", args, r)
		}
	}
	if len(n.calls) != 0 {
		t.Fatalf("bad arguments ran %q", n.calls)
	}
}

func TestIETModuleMissing(t *testing.T) {
	n := newIETNode(t)
	writeSeedConf(t, n.env["IET_CONF"], backingFile(t, n.dir))
	os.Remove(n.env["IET_PROC"])
	r := n.run(service, "start")
	if r.code != agent.Failed || !strings.Contains(r.stderr, "iscsi_trgt") || n.calls[0] != "false iscsi_trgt" {
		t.Fatalf("start without module: %+v ran %q", r, n.calls)
	}
	if r := n.run(service, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status without module: %+v", r)
	}
	if r := n.run(service, "stop"); r.code != 0 {
		t.Fatalf("stop without module: %+v", r)
	}
}
