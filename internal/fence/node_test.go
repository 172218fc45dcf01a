package fence

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/config"
	"heartbeatd/internal/level"
)

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) log(lv level.Level, s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, string(lv)+": "+s)
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// The first device refuses, the second resets: the node is reset, with
// Heartbeat's lines, and no parameter (a password on a real device) in
// any of them.
func TestFencerTriesDevicesInOrder(t *testing.T) {
	typ := installPlugin(t)
	bad, _ := switchDevice(t, typ, "fail")
	good, goodLog := switchDevice(t, typ, "ok")
	var l lines
	f := &Fencer{Runner: &Runner{}, Devices: []config.FenceDevice{bad, good}, Log: l.log}
	if !f.ResetNode(timeout(t, 30*time.Second), "node2") {
		t.Fatalf("not reset:\n%s", l.text())
	}
	got := l.text()
	for _, want := range []string{"info: Resetting node node2 with [stonith_host * " + typ + "]",
		"ERROR: Reset of node node2 with [stonith_host * " + typ + "] failed", "info: Reset of node node2 with [stonith_host * " + typ + "] done in "} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	// "node N now reset." is the resource manager's line: logged here too,
	// an admin would read it twice for one reset.
	if strings.Contains(got, "now reset") {
		t.Errorf("the Fencer logged Heartbeat's \"now reset.\" line, which rm logs:\n%s", got)
	}
	if strings.Contains(got, goodLog) || strings.Contains(got, "node1 node2") {
		t.Errorf("a parameter reached the log:\n%s", got)
	}
	if r := readLog(t, goodLog); len(r) != 1 || !strings.HasPrefix(r[0], "reset node2") {
		t.Errorf("switch log %q", r)
	}
}

func TestFencerFailsWhenNoDeviceResets(t *testing.T) {
	typ := installPlugin(t)
	bad, _ := switchDevice(t, typ, "fail")
	var l lines
	f := &Fencer{Runner: &Runner{}, Devices: []config.FenceDevice{bad}, Log: l.log}
	if f.ResetNode(timeout(t, 30*time.Second), "node2") {
		t.Fatal("reset reported with a refusing switch")
	}
	if (&Fencer{Runner: &Runner{}, Log: l.log}).ResetNode(context.Background(), "node2") {
		t.Fatal("reset reported without a device")
	}
}

// Watch warns once when a device stops answering, and says when it
// answers again; a fake clock paces the checks.
func TestFencerWatch(t *testing.T) {
	typ := installPlugin(t)
	dev, _ := switchDevice(t, typ, "fail")
	var l lines
	f := &Fencer{Runner: &Runner{}, Devices: []config.FenceDevice{dev}, Log: l.log}
	fake := clock.NewFake(time.Unix(1000, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Watch(ctx, fake, time.Minute); close(done) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s:\n%s", what, l.text())
			}
		}
	}
	waitFor("no warning for a failing device", func() bool { return strings.Contains(l.text(), "does not answer its status check") })
	waitFor("no timer armed", func() bool { _, ok := fake.Next(); return ok })
	fake.Advance(time.Minute) // second check: still failing, no second warning
	waitFor("no second check", func() bool { _, ok := fake.Next(); return ok && fake.Since(time.Unix(1000, 0)) == time.Minute })
	cancel()
	fake.Advance(time.Minute)
	<-done
	if n := strings.Count(l.text(), "does not answer"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, l.text())
	}
}
