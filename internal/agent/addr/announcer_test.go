package addr

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/garp"
)

func TestRefreshFromEnv(t *testing.T) {
	for _, tc := range []struct {
		v     string
		want  time.Duration
		warns int
	}{
		{"", 0, 0}, {"0", 0, 0}, {"30000", 30 * time.Second, 0}, {" 1000 ", time.Second, 0},
		{"999", 0, 1}, {"-5", 0, 1}, {"30s", 0, 1}, {"99999999999", 0, 1},
	} {
		got, w := RefreshFromEnv(env(map[string]string{agent.EnvARPRefresh: tc.v}))
		if got != tc.want || len(w) != tc.warns {
			t.Errorf("%s=%q: %v %q, want %v and %d warnings", agent.EnvARPRefresh, tc.v, got, w, tc.want, tc.warns)
		}
	}
}

// The refresh sends one slot per interval while the address is ours, skips
// a round whose check or send failed, and ends when the address is
// released or the announcer is told to stop.
func TestRefreshLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		rounds := 0
		owned := func() (bool, error) {
			rounds++
			switch rounds {
			case 2:
				return false, errors.New("netlink hiccup")
			case 5:
				return false, nil // released
			}
			return true, nil
		}
		send := func() error {
			at = append(at, time.Since(start))
			if len(at) == 2 {
				return errors.New("link down")
			}
			return nil
		}
		RefreshLoop(time.Second, clock.Real{}, nil, owned, send)
		want := []time.Duration{time.Second, 3 * time.Second, 4 * time.Second}
		if fmt.Sprint(at) != fmt.Sprint(want) || rounds != 5 || time.Since(start) != 5*time.Second {
			t.Errorf("sent at %v after %d rounds, ended at %v; want %v, 5 rounds, 5s", at, rounds, time.Since(start), want)
		}

		stop := make(chan struct{})
		done := make(chan struct{})
		sent := 0
		go func() {
			RefreshLoop(time.Second, clock.Real{}, stop, func() (bool, error) { return true, nil }, func() error { sent++; return nil })
			close(done)
		}()
		time.Sleep(2500 * time.Millisecond)
		close(stop)
		<-done
		if sent != 2 {
			t.Errorf("sent %d before the stop, want 2", sent)
		}
	})
}

