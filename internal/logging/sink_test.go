package logging

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stuckWriter is a destination that writes only when the test lets it:
// every Write says so on entered, then waits for a token on step, until
// free is closed. The test knows where the sink's writer is without
// sleeping.
type stuckWriter struct {
	entered, step, free chan struct{}
	freed               sync.Once
	mu                  sync.Mutex
	buf                 bytes.Buffer
}

func newStuckWriter() *stuckWriter {
	return &stuckWriter{entered: make(chan struct{}), step: make(chan struct{}), free: make(chan struct{})}
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
		select {
		case <-w.step:
		case <-w.free:
		}
	case <-w.free:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// release lets every Write through from now on.
func (w *stuckWriter) release() { w.freed.Do(func() { close(w.free) }) }

func (w *stuckWriter) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
}

// withinWatchdog runs f and fails the test if it has not returned after a
// minute: a Log call that blocks would otherwise hang until go test's own
// timeout. The bound is a failure detector, not a measurement.
func withinWatchdog(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s blocked", what)
	}
}

// drain flushes until every sink is drained: Flush gives up after a bound,
// and a loaded machine must not fail the test.
func drain(t *testing.T, l *Logger) {
	t.Helper()
	withinWatchdog(t, "Flush", func() {
		for l.Flush() != nil {
		}
	})
}

// A sink whose writer is stuck costs the callers nothing: every Log
// returns, the queue holds QueueLen lines, the rest are counted as
// dropped, and once the sink moves again it has every line up to the full
// queue in order, then its own line saying how many are missing, then the
// lines logged since.
func TestStuckSinkDoesNotBlockLog(t *testing.T) {
	w := newStuckWriter()
	l, err := newLogger(Options{Host: "pa1"}, w)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	defer w.release()
	l.Log("heartbeat", Info, "line 0")
	<-w.entered // the writer holds line 0 and is stuck in Write
	const n = 3 * QueueLen
	withinWatchdog(t, "Log with a stuck sink", func() {
		for i := 1; i <= n; i++ {
			l.Log("heartbeat", Info, fmt.Sprintf("line %d", i))
		}
	})
	if got, want := l.Dropped(), uint64(n-QueueLen); got != want {
		t.Fatalf("dropped %d, want %d (queue %d)", got, want, QueueLen)
	}

	// One line out: the writer has taken line 1 and is stuck on it, so
	// the queue has room for one more.
	w.step <- struct{}{}
	<-w.entered
	l.Log("heartbeat", Warn, "after")
	w.release()
	drain(t, l)
	lines := w.lines()
	if len(lines) != QueueLen+3 {
		t.Fatalf("%d lines written, want %d:\n%s", len(lines), QueueLen+3, strings.Join(lines, "\n"))
	}
	for i := 0; i <= QueueLen; i++ {
		if !strings.HasSuffix(lines[i], fmt.Sprintf(" heartbeat: [%d]: info: line %d", os.Getpid(), i)) {
			t.Fatalf("line %d is %q", i, lines[i])
		}
	}
	report := fmt.Sprintf(" pa1 heartbeat: [%d]: WARN: logging: %d lines dropped, sink stderr slow", os.Getpid(), n-QueueLen)
	if !strings.HasSuffix(lines[QueueLen+1], report) {
		t.Fatalf("after the queue: %q, want the drop report %q", lines[QueueLen+1], report)
	}
	if !strings.HasSuffix(lines[QueueLen+2], "WARN: after") {
		t.Fatalf("last line %q, want the line logged after the sink moved", lines[QueueLen+2])
	}
	// Reported once: more lines bring no second report.
	l.Log("heartbeat", Info, "later")
	drain(t, l)
	if lines := w.lines(); len(lines) != QueueLen+4 || !strings.HasSuffix(lines[QueueLen+3], "info: later") {
		t.Fatalf("after a further line: %q", lines[QueueLen+1:])
	}
}

