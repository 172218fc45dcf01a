// Package sdnotify speaks systemd's notification protocol (sd_notify(3))
// for the daemon: READY=1 once it serves, STATUS= lines, STOPPING=1, and
// the watchdog, fed only while the caller says it is healthy.
package sdnotify

import (
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends the daemon's notifications through send. Not safe for
// concurrent use: the daemon's loop owns it.
type Notifier struct {
	send     func(string)
	watchdog time.Duration
	ready    bool
	status   string
	lastWD   time.Time
}

// New returns a Notifier that sends through send (nil: sends nothing) and
// feeds the watchdog every watchdog (0: never).
func New(send func(string), watchdog time.Duration) *Notifier {
	return &Notifier{send: send, watchdog: watchdog}
}

func (n *Notifier) notify(s string) {
	if n.send != nil {
		n.send(s)
	}
}

// Ready says READY=1; the watchdog period starts now.
func (n *Notifier) Ready(now time.Time) {
	n.ready, n.lastWD = true, now
	n.notify("READY=1")
}

// Status sends STATUS=line when it differs from the last one sent, and
// only once Ready: systemd shows the last one.
func (n *Notifier) Status(line string) {
	if n.send == nil || !n.ready || line == n.status {
		return
	}
	n.status = line
	n.notify("STATUS=" + line)
}

// Stopping says STOPPING=1: the graceful shutdown has begun.
func (n *Notifier) Stopping() { n.notify("STOPPING=1") }

// Watchdog sends WATCHDOG=1 when a period has passed since the last one
// and healthy is true. Fed from the main loop only, and only while the
// daemon's keepalives go out, it detects a wedged loop.
func (n *Notifier) Watchdog(now time.Time, healthy bool) {
	if n.watchdog > 0 && healthy && now.Sub(n.lastWD) >= n.watchdog {
		n.notify("WATCHDOG=1")
		n.lastWD = now
	}
}

// Period is the watchdog period, 0 when there is none.
func (n *Notifier) Period() time.Duration { return n.watchdog }

// FromEnv reads what systemd (or a test) set: NOTIFY_SOCKET gives send
// (nil when unset), WATCHDOG_USEC and WATCHDOG_PID the watchdog period,
// half systemd's timeout as sd_watchdog_enabled(3) advises (0: none).
func FromEnv() (send func(string), watchdog time.Duration) {
	if p := os.Getenv("WATCHDOG_PID"); p == "" || p == strconv.Itoa(os.Getpid()) {
		if usec, err := strconv.ParseUint(os.Getenv("WATCHDOG_USEC"), 10, 63); err == nil && usec > 0 {
			watchdog = time.Duration(usec) * time.Microsecond / 2
		}
	}
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, watchdog
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	}
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	return func(state string) {
		c, err := net.DialUnix("unixgram", nil, addr)
		if err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.Write([]byte(state))
		c.Close()
	}, watchdog
}
