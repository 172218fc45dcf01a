package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"heartbeatd/internal/authlimit"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/config"
	"heartbeatd/internal/executor/executortest"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/media"
	"heartbeatd/internal/wire"
)

// TestBadAuthLogRateOnInjectedClock: a forged packet's "failed
// authentication" line is logged once per source and link and interval of
// the daemon's clock (10 s), not of the wall clock; the rest of the
// interval's failures make one summary line. A flood from rotating
// sources logs a bounded number of lines.
func TestBadAuthLogRateOnInjectedClock(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	fake := clock.NewFake(t0)
	logFile := filepath.Join(t.TempDir(), "ha-log")
	lg, err := logging.New(logging.Options{Facility: "none", LogFile: logFile, Host: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	ours, err := wire.NewKeyring(wire.Key{Index: 1, Method: wire.MethodSHA1, Secret: []byte("ours")})
	if err != nil {
		t.Fatal(err)
	}
	forger, err := wire.NewKeyring(wire.Key{Index: 1, Method: wire.MethodSHA1, Secret: []byte("forged")})
	if err != nil {
		t.Fatal(err)
	}
	forged := func(src string) media.Packet {
		m := wire.New("status")
		m.Set("src", src)
		pkt, err := forger.Seal(m)
		if err != nil {
			t.Fatal(err)
		}
		return media.Packet{Data: pkt, Link: "eth1", From: netip.MustParseAddrPort("10.0.0.9:694")}
	}
	d := &Daemon{clock: fake, log: lg, keys: ours, cfg: &config.Config{}, authFail: authlimit.New(0, 0)}
	log := func() string {
		if err := lg.Flush(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(logFile)
		return string(b)
	}
	p := forged("mallory")
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 1}, {0, 1}, {999 * time.Millisecond, 1}, {5 * time.Second, 1}} {
		fake.Advance(step.advance)
		d.receive(p)
		if got := strings.Count(log(), "node [mallory] failed authentication"); got != step.want {
			t.Fatalf("at +%v: %d lines, want %d", fake.Since(t0), got, step.want)
		}
	}
	due, ok := d.authFail.Due()
	if !ok || due != t0.Add(10*time.Second) {
		t.Fatalf("summary due %v %v, want at +10s", due, ok)
	}
	fake.Advance(due.Sub(fake.Now()))
	if line, ok := d.authFail.Summary(fake.Now()); !ok || line != "4 packets failed authentication from 1 source in the last 10s" {
		t.Fatalf("summary %q %v", line, ok)
	}
	// A flood of 10,000 forged packets from distinct sources: at most the
	// table's size in lines.
	before := strings.Count(log(), "failed authentication")
	for i := 0; i < 10000; i++ {
		d.receive(forged(fmt.Sprintf("src%d", i)))
	}
	if n := strings.Count(log(), "failed authentication") - before; n > authlimit.DefaultSources {
		t.Errorf("%d lines for a flood of 10000 sources, want at most %d", n, authlimit.DefaultSources)
	}
	if d.stats.authFailures != 10004 {
		t.Errorf("authFailures = %d, want 10004", d.stats.authFailures)
	}
}

// armingClock is a fake clock that notes when its timers (in this test,
// the loop's alarm) are next due, so a test advances it only while the loop
// waits for its alarm, never in the middle of a turn.
type armingClock struct {
	*clock.Fake
	mu  sync.Mutex
	due time.Time // the last Reset's deadline
}

func (c *armingClock) NewTimer(d time.Duration) clock.Timer {
	return armingTimer{c.Fake.NewTimer(d), c}
}

// armed: the alarm is set for later than now.
func (c *armingClock) armed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.due.After(c.Now())
}

type armingTimer struct {
	clock.Timer
	c *armingClock
}

func (t armingTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.c.due = t.c.Now().Add(d)
	return t.Timer.Reset(d)
}

