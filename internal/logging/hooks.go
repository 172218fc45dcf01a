package logging

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Facilities maps logfacility names to syslog facility numbers.
var Facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// syslogHook sends lines to the local syslog socket. It does not use
// log/syslog: that package adds "tag[pid]:" itself, while Heartbeat's lines
// read "heartbeat: [pid]: LEVEL: text" (ident without LOG_PID, pid in the
// message), and it blocks when the socket blocks. Lines go through a bounded
// queue to one writer goroutine; when rsyslog is restarted the writer
// reconnects and the lines in between are dropped and counted, never queued
// without bound and never allowed to stall the keepalive loop.
type syslogHook struct {
	path     string
	facility int
	debug    bool
	queue    chan []byte
	dropped  atomic.Uint64
	done     chan struct{}
	// mu guards closed: a Fire racing with Close (logrus fires a copy of
	// its hook list, so a reload may close a hook that is still firing)
	// must drop the line, not send on a closed channel.
	mu     sync.RWMutex
	closed bool
}

func newSyslogHook(path string, facility int, debug bool) *syslogHook {
	h := &syslogHook{path: path, facility: facility, debug: debug,
		queue: make(chan []byte, 1024), done: make(chan struct{})}
	go h.run()
	return h
}

func (h *syslogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *syslogHook) Fire(e *logrus.Entry) error {
	entity, pid, level := entryParts(e)
	if level == Debug && !h.debug {
		return nil
	}
	pri := h.facility*8 + level.severity()
	msg := fmt.Sprintf("<%d>%s %s: [%d]: %s: %s", pri, e.Time.Format(time.Stamp), entity, pid, level, sanitize(e.Message))
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		h.dropped.Add(1)
		return nil
	}
	select {
	case h.queue <- []byte(msg):
	default:
		h.dropped.Add(1)
	}
	return nil
}

func (h *syslogHook) run() {
	defer close(h.done)
	var conn net.Conn
	var lastTry time.Time
	for msg := range h.queue {
		if conn == nil && time.Since(lastTry) > 500*time.Millisecond {
			lastTry = time.Now()
			conn = dialSyslog(h.path)
		}
		if conn == nil {
			h.dropped.Add(1)
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write(msg); err != nil {
			// The socket went away (rsyslog restarted) or stalled: drop this
			// line and reconnect on the next one.
			conn.Close()
			conn = nil
			h.dropped.Add(1)
		}
	}
	if conn != nil {
		conn.Close()
	}
}

func dialSyslog(path string) net.Conn {
	for _, network := range []string{"unixgram", "unix"} {
		if c, err := net.DialTimeout(network, path, 200*time.Millisecond); err == nil {
			return c
		}
	}
	return nil
}

func (h *syslogHook) Close() error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.queue)
	}
	h.mu.Unlock()
	select {
	case <-h.done:
	case <-time.After(2 * time.Second):
	}
	return nil
}

// fileHook appends to logfile or debugfile. The file is reopened when it was
// rotated away (logrotate without copytruncate), as admins expect of a daemon
// that has no SIGHUP-reopen of its own.
type fileHook struct {
	mu    sync.Mutex
	path  string
	debug bool
	f     *os.File
	host  string
}

func newFileHook(path string, debug bool, host string) (*fileHook, error) {
	h := &fileHook{path: path, debug: debug, host: host}
	if err := h.open(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *fileHook) open() error {
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	h.f = f
	return nil
}

func (h *fileHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *fileHook) Fire(e *logrus.Entry) error {
	entity, pid, level := entryParts(e)
	if level == Debug && !h.debug {
		return nil
	}
	line := FileLine(e.Time, h.host, entity, pid, level, e.Message) + "\n"
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return nil
	}
	if st, err := os.Stat(h.path); err != nil || !sameFile(st, h.f) {
		h.f.Close()
		if err := h.open(); err != nil {
			return err
		}
	}
	_, err := h.f.WriteString(line)
	return err
}

func sameFile(st os.FileInfo, f *os.File) bool {
	fst, err := f.Stat()
	return err == nil && os.SameFile(st, fst)
}

func (h *fileHook) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil // a Fire racing with a reload's Close writes nothing
	return err
}
