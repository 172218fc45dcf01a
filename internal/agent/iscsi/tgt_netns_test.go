//go:build netns

package iscsi

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"heartbeatd/internal/agent"
)

// tgtLab is a private tgtd for one test: its own control port (so the
// system's tgtd, if any, is never addressed) and its own network namespace
// (so its iSCSI portal does not collide with a system one on :3260).
type tgtLab struct {
	t       *testing.T
	dir     string
	port    int
	pidfile string
	env     map[string]string
	calls   []string
}

func newTgtLab(t *testing.T) *tgtLab {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to run tgtd in a network namespace")
	}
	for _, tool := range []string{"tgtd", "tgtadm", "tgt-admin", "unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (tests/install-deps.sh installs it)", tool)
		}
	}
	l := &tgtLab{t: t, dir: t.TempDir()}
	// A port no tgtd answers on, within tgtd's -C range (1..32767): the
	// start depends on the pid so parallel test binaries differ.
	for i := 0; i < maxTgtControlPort && l.port == 0; i++ {
		p := 1000 + (os.Getpid()+i)%(maxTgtControlPort-1000)
		if r, _ := agent.RunCommand("tgtadm", "-C", strconv.Itoa(p), "--op", "show", "--mode", "sys"); r.Code != 0 {
			l.port = p
		}
	}
	if l.port == 0 {
		t.Fatal("no free tgtd control port")
	}
	l.pidfile = filepath.Join(l.dir, "tgtd.pid")
	wrapper := filepath.Join(l.dir, "tgtd-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec unshare -n sh -c 'ip link set lo up && exec tgtd -p %s \"$@\"' tgtd \"$@\"\n", l.pidfile)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l.env = map[string]string{
		"ISCSI_IMPLEMENTATION": "tgt",
		"TGTD":                 wrapper,
		"TGT_CONTROL_PORT":     strconv.Itoa(l.port),
		"TGT_CONF":             filepath.Join(l.dir, "targets.conf"),
	}
	t.Cleanup(l.cleanup)
	return l
}

// cleanup ends the tgtd this test started, by its pid.
func (l *tgtLab) cleanup() {
	if ts, err := l.show(); err == nil {
		for _, tg := range ts {
			l.tgtadm("--lld", "iscsi", "--op", "delete", "--mode", "target", "--force", "--tid", strconv.Itoa(tg.TID))
		}
	}
	data, err := os.ReadFile(l.pidfile)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	os.Remove(fmt.Sprintf("/var/run/tgtd/socket.%d", l.port))
	os.Remove(fmt.Sprintf("/var/run/tgtd/socket.%d.lock", l.port))
}

func (l *tgtLab) tgtadm(args ...string) Result {
	r, err := agent.RunCommand("tgtadm", append([]string{"-C", strconv.Itoa(l.port)}, args...)...)
	if err != nil {
		l.t.Fatal(err)
	}
	return r
}

// show is what tgtd itself says, independent of the agent.
func (l *tgtLab) show() ([]TgtTarget, error) {
	r := l.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target")
	if r.Code != 0 {
		return nil, fmt.Errorf("tgtadm show: %s", r.Text())
	}
	return ParseTgtShow(r.Stdout)
}

func (l *tgtLab) answers() bool { return l.tgtadm("--op", "show", "--mode", "sys").Code == 0 }

func (l *tgtLab) run(f func(*Agent, []string, agent.IO) int, args ...string) result {
	a := New(func(k string) string { return l.env[k] })
	a.Interval = 50 * time.Millisecond
	a.WaitTries = 100
	l.calls = nil
	a.Run = func(name string, args ...string) (Result, error) {
		l.calls = append(l.calls, filepath.Base(name)+" "+strings.Join(args, " "))
		return agent.RunCommand(name, args...)
	}
	var out, errb bytes.Buffer
	code := f(a, args, agent.IO{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return l.env[k] }})
	return result{code, out.String(), errb.String()}
}