// One announcer per address: a second claim makes the first step down,
// DismissAnnouncer ends the second, and a released address has none.
func TestClaimAnnouncerNewestWins(t *testing.T) {
	// Abstract sockets are per network namespace; this test runs in the
	// host's, so the address is made unique to this process.
	ip := netip.AddrFrom16([16]byte{0xfd, 0, 0x02, 0x33, 14: byte(os.Getpid() >> 8), 15: byte(os.Getpid())})
	first, err := ClaimAnnouncer(ip, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := ClaimAnnouncer(ip, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	select {
	case <-first.Superseded():
	case <-time.After(5 * time.Second):
		t.Fatal("the first announcer was not told to step down")
	}
	select {
	case <-second.Superseded():
		t.Fatal("the newest announcer was superseded")
	default:
	}
	if found, err := DismissAnnouncer(ip); !found || err != nil {
		t.Fatalf("DismissAnnouncer: found %v, %v", found, err)
	}
	select {
	case <-second.Superseded():
	case <-time.After(5 * time.Second):
		t.Fatal("DismissAnnouncer did not end the announcer")
	}
	deadline := time.Now().Add(5 * time.Second)
	for found, _ := DismissAnnouncer(ip); found; found, _ = DismissAnnouncer(ip) {
		if time.Now().After(deadline) {
			t.Fatal("the name is still taken after the announcer ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// DismissAnnouncer returns only once the announcer has silenced its
// sender: a stop that returned while a frame was still being written let
// that frame out after the address was gone (and after the peer's first
// announcement, in a switchover).
func TestDismissWaitsForTheSenderToGoQuiet(t *testing.T) {
	ip := netip.AddrFrom16([16]byte{0xfd, 0, 0x02, 0x34, 14: byte(os.Getpid() >> 8), 15: byte(os.Getpid())})
	var quiet atomic.Bool
	c, err := ClaimAnnouncer(ip, func() {
		time.Sleep(200 * time.Millisecond) // a write under way
		quiet.Store(true)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if found, err := DismissAnnouncer(ip); !found || err != nil {
		t.Fatalf("DismissAnnouncer: found %v, %v", found, err)
	}
	if !quiet.Load() {
		t.Fatal("DismissAnnouncer returned before the announcer silenced its sender")
	}
	select {
	case <-c.Superseded():
	default:
		t.Fatal("the claim is not marked superseded")
	}
	// The name is free again for a newcomer.
	next, err := ClaimAnnouncer(ip, nil)
	if err != nil {
		t.Fatal(err)
	}
	next.Close()
}

// An announcer that does not go quiet within dismissWait (stuck in a
// write) is reported, so stop can say a frame may still follow.
func TestDismissReportsAnAnnouncerThatDoesNotAnswer(t *testing.T) {
	ip := netip.AddrFrom16([16]byte{0xfd, 0, 0x02, 0x35, 14: byte(os.Getpid() >> 8), 15: byte(os.Getpid())})
	c, err := ClaimAnnouncer(ip, func() { time.Sleep(dismissWait + 500*time.Millisecond) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	found, err := DismissAnnouncer(ip)
	if !found || err == nil || !strings.Contains(err.Error(), "did not confirm it stopped") {
		t.Fatalf("DismissAnnouncer: found %v, %v; want found and an error", found, err)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// The tail stops once the daemon that started it is gone: after a
// kill -9 the peer takes the address over, and announcing it from the
// dead node would pull the clients back.
func TestDaemonAlive(t *testing.T) {
	if !DaemonAlive(0) || !DaemonAlive(os.Getpid()) {
		t.Fatal("no pid, or our own, counted as gone")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if DaemonAlive(cmd.Process.Pid) {
		t.Fatalf("reaped process %d counted as alive", cmd.Process.Pid)
	}
}

// scriptedSender is a Sender that records its sends and can fail them.
type scriptedSender struct {
	events *[]string
	fail   error
}

func (s scriptedSender) Index() int   { return 1 }
func (s scriptedSender) MAC() string  { return "02:00:00:00:00:01" }
func (s scriptedSender) Close() error { return nil }
func (s scriptedSender) Send(from, to int, _ time.Duration, _ func() (bool, error)) (int, error) {
	*s.events = append(*s.events, fmt.Sprintf("send %d-%d", from, to))
	if s.fail != nil {
		return 0, s.fail
	}
	return to - from, nil
}

// A start settles (agent.IO.Settle) as soon as its first slot is out: the
// daemon's next step does not wait for the background sender's fork and
// exec. A first slot that could not be sent settles nothing (the agent's
// return does).
func TestAnnounceSettlesAfterTheFirstSlot(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.1")
	for _, tc := range []struct {
		fail error
		want string
	}{
		{nil, "send 0-1|settle 0|spawn"},
		{errors.New("network is down"), "send 0-1"},
	} {
		var events []string
		an := &Announcer{Name: "T", Frame: "frame", Process: "sender",
			Sent: func(int, garp.Burst) string { return "slots" },
			Command: func([]string) (*exec.Cmd, error) {
				events = append(events, "spawn")
				return exec.Command("true"), nil
			}}
		aio := agent.IO{Stdout: io.Discard, Stderr: io.Discard, Getenv: env(nil),
			Settle: func(code int) { events = append(events, fmt.Sprint("settle ", code)) }}
		an.AnnounceWith(nil, scriptedSender{events: &events, fail: tc.fail}, "eth0", ip, garp.DefaultBurst(), aio)
		if got := strings.Join(events, "|"); got != tc.want {
			t.Errorf("first slot error %v: %s, want %s", tc.fail, got, tc.want)
		}
	}
}
