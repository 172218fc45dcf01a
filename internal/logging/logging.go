// Package logging writes heartbeatd's log in the exact layout Heartbeat 3.0.6
// uses, so that the greps, logcheck rules and muscle memory of Heartbeat admins
// keep working:
//
//	Nov 22 01:43:00 pa2 heartbeat: [22310]: WARN: node pa1: is dead
//
// logrus is the front end (one logger passed around, fields for the entity and
// the Heartbeat level); the hooks below do the writing: syslog with the
// facility of `logfacility`, and the `logfile`/`debugfile` files. Nothing here
// may block the daemon's main loop: a stalled syslog socket drops messages
// (counted) rather than delaying a keepalive.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Level is Heartbeat's level word, as it appears in the log line.
type Level string

const (
	Crit   Level = "CRIT"
	Error  Level = "ERROR"
	Warn   Level = "WARN"
	Notice Level = "notice"
	Info   Level = "info"
	Debug  Level = "debug"
)

// ParseLevel maps any spelling used by the cores ("WARN", "warn", "info") to a Level.
func ParseLevel(s string) Level {
	switch strings.ToLower(s) {
	case "crit", "critical":
		return Crit
	case "error", "err":
		return Error
	case "warn", "warning":
		return Warn
	case "notice":
		return Notice
	case "debug":
		return Debug
	}
	return Info
}

// severity is the syslog severity of a level (RFC 5424 numbers).
func (l Level) severity() int {
	switch l {
	case Crit:
		return 2
	case Error:
		return 3
	case Warn:
		return 4
	case Notice:
		return 5
	case Debug:
		return 7
	}
	return 6
}

func (l Level) logrus() logrus.Level {
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
	hooks  []hook
	stderr io.Writer
	host   string
}

type closer interface{ Close() error }

// New builds a logger from the ha.cf options. A syslog socket that cannot be
// reached is not an error: the hook keeps retrying, as rsyslog may start later.
func New(o Options) (*Logger, error) {
	lr := logrus.New()
	lr.SetOutput(io.Discard)
	lr.SetLevel(logrus.DebugLevel)
	l := &Logger{lr: lr, pid: os.Getpid(), host: o.Host}
	if l.host == "" {
		l.host, _ = os.Hostname()
	}
	if o.Stderr {
		l.stderr = os.Stderr
	}
	hooks, err := newHooks(o, l.host)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		lr.AddHook(h)
	}
	l.hooks = hooks
	return l, nil
}

// hook is what New builds from the options: a logrus hook that can be closed.
type hook interface {
	logrus.Hook
	closer
}

// newHooks builds the syslog and file hooks for o. A syslog socket that
// cannot be reached is not an error (the hook keeps retrying).
func newHooks(o Options, host string) ([]hook, error) {
	var hooks []hook
	closeAll := func() {
		for _, h := range hooks {
			h.Close()
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
		hooks = append(hooks, newSyslogHook(path, fac, o.Debug > 0))
	}
	for _, f := range []struct {
		path  string
		debug bool
	}{{o.LogFile, false}, {o.DebugFile, true}} {
		if f.path == "" || f.path == "none" {
			continue
		}
		h, err := newFileHook(f.path, f.debug, host)
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
// flushed and closed, and every holder of the *Logger (media, script
// executor, admin socket) follows at once. Stderr and Host stay as at New.
// On error the logger is unchanged.
func (l *Logger) Reconfigure(o Options) error {
	hooks, err := newHooks(o, l.host)
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
		h.Close()
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
		l.mu.Lock()
		fmt.Fprintln(l.stderr, FileLine(time.Now(), l.host, entity, pid, level, text))
		l.mu.Unlock()
	}
	l.lr.WithFields(logrus.Fields{"entity": entity, "pid": pid, "hblevel": level}).Log(level.logrus(), text)
}

// Logf is Log with formatting, for the daemon's own "heartbeat" entity.
func (l *Logger) Logf(level Level, format string, args ...any) {
	l.Log("heartbeat", level, fmt.Sprintf(format, args...))
}

// Close flushes and closes every hook.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	hooks := l.hooks
	l.mu.Unlock()
	var first error
	for _, h := range hooks {
		if err := h.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Dropped returns how many syslog lines were dropped because the socket was
// gone or too slow.
func (l *Logger) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, h := range l.hooks {
		if s, ok := h.(*syslogHook); ok {
			n += s.dropped.Load()
		}
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
