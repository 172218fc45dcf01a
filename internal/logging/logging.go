// Package logging writes heartbeatd's log in the exact layout Heartbeat 3.0.6
// uses, so that the greps, logcheck rules and muscle memory of Heartbeat admins
// keep working:
//
//	Nov 22 01:43:00 pa2 heartbeat: [22310]: WARN: node pa1: is dead
//
// logrus is the front end (one logger passed around, fields for the entity and
// the Heartbeat level); the hooks in hooks.go do the writing: syslog with the
// facility of `logfacility`, and the `logfile`/`debugfile` files; stderr in
// foreground mode. Nothing here may block the daemon's main loop: every
// destination (sink) has its own bounded queue and writer goroutine, so a
// stalled syslog socket, a full stderr pipe or a log file on a hung disk
// drops that sink's lines (counted, and reported in it once it moves again)
// rather than delaying a keepalive. Flush and Close drain the queues.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"heartbeatd/internal/level"
)

// Level is Heartbeat's level word (internal/level: the one level type the
// cores write their log actions with).
type Level = level.Level

// The levels, as level's.
const (
	Crit   = level.Crit
	Error  = level.Error
	Warn   = level.Warn
	Notice = level.Notice
	Info   = level.Info
	Debug  = level.Debug
)

// ParseLevel maps any spelling used by the cores ("WARN", "warn", "info") to a Level.
func ParseLevel(s string) Level { return level.Parse(s) }

func logrusLevel(l Level) logrus.Level {
	switch l {
	case Crit, Error:
		return logrus.ErrorLevel
	case Warn:
		return logrus.WarnLevel
	case Debug:
		return logrus.DebugLevel
	}
	return logrus.InfoLevel
}

// Options are the logging directives of ha.cf.
type Options struct {
	Facility  string // logfacility: "local0", "daemon", ... or "" / "none"
	LogFile   string // logfile: every line but debug
	DebugFile string // debugfile: every line
	Debug     int    // debug level; > 0 lets debug lines reach syslog too
	Host      string // node name printed in file lines (uname -n)
	Stderr    bool   // also print to stderr (foreground mode)
	// SyslogPath overrides /dev/log (tests run their own rsyslog).
	SyslogPath string
}

// Logger is the daemon's one logger.
type Logger struct {
	lr     *logrus.Logger
	pid    int
	mu     sync.Mutex
	hooks  []*sinkHook
	stderr *sink // nil unless Options.Stderr
	host   string
}

// New builds a logger from the ha.cf options. A syslog socket that cannot be
// reached is not an error: the hook keeps retrying, as rsyslog may start later.
func New(o Options) (*Logger, error) {
	var stderr io.Writer
	if o.Stderr {
		stderr = os.Stderr
	}
	return newLogger(o, stderr)
}

// newLogger is New with the foreground stream given (tests pass their own).
func newLogger(o Options, stderr io.Writer) (*Logger, error) {
	lr := logrus.New()
	lr.SetOutput(io.Discard)
	lr.SetFormatter(noFormat{})
	lr.SetLevel(logrus.DebugLevel)
	l := &Logger{lr: lr, pid: os.Getpid(), host: o.Host}
	if l.host == "" {
		l.host, _ = os.Hostname()
	}
	hooks, err := newHooks(o, l.host, l.pid, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		lr.AddHook(h)
	}
	l.hooks = hooks
	if stderr != nil {
		l.stderr = newSink("stderr", &streamWriter{w: stderr, host: l.host, pid: l.pid}, nil)
	}
	return l, nil
}

// noFormat skips logrus's own formatting: its output is discarded, the
// hooks write.
type noFormat struct{}

func (noFormat) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// newHooks builds the syslog and file hooks for o. A syslog socket that
// cannot be reached is not an error (the hook keeps retrying). The hooks'
// writers wait for after, if set, before they write.
func newHooks(o Options, host string, pid int, after <-chan struct{}) ([]*sinkHook, error) {
	var hooks []*sinkHook
	closeAll := func() {
		for _, h := range hooks {
			h.close(false, time.Time{})
		}
	}
	if o.Facility != "" && o.Facility != "none" {
		fac, ok := Facilities[strings.ToLower(o.Facility)]
		if !ok {
			return nil, fmt.Errorf("logfacility: unknown syslog facility %q", o.Facility)
		}
		path := o.SyslogPath
		if path == "" {
			path = "/dev/log"
		}
		hooks = append(hooks, newSyslogHook(path, fac, o.Debug > 0, pid, after))
	}
	for _, f := range []struct {
		name, path string
		debug      bool
	}{{"logfile", o.LogFile, false}, {"debugfile", o.DebugFile, true}} {
		if f.path == "" || f.path == "none" {
			continue
		}
		h, err := newFileHook(f.name, f.path, f.debug, host, pid, after)
		if err != nil {
			closeAll()
			return nil, err
		}
		hooks = append(hooks, h)
	}
	return hooks, nil
}