func (l *tgtLab) file(name string) string {
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Truncate(p, 8<<20); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func TestTgtService(t *testing.T) {
	l := newTgtLab(t)
	disk := l.file("disk0.img")
	iqn := "iqn.2011-08.local.demo:storage.disk.0"
	conf := fmt.Sprintf("<target %s>\n    backing-store %s\n</target>\n", iqn, disk)
	if err := os.WriteFile(l.env["TGT_CONF"], []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := l.run(service, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status before start: %+v", r)
	}
	r := l.run(service, "start")
	if r.code != 0 {
		t.Fatalf("start: %+v", r)
	}
	if !strings.HasPrefix(strings.Join(l.calls, "|"), "tgtadm -C "+l.env["TGT_CONTROL_PORT"]+" --op show --mode sys|tgtd-netns -C ") {
		t.Fatalf("start did not launch tgtd first: %q", l.calls)
	}
	ts, err := l.show()
	if err != nil {
		t.Fatal(err)
	}
	tg, ok := findTarget(ts, iqn)
	if lun, _ := tg.LUN(1); !ok || lun.Path != disk {
		t.Fatalf("tgtd after start: %+v", ts)
	}
	if r := l.run(service, "status"); r.stdout != "running\n" || r.code != 0 {
		t.Fatalf("status: %+v", r)
	}
	// Idempotent: no second tgtd, no second target.
	if r := l.run(service, "tgt", "start"); r.code != 0 || strings.Contains(strings.Join(l.calls, "|"), "tgtd-netns") {
		t.Fatalf("second start: %+v ran %q", r, l.calls)
	}
	if ts, _ := l.show(); len(ts) != 1 {
		t.Fatalf("after second start: %+v", ts)
	}

	if r := l.run(service, "stop"); r.code != 0 {
		t.Fatalf("stop: %+v", r)
	}
	if l.answers() {
		t.Fatal("tgtd still answers after stop")
	}
	if r := l.run(service, "status"); r.stdout != "stopped\n" {
		t.Fatalf("status after stop: %+v", r)
	}
	if r := l.run(service, "stop"); r.code != 0 {
		t.Fatalf("second stop: %+v", r)
	}
}

func TestTgtTargetAndLogicalUnit(t *testing.T) {
	l := newTgtLab(t)
	svcIQN := "iqn.2024-01.test:service"
	if err := os.WriteFile(l.env["TGT_CONF"], []byte(fmt.Sprintf("<target %s>\n  backing-store %s\n</target>\n", svcIQN, l.file("svc.img"))), 0o644); err != nil {
		t.Fatal(err)
	}
	iqn := "iqn.2024-01.test:per-target"
	disk := l.file("lun1.img")

	if r := l.run(target, iqn, "start"); r.code != agent.Failed || !strings.Contains(r.stderr, "tgtd is not answering") {
		t.Fatalf("target start without tgtd: %+v", r)
	}
	if r := l.run(service, "start"); r.code != 0 {
		t.Fatalf("service start: %+v", r)
	}
	if r := l.run(target, iqn, "-", "7", "start"); r.code != 0 {
		t.Fatalf("target start: %+v", r)
	}
	ts, _ := l.show()
	tg, ok := findTarget(ts, iqn)
	if !ok || tg.TID != 7 || strings.Join(tg.ACL, ",") != "ALL" {
		t.Fatalf("target after start: %+v", ts)
	}
	if r := l.run(target, iqn, "-", "7", "start"); r.code != 0 || len(l.calls) != 2 {
		t.Fatalf("second target start: %+v ran %q", r, l.calls)
	}
	if r := l.run(lu, iqn, "0", disk, "start"); r.code != agent.BadArgs || !strings.Contains(r.stderr, "controller") {
		t.Fatalf("LUN 0 on tgt: %+v", r)
	}
	if r := l.run(lu, iqn, "1", disk, "status"); r.stdout != "stopped\n" {
		t.Fatalf("lu status before start: %+v", r)
	}
	if r := l.run(lu, iqn, "1", disk, "start"); r.code != 0 {
		t.Fatalf("lu start: %+v", r)
	}
	ts, _ = l.show()
	tg, _ = findTarget(ts, iqn)
	if lun, ok := tg.LUN(1); !ok || lun.Path != disk || lun.Type != "disk" {
		t.Fatalf("LUN after start: %+v", tg)
	}
	if r := l.run(lu, iqn, "1", disk, "status"); r.stdout != "running\n" {
		t.Fatalf("lu status: %+v", r)
	}
	if r := l.run(lu, iqn, "1", disk, "start"); r.code != 0 {
		t.Fatalf("second lu start: %+v", r)
	}
	if r := l.run(lu, iqn, "1", disk, "stop"); r.code != 0 {
		t.Fatalf("lu stop: %+v", r)
	}
	ts, _ = l.show()
	tg, _ = findTarget(ts, iqn)
	if _, ok := tg.LUN(1); ok {
		t.Fatalf("LUN 1 still there: %+v", tg)
	}
	if r := l.run(lu, iqn, "1", disk, "stop"); r.code != 0 {
		t.Fatalf("second lu stop: %+v", r)
	}
	if r := l.run(target, iqn, "stop"); r.code != 0 {
		t.Fatalf("target stop: %+v", r)
	}
	ts, _ = l.show()
	if _, ok := findTarget(ts, iqn); ok {
		t.Fatalf("target still there: %+v", ts)
	}
	if _, ok := findTarget(ts, svcIQN); !ok {
		t.Fatalf("per-target stop removed the service's target: %+v", ts)
	}
	if r := l.run(target, iqn, "status"); r.stdout != "stopped\n" {
		t.Fatalf("target status after stop: %+v", r)
	}

	// A target that is not in targets.conf keeps tgtd running on stop.
	if r := l.run(target, iqn, "start"); r.code != 0 {
		t.Fatalf("target restart: %+v", r)
	}
	if r := l.run(service, "stop"); r.code != 0 || !strings.Contains(r.stdout, "leaving tgtd running") {
		t.Fatalf("service stop with a foreign target: %+v", r)
	}
	ts, _ = l.show()
	if _, ok := findTarget(ts, svcIQN); ok || len(ts) != 1 {
		t.Fatalf("after service stop: %+v", ts)
	}
	if r := l.run(service, "status"); r.stdout != "stopped\n" {
		t.Fatalf("service status: %+v", r)
	}
}
