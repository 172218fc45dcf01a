package logging

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func listenGram(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readGram(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no syslog datagram: %v", err)
	}
	return string(buf[:n])
}

func TestSyslogLineHasFacilitySeverityAndHeartbeatLayout(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	srv := listenGram(t, sock)
	defer srv.Close()
	l, err := New(Options{Facility: "local0", SyslogPath: sock, Host: "pa2"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log("heartbeat", Warn, "node pa1: is dead")
	got := readGram(t, srv)
	// local0 (16) * 8 + warning (4) = 132
	re := regexp.MustCompile(`^<132>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d heartbeat: \[\d+\]: WARN: node pa1: is dead$`)
	if !re.MatchString(got) {
		t.Fatalf("syslog line %q does not match %v", got, re)
	}
	l.Log("heartbeat", Crit, "Resource STOP failure. Reboot required!")
	if got := readGram(t, srv); !strings.HasPrefix(got, "<130>") {
		t.Fatalf("CRIT should be severity 2: %q", got)
	}
}

func TestDebugLinesStayOutOfSyslogUnlessDebug(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	srv := listenGram(t, sock)
	defer srv.Close()
	l, err := New(Options{Facility: "daemon", SyslogPath: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log("heartbeat", Debug, "hidden")
	l.Log("heartbeat", Info, "shown")
	if got := readGram(t, srv); !strings.HasSuffix(got, "info: shown") {
		t.Fatalf("got %q, want only the info line", got)
	}
}

func TestSyslogRestartDoesNotBlockAndResumes(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	srv := listenGram(t, sock)
	l, err := New(Options{Facility: "local0", SyslogPath: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log("heartbeat", Info, "before")
	readGram(t, srv)
	srv.Close()
	os.Remove(sock)
	// With the socket gone, logging must neither block nor fail.
	done := make(chan struct{})
	go func() {
		for i := 0; i < 5000; i++ {
			l.Log("heartbeat", Info, "while down")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logging blocked while syslog was down")
	}
	srv = listenGram(t, sock)
	defer srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	reported := false
	report := regexp.MustCompile(`heartbeat: \[\d+\]: WARN: logging: \d+ lines? dropped, sink syslog (slow|unavailable)$`)
	for time.Now().Before(deadline) {
		l.Log("heartbeat", Info, "after")
		srv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 4096)
		n, err := srv.Read(buf)
		if err != nil {
			continue
		}
		reported = reported || report.Match(buf[:n])
		if strings.HasSuffix(string(buf[:n]), "after") {
			if l.Dropped() == 0 {
				t.Fatal("lines logged while syslog was down were not counted as dropped")
			}
			if !reported {
				t.Fatal("no drop report in syslog before the first line after its return")
			}
			return
		}
	}
	t.Fatal("logging did not resume after syslog came back")
}

func TestFilesGetSyslogLayoutAndDebugOnlyInDebugfile(t *testing.T) {
	dir := t.TempDir()
	logf, dbgf := filepath.Join(dir, "ha-log"), filepath.Join(dir, "ha-debug")
	l, err := New(Options{LogFile: logf, DebugFile: dbgf, Host: "pa1"})
	if err != nil {
		t.Fatal(err)
	}
	l.LogPID("ResourceManager", 11899, Info, "Running /etc/ha.d/resource.d/IPaddr 10.11.55.50/8/eth0 start")
	l.Log("heartbeat", Debug, "dbg\nsecond line")
	l.Close()
	logText, _ := os.ReadFile(logf)
	dbgText, _ := os.ReadFile(dbgf)
	re := regexp.MustCompile(`(?m)^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d pa1 ResourceManager: \[11899\]: info: Running /etc/ha.d/resource.d/IPaddr 10.11.55.50/8/eth0 start$`)
	if !re.Match(logText) {
		t.Fatalf("logfile = %q", logText)
	}
	if strings.Contains(string(logText), "dbg") {
		t.Fatal("debug line reached logfile")
	}
	if !strings.Contains(string(dbgText), "debug: dbg?second line") {
		t.Fatalf("debugfile = %q (want the debug line, newline neutralised)", dbgText)
	}
}

func TestUnknownFacilityIsAnError(t *testing.T) {
	if _, err := New(Options{Facility: "local9"}); err == nil || !strings.Contains(err.Error(), "local9") {
		t.Fatalf("err = %v", err)
	}
}

// A log file rotated away (renamed, as logrotate does without
// copytruncate) is reopened at its path once the next check is due; no
// line is lost: each is in the rotated file or the new one.
func TestLogFileReopenedAfterRotation(t *testing.T) {
	defer func(d time.Duration) { rotateCheck = d }(rotateCheck)
	dir := t.TempDir()
	logf := filepath.Join(dir, "ha-log")
	l, err := New(Options{LogFile: logf, Host: "pa1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rotateCheck = time.Hour // not due: the line follows the open file
	l.Log("heartbeat", Info, "before")
	l.Flush()
	if err := os.Rename(logf, logf+".1"); err != nil {
		t.Fatal(err)
	}
	l.Log("heartbeat", Info, "within the check interval")
	l.Flush()
	rotateCheck = 0
	l.Log("heartbeat", Info, "after")
	l.Flush()
	old, _ := os.ReadFile(logf + ".1")
	cur, _ := os.ReadFile(logf)
	if !strings.Contains(string(old), "info: before") || !strings.Contains(string(old), "info: within the check interval") {
		t.Errorf("rotated file: %q", old)
	}
	if !strings.Contains(string(cur), "info: after") || strings.Contains(string(cur), "before") {
		t.Errorf("file at the path after the rotation: %q", cur)
	}
}