// Reconfigure switches the logger to new ha.cf logging options (heartbeatd
// reload) without a gap: the new hooks are in place before the old ones are
// closed, and every holder of the *Logger (media, script executor, admin
// socket) follows at once. It does not wait for the old queues: they are
// written out by their own writers, and the new sinks hold their lines
// until then (at most drainWait), so that a file kept across the reload
// keeps its order. Stderr and Host stay as at New. On error the logger is
// unchanged.
func (l *Logger) Reconfigure(o Options) error {
	l.mu.Lock()
	var oldSinks []*sink
	for _, h := range l.hooks {
		oldSinks = append(oldSinks, h.sink)
	}
	l.mu.Unlock()
	hooks, err := newHooks(o, l.host, l.pid, allDone(oldSinks))
	if err != nil {
		return err
	}
	lh := make(logrus.LevelHooks)
	for _, h := range hooks {
		lh.Add(h)
	}
	l.lr.ReplaceHooks(lh)
	l.mu.Lock()
	old := l.hooks
	l.hooks = hooks
	l.mu.Unlock()
	for _, h := range old {
		h.close(false, time.Time{})
	}
	return nil
}

// Log writes one line for entity (e.g. "heartbeat", "ResourceManager",
// "IPaddr") with the daemon's pid.
func (l *Logger) Log(entity string, level Level, text string) {
	l.LogPID(entity, l.pid, level, text)
}

// LogPID is Log with an explicit pid (script output is logged under the
// script's own pid, as Heartbeat's ha_log does).
func (l *Logger) LogPID(entity string, pid int, level Level, text string) {
	if l == nil {
		return
	}
	if l.stderr != nil {
		l.stderr.put(fileLine(time.Now(), l.host, entity, pid, level, text))
	}
	l.lr.WithFields(logrus.Fields{"entity": entity, "pid": pid, "hblevel": level}).Log(logrusLevel(level), text)
}

// Logf is Log with formatting, for the daemon's own "heartbeat" entity.
func (l *Logger) Logf(level Level, format string, args ...any) {
	l.Log("heartbeat", level, fmt.Sprintf(format, args...))
}

// sinks are the current destinations, stderr included.
func (l *Logger) sinks() []*sink {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*sink
	for _, h := range l.hooks {
		out = append(out, h.sink)
	}
	if l.stderr != nil {
		out = append(out, l.stderr)
	}
	return out
}

// Flush waits until every line logged before it has been written (or
// dropped and the drop reported), at most drainWait in all. The error names
// the sinks still busy then. Tests flush before reading a log file.
func (l *Logger) Flush() error {
	if l == nil {
		return nil
	}
	deadline := time.Now().Add(drainWait)
	var stuck []string
	for _, s := range l.sinks() {
		if !s.flush(deadline) {
			stuck = append(stuck, s.name)
		}
	}
	if len(stuck) > 0 {
		return fmt.Errorf("logging: %s not drained within %v", strings.Join(stuck, ", "), drainWait)
	}
	return nil
}

// Close writes out every queue and closes every destination, waiting at
// most drainWait in all (a sink stuck beyond that is abandoned). Lines
// logged afterwards are dropped.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	deadline := time.Now().Add(drainWait)
	sinks := l.sinks()
	for _, s := range sinks {
		s.close(false, deadline)
	}
	var stuck []string
	var first error
	for _, s := range sinks {
		if !s.close(true, deadline) {
			stuck = append(stuck, s.name)
		} else if err := s.closeErr(); err != nil && first == nil {
			first = err
		}
	}
	if len(stuck) > 0 {
		return fmt.Errorf("logging: %s not drained within %v", strings.Join(stuck, ", "), drainWait)
	}
	return first
}

// Dropped returns how many lines the current sinks dropped, because a
// queue was full or a destination refused them (a syslog socket gone).
func (l *Logger) Dropped() uint64 {
	var n uint64
	for _, s := range l.sinks() {
		n += s.dropped.Load()
	}
	return n
}

// FileLine renders a line as Heartbeat writes it into logfile/debugfile
// (syslogmsgfmt true): "Nov 22 01:43:00 pa2 heartbeat: [22310]: WARN: text".
func FileLine(t time.Time, host, entity string, pid int, level Level, text string) string {
	return fmt.Sprintf("%s %s %s: [%d]: %s: %s", t.Format(time.Stamp), host, entity, pid, level, sanitize(text))
}

// sanitize keeps one log record on one line: script output and peer-supplied
// strings may contain newlines or control bytes.
func sanitize(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func entryParts(e *logrus.Entry) (entity string, pid int, level Level) {
	entity, _ = e.Data["entity"].(string)
	if entity == "" {
		entity = "heartbeat"
	}
	pid, _ = e.Data["pid"].(int)
	level, ok := e.Data["hblevel"].(Level)
	if !ok {
		level = Info
	}
	return entity, pid, level
}
