package logging

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

// sinkHook is the logrus side of a sink: Fire formats the line on the
// caller's goroutine (cheap) and queues it (never blocks).
type sinkHook struct {
	*sink
	debug  bool // debug lines go here too
	format func(e *logrus.Entry, entity string, pid int, level Level) []byte
}

func (h *sinkHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *sinkHook) Fire(e *logrus.Entry) error {
	entity, pid, level := entryParts(e)
	if level == Debug && !h.debug {
		return nil
	}
	h.put(h.format(e, entity, pid, level))
	return nil
}

// newSyslogHook sends lines to the local syslog socket. It does not use
// log/syslog: that package adds "tag[pid]:" itself, while Heartbeat's lines
// read "heartbeat: [pid]: LEVEL: text" (ident without LOG_PID, pid in the
// message), and it blocks when the socket blocks. When rsyslog is restarted
// the writer reconnects, and the lines in between are dropped, counted and
// reported once it is back.
func newSyslogHook(path string, facility int, debug bool, pid int, after <-chan struct{}) *sinkHook {
	w := &syslogWriter{path: path, facility: facility, pid: pid}
	return &sinkHook{
		sink:  newSink("syslog", w, after),
		debug: debug,
		format: func(e *logrus.Entry, entity string, pid int, level Level) []byte {
			return syslogLine(facility, e.Time, entity, pid, level, e.Message)
		},
	}
}

func syslogLine(facility int, t time.Time, entity string, pid int, level Level, text string) []byte {
	pri := facility*8 + level.Severity()
	return fmt.Appendf(nil, "<%d>%s %s: [%d]: %s: %s", pri, t.Format(time.Stamp), entity, pid, level, sanitize(text))
}

// syslogWriter is the syslog socket, dialled on demand.
type syslogWriter struct {
	path     string
	facility int
	pid      int
	conn     net.Conn
	lastTry  time.Time
}

var errSyslogDown = errors.New("syslog socket unavailable")

func (w *syslogWriter) write(msg []byte) error {
	if w.conn == nil {
		// At most two dials a second while rsyslog is away: each costs
		// up to the dial timeout, and the lines meanwhile are dropped
		// anyway.
		if time.Since(w.lastTry) < 500*time.Millisecond {
			return errSyslogDown
		}
		w.lastTry = time.Now()
		if w.conn = dialSyslog(w.path); w.conn == nil {
			return errSyslogDown
		}
	}
	w.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := w.conn.Write(msg); err != nil {
		// The socket went away (rsyslog restarted) or stalled: drop this
		// line and reconnect on the next one.
		w.conn.Close()
		w.conn = nil
		return err
	}
	return nil
}

func (w *syslogWriter) own(text string) []byte {
	return syslogLine(w.facility, time.Now(), "heartbeat", w.pid, Warn, text)
}

func (w *syslogWriter) close() error {
	if w.conn != nil {
		return w.conn.Close()
	}
	return nil
}

func dialSyslog(path string) net.Conn {
	for _, network := range []string{"unixgram", "unix"} {
		if c, err := net.DialTimeout(network, path, 200*time.Millisecond); err == nil {
			return c
		}
	}
	return nil
}

// newFileHook appends to logfile or debugfile. The file is opened here, so
// that a path that cannot be opened is an error of New or Reconfigure.
func newFileHook(name, path string, debug bool, host string, pid int, after <-chan struct{}) (*sinkHook, error) {
	w := &fileWriter{path: path, host: host, pid: pid}
	if err := w.open(); err != nil {
		return nil, err
	}
	return &sinkHook{
		sink:  newSink(name, w, after),
		debug: debug,
		format: func(e *logrus.Entry, entity string, pid int, level Level) []byte {
			return fileLine(e.Time, host, entity, pid, level, e.Message)
		},
	}, nil
}

func fileLine(t time.Time, host, entity string, pid int, level Level, text string) []byte {
	return append([]byte(FileLine(t, host, entity, pid, level, text)), '\n')
}

// fileWriter is logfile or debugfile. The file is reopened when it was
// rotated away (logrotate without copytruncate), as admins expect of a daemon
// that has no SIGHUP-reopen of its own.
type fileWriter struct {
	path string
	host string
	pid  int
	f    *os.File
	id   os.FileInfo // f's identity, taken when it was opened
	// checked is when path was last compared with f. A takeover logs a
	// dozen lines within a millisecond, on the CPU its first script
	// needs; one stat per line and file was a fifth of the daemon's
	// system calls on that path. Lines written within rotateCheck of a
	// rotation still reach the rotated file.
	checked time.Time
}

// rotateCheck is how often the log file's path is checked for rotation.
var rotateCheck = time.Second

func (w *fileWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	id, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	w.f, w.id = f, id
	return nil
}

func (w *fileWriter) write(line []byte) error {
	now := time.Now()
	if w.f != nil && now.Sub(w.checked) >= rotateCheck {
		w.checked = now
		if st, err := os.Stat(w.path); err != nil || !os.SameFile(st, w.id) {
			w.f.Close()
			w.f = nil
		}
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
		w.checked = now
	}
	_, err := w.f.Write(line)
	return err
}

func (w *fileWriter) own(text string) []byte {
	return fileLine(time.Now(), w.host, "heartbeat", w.pid, Warn, text)
}

func (w *fileWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// streamWriter is stderr in foreground mode (or a test's writer).
type streamWriter struct {
	w    io.Writer
	host string
	pid  int
}

func (w *streamWriter) write(line []byte) error {
	_, err := w.w.Write(line)
	return err
}

func (w *streamWriter) own(text string) []byte {
	return fileLine(time.Now(), w.host, "heartbeat", w.pid, Warn, text)
}

func (w *streamWriter) close() error { return nil }
