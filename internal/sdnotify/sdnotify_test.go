package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNotifierSequence(t *testing.T) {
	var got []string
	n := New(func(s string) { got = append(got, s) }, 30*time.Second)
	t0 := time.Unix(1_000, 0)
	n.Status("before ready") // not sent: systemd would show it as ready
	n.Ready(t0)
	n.Status("n1 up")
	n.Status("n1 up") // unchanged: not sent again
	n.Watchdog(t0.Add(29*time.Second), true)
	n.Watchdog(t0.Add(30*time.Second), false) // unhealthy: starve systemd's watchdog
	n.Watchdog(t0.Add(31*time.Second), true)
	n.Watchdog(t0.Add(40*time.Second), true)
	n.Stopping()
	want := "READY=1|STATUS=n1 up|WATCHDOG=1|STOPPING=1"
	if strings.Join(got, "|") != want {
		t.Errorf("sent %q, want %q", got, want)
	}
	New(nil, time.Second).Ready(t0) // nothing to send to: no panic
}

func TestFromEnvSendsToTheSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "2000000")
	t.Setenv("WATCHDOG_PID", "")
	send, wd := FromEnv()
	if send == nil || wd != time.Second {
		t.Fatalf("FromEnv: send=%v watchdog=%v", send != nil, wd)
	}
	send("READY=1")
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, _, err := conn.ReadFromUnix(buf)
	if err != nil || string(buf[:k]) != "READY=1" {
		t.Fatalf("read %q, %v", buf[:k], err)
	}
	t.Setenv("WATCHDOG_PID", "1") // another process's watchdog
	if _, wd := FromEnv(); wd != 0 {
		t.Errorf("watchdog for another pid: %v", wd)
	}
}