// TestLoopRunsOnInjectedClock runs a whole daemon (one node on loopback, its
// peer absent) on a fake clock, stepping the clock from one armed timer to
// the next: the systemd watchdog is fed every 30 s of fake time, which
// takes milliseconds of real time, and the graceful shutdown ends after
// its linger of fake time. Its one group is taken after initdead, alone,
// and released at the shutdown, through fake scripts: no fork.
func TestLoopRunsOnInjectedClock(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	for _, sub := range []string{conf, filepath.Join(dir, "state")} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	hacf := fmt.Sprintf("logfile %s/ha-log\nlogfacility none\nrealtime no\n"+
		"keepalive 1\ndeadtime 10\nwarntime 5\ninitdead 20\nudpport %d\nucast lo 127.0.0.1\nnode n1\nnode n2\n",
		dir, port)
	for name, body := range map[string]string{"ha.cf": hacf, "authkeys": "auth 1\n1 sha1 clock-test\n", "haresources": "n1 svc\n"} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	fs := &executortest.Scripts{}
	fake := clock.NewFake(t0)
	clk := &armingClock{Fake: fake}
	var mu sync.Mutex
	var watchdogs []time.Duration // fake time of each WATCHDOG=1
	ready := false
	notify := func(s string) { // runs on the loop's goroutine
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case "READY=1":
			ready = true
		case "WATCHDOG=1":
			watchdogs = append(watchdogs, fake.Since(t0))
		}
	}
	d, err := New(Options{ConfDir: conf, RunDir: filepath.Join(dir, "run"), StateDir: filepath.Join(dir, "state"),
		Node: "n1", Clock: clk, Notify: notify, Watchdog: 30 * time.Second, Scripts: fs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runErr error
	var finished atomic.Bool
	go func() {
		runErr = d.Run(ctx)
		finished.Store(true)
	}()

	defer func() {
		if b, err := os.ReadFile(filepath.Join(dir, "ha-log")); t.Failed() && err == nil {
			t.Logf("log:\n%s", b)
		}
	}()
	realStart := time.Now()
	deadline := realStart.Add(20 * time.Second)
	isReady := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready
	}
	for !isReady() {
		if finished.Load() {
			t.Fatalf("Run returned before READY=1: %v", runErr)
		}
		if time.Now().After(deadline) {
			t.Fatal("no READY=1")
		}
		time.Sleep(time.Millisecond)
	}
	// step waits until the loop has armed its alarm (its turn is over),
	// then advances the fake clock to the next armed timer (the alarm, or
	// a medium's re-check), by half a second at most: a turn the test does
	// not wait for (a packet of our own coming back over lo) may re-arm the
	// alarm while the clock moves, and is then at worst that much late.
	step := func() {
		for !clk.armed() && !finished.Load() {
			if time.Now().After(deadline) {
				t.Fatal("the loop did not arm its alarm")
			}
			time.Sleep(50 * time.Microsecond)
		}
		adv := 500 * time.Millisecond
		if next, ok := fake.Next(); ok && next.Sub(fake.Now()) < adv {
			adv = next.Sub(fake.Now())
		}
		fake.Advance(adv)
	}
	for fake.Since(t0) < 95*time.Second && !finished.Load() {
		step()
	}
	if finished.Load() {
		t.Fatalf("Run returned early: %v", runErr)
	}
	if got := fs.Ops(); strings.Join(got, "|") != "status svc|start svc" {
		t.Errorf("script ops while alone: %q, want status, then start of svc", got)
	}
	cancel()
	stopAt := fake.Since(t0)
	for !finished.Load() {
		if fake.Since(t0) > stopAt+100*time.Second {
			t.Fatal("no shutdown within 100 s of fake time")
		}
		step()
	}
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
	if got := fs.Ops(); len(got) != 3 || got[2] != "stop svc" {
		t.Errorf("script ops at the end: %q, want svc stopped at the shutdown", got)
	}
	if took := fake.Since(t0) - stopAt; took < shutdownLinger {
		t.Errorf("shut down %v of fake time after the request, before its linger of %v", took, shutdownLinger)
	}
	// The generation is first taken from the clock's date (no file yet).
	if b, _ := os.ReadFile(filepath.Join(dir, "ha-log")); !strings.Contains(string(b),
		fmt.Sprintf("Heartbeat generation: %d", t0.Unix()+1)) {
		t.Errorf("the generation was not taken from the daemon's clock")
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("WATCHDOG=1 at fake %v; %v of real time", watchdogs, time.Since(realStart))
	if time.Since(realStart) >= 30*time.Second {
		t.Skip("real time passed a watchdog period: the test cannot tell the clocks apart")
	}
	if len(watchdogs) != 3 {
		t.Fatalf("%d WATCHDOG=1 in 95 s of fake time, want 3 (at 30, 60, 90 s)", len(watchdogs))
	}
	for i, at := range watchdogs {
		if want := time.Duration(i+1) * 30 * time.Second; at < want || at > want+5*time.Second {
			t.Errorf("WATCHDOG=1 #%d at fake %v, want %v", i+1, at, want)
		}
	}
}
