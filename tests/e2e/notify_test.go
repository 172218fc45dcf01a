//go:build netns

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSdNotifySequence: started with NOTIFY_SOCKET and WATCHDOG_USEC as
// systemd does, the daemon says READY=1, then STATUS=, feeds the watchdog
// at half the period, and says STOPPING=1 when SIGTERM starts the graceful
// shutdown.
func TestSdNotifySequence(t *testing.T) {
	c := newCluster(t, "notify", false)
	n1 := c.addNode("n1", 1)
	t.Cleanup(func() { dumpLogs(t, c) })
	n1.writeConf(c.haCF(n1, fast, "bcast eth1 eth2", "auto_failback on\n"), "")

	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	var stamps []time.Time
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			stamps = append(stamps, time.Now())
			mu.Unlock()
		}
	}()
	snapshot := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	count := func(prefix string) int {
		k := 0
		for _, s := range snapshot() {
			if strings.HasPrefix(s, prefix) {
				k++
			}
		}
		return k
	}

	n1.startWith([]string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=1000000"})
	waitFor(t, 10*time.Second, "READY=1", func() bool { return count("READY=1") == 1 })
	waitFor(t, 5*time.Second, "three WATCHDOG=1", func() bool { return count("WATCHDOG=1") >= 3 })
	n1.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n1.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	time.Sleep(100 * time.Millisecond)
	msgs := snapshot()
	t.Logf("notify messages: %q", msgs)

	// Order: READY=1 first, a STATUS= before the first WATCHDOG=1, and
	// STOPPING=1 after all of them; nothing but STATUS=/WATCHDOG= after it.
	if len(msgs) == 0 || msgs[0] != "READY=1" {
		t.Fatalf("first message %q, want READY=1", msgs)
	}
	idx := func(prefix string) int {
		for i, m := range msgs {
			if strings.HasPrefix(m, prefix) {
				return i
			}
		}
		return -1
	}
	st, wd, stop := idx("STATUS="), idx("WATCHDOG=1"), idx("STOPPING=1")
	if st < 0 || wd < 0 || stop < 0 || !(st < wd && wd < stop) {
		t.Fatalf("order READY < STATUS < WATCHDOG < STOPPING violated: STATUS@%d WATCHDOG@%d STOPPING@%d", st, wd, stop)
	}
	if !strings.Contains(msgs[st], "n1 ") {
		t.Errorf("STATUS %q does not name the node", msgs[st])
	}
	for _, m := range msgs[stop+1:] {
		if m == "READY=1" || m == "STOPPING=1" {
			t.Errorf("%q repeated after STOPPING=1", m)
		}
	}
	// Watchdog period: half of WATCHDOG_USEC (500 ms), not every second.
	mu.Lock()
	var wds []time.Time
	for i, m := range got {
		if m == "WATCHDOG=1" {
			wds = append(wds, stamps[i])
		}
	}
	mu.Unlock()
	for i := 1; i < len(wds); i++ {
		if d := wds[i].Sub(wds[i-1]); d < 400*time.Millisecond || d > 800*time.Millisecond {
			t.Errorf("watchdog interval %v, want about 500 ms", d)
		}
	}
}

// TestNoWatchdogWithoutUsec: without WATCHDOG_USEC nothing feeds a watchdog
// that systemd does not run.
func TestNoWatchdogWithoutUsec(t *testing.T) {
	c := newCluster(t, "nowd", false)
	n1 := c.addNode("n1", 1)
	n1.writeConf(c.haCF(n1, fast, "bcast eth1 eth2", "auto_failback on\n"), "")
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n1.startWith([]string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC="})
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			break
		}
		if string(buf[:n]) == "WATCHDOG=1" {
			t.Fatal("WATCHDOG=1 sent without WATCHDOG_USEC")
		}
	}
	n1.stop(10 * time.Second)
}