// Drops with no line after them are reported when the queue is flushed
// (or closed): the report never waits for a next line that may not come.
func TestDropsReportedAtFlush(t *testing.T) {
	w := newStuckWriter()
	l, err := newLogger(Options{Host: "pa1"}, w)
	if err != nil {
		t.Fatal(err)
	}
	defer w.release()
	l.Log("heartbeat", Info, "line 0")
	<-w.entered
	withinWatchdog(t, "Log with a stuck sink", func() {
		for i := 1; i <= QueueLen+1; i++ {
			l.Log("heartbeat", Info, fmt.Sprintf("line %d", i))
		}
	})
	w.release()
	drain(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := w.lines()
	if last := lines[len(lines)-1]; len(lines) != QueueLen+2 || !strings.HasSuffix(last, "logging: 1 line dropped, sink stderr slow") {
		t.Fatalf("%d lines, last %q", len(lines), last)
	}
	// Closed: further lines are dropped, not queued for nobody.
	l.Log("heartbeat", Info, "too late")
	if got := l.Dropped(); got != 2 {
		t.Fatalf("dropped %d after Close, want 2", got)
	}
}

// The log file on a pipe nobody reads (the kernel's pipe buffer full: what
// a hung disk or NFS server looks like from here) blocks the file sink's
// writer for real. Logging goes on; once the pipe is read, the file has
// the surviving lines in order and a report whose count matches Dropped.
func TestStuckLogFileDoesNotBlockLog(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ha-log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Open the reading end first (non-blocking), so that the logger's
	// open for writing does not wait for a reader.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := New(Options{LogFile: fifo, Host: "pa1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Lines of ~1 kB: the pipe (64 kB) and the queue fill well before n.
	const n = 8 * QueueLen
	pad := strings.Repeat("x", 1000)
	withinWatchdog(t, "Log with the log file stuck", func() {
		for i := 0; i < n; i++ {
			l.Log("heartbeat", Info, fmt.Sprintf("line %d %s", i, pad))
		}
	})
	dropped := l.Dropped()
	if dropped == 0 {
		t.Fatal("nothing dropped with the pipe full")
	}

	// Read everything up to "end" while the writer drains; "end" is
	// logged once the queue is out (logged before, it would find the
	// queue full).
	got := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 4096), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasSuffix(sc.Text(), "info: end") {
				break
			}
		}
		got <- lines
	}()
	r.SetReadDeadline(time.Now().Add(time.Minute))
	drain(t, l)
	l.Log("heartbeat", Info, "end")
	lines := <-got
	if len(lines) == 0 || !strings.HasSuffix(lines[len(lines)-1], "info: end") {
		t.Fatalf("the file ends with %q, want the line logged last", lines[max(0, len(lines)-3):])
	}
	lineNo := regexp.MustCompile(`info: line (\d+) x+$`)
	reportRe := regexp.MustCompile(`WARN: logging: (\d+) lines? dropped, sink logfile slow$`)
	var reported uint64
	kept, last := 0, -1
	for _, line := range lines[:len(lines)-1] {
		if m := reportRe.FindStringSubmatch(line); m != nil {
			k, _ := strconv.ParseUint(m[1], 10, 64)
			reported += k
			continue
		}
		m := lineNo.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected line %.80q", line)
		}
		i, _ := strconv.Atoi(m[1])
		if i <= last {
			t.Fatalf("line %d after line %d", i, last)
		}
		last = i
		kept++
	}
	if reported != dropped || uint64(kept)+dropped != n {
		t.Fatalf("%d lines kept, %d reported dropped, %d counted dropped; want kept+dropped = %d and the report to match", kept, reported, dropped, n)
	}
}

// A reload to another log file: lines before it are in the old file, lines
// after it in the new one, none lost.
func TestReconfigureMovesToNewFile(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	l, err := New(Options{LogFile: a, Host: "pa1"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log("heartbeat", Info, "before")
	if err := l.Reconfigure(Options{LogFile: b}); err != nil {
		t.Fatal(err)
	}
	l.Log("heartbeat", Info, "after")
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	// Flush drains the new sink, whose writer starts only once the old
	// queue is out: both files are complete now.
	ta, _ := os.ReadFile(a)
	tb, _ := os.ReadFile(b)
	if !strings.HasSuffix(string(ta), "info: before\n") || strings.Contains(string(ta), "after") {
		t.Fatalf("old file %q", ta)
	}
	if !strings.HasSuffix(string(tb), "info: after\n") || strings.Contains(string(tb), "before") {
		t.Fatalf("new file %q", tb)
	}
}
