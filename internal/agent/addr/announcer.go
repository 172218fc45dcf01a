package addr

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
)

// Periodic refresh (ha.cf arp_refresh, agent.EnvARPRefresh). Switches and
// routers age out or overwrite ARP entries on their own schedule (a Cisco
// keeps one for 4 hours; FIELD-NOTES rows 2 and 3): a holder that announced
// its address once, at takeover, is then only found again when the
// neighbour asks. With arp_refresh set, the background announcer that sends
// the tail of the takeover burst does not end with it: it re-sends one slot
// every interval for as long as the address is configured here and the
// daemon that started it lives, the rules the tail already follows. IPv6addr
// refreshes its neighbour advertisements the same way.
//
// One announcer per address: a re-announcement (an idempotent start after a
// healed partition) starts a new one, and the newest wins. Each holds an
// abstract unix socket named after the address. Abstract sockets belong to
// the network namespace, as the address does, and vanish with the process;
// a newcomer finds the name taken, connects to it (which tells the holder to
// step down) and takes the name once it is free. stop connects too, so the
// announcer of a released address ends at once rather than at its next
// slot.
//
// Stepping down is acknowledged: the holder closes its sending socket, which
// waits out a frame being written, and only then answers the connection.
// So once stop returns, not one more frame for the address leaves this
// node; without that, a slot whose ownership check ran just before stop
// removed the address went out just after it, and the peer's first
// announcement could be followed by one from the node that gave the
// address up.

// Refresh interval limits. Below a second a refresh is a flood (and Linux
// ignores a second ARP update within its 1 s locktime anyway); the upper
// bound is ha.cf's largest time.
const (
	MinRefresh = time.Second
	MaxRefresh = time.Duration(math.MaxInt32) * time.Millisecond
)

// RefreshFromEnv reads agent.EnvARPRefresh: the refresh interval, 0 when
// it is unset or 0 (off). A bad value is reported and means off, the
// default: a typo must not fail a takeover.
func RefreshFromEnv(getenv func(string) string) (time.Duration, []string) {
	v := strings.TrimSpace(getenv(agent.EnvARPRefresh))
	if v == "" || v == "0" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	d := time.Duration(n) * time.Millisecond
	if err != nil || d < MinRefresh || d > MaxRefresh {
		return 0, []string{fmt.Sprintf("%s=%q is not a number of milliseconds from %d to %d; no periodic refresh",
			agent.EnvARPRefresh, v, MinRefresh.Milliseconds(), MaxRefresh.Milliseconds())}
	}
	return d, nil
}

// DaemonAlive reports whether the daemon that ran the start (pid, 0 for
// none given) still exists. A daemon killed with -9 leaves the address
// configured, and its peer takes it over: announcing it from here then
// would pull the clients back to a node nobody watches.
func DaemonAlive(pid int) bool {
	if pid <= 0 {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// announcerName is the abstract socket that marks the announcer of ip.
func announcerName(ip netip.Addr) *net.UnixAddr {
	return &net.UnixAddr{Name: "@heartbeatd/announcer/" + ip.String(), Net: "unix"}
}

// claimWait bounds how long ClaimAnnouncer waits for the running announcer
// to step down; it does so as soon as it accepts the connection.
const claimWait = 2 * time.Second

// dismissWait bounds how long DismissAnnouncer waits for the announcer's
// acknowledgement. It comes as soon as a frame being written is out
// (microseconds); the bound only keeps a stop from hanging on an
// announcer that is itself stuck.
const dismissWait = time.Second

// Claim is this process's place as the one background announcer of an
// address in its network namespace.
type Claim struct {
	l          *net.UnixListener
	superseded chan struct{}
	once       sync.Once
	silence    func() // closes the sending socket; see ClaimAnnouncer
}

// ClaimAnnouncer makes this process the announcer of ip, asking the
// running one, if any, to step down. silence, when the claim ends, must
// stop this process's sending for good and return only once no frame is
// being written: closing the socket does both (a close waits for a write
// under way, and every later write fails).
func ClaimAnnouncer(ip netip.Addr, silence func()) (*Claim, error) {
	deadline := time.Now().Add(claimWait)
	for {
		l, err := net.ListenUnix("unix", announcerName(ip))
		if err == nil {
			c := &Claim{l: l, superseded: make(chan struct{}), silence: silence}
			go c.serve()
			return c, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("claim the announcer of %s: %w", ip, err)
		}
		_, _ = DismissAnnouncer(ip) // waited for below
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("claim the announcer of %s: the running announcer did not step down within %v", ip, claimWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serve waits for the connection that ends this claim. Only a process of
// our own user may end it (any local user can connect to an abstract
// socket).
func (c *Claim) serve() {
	for {
		conn, err := c.l.AcceptUnix()
		if err != nil {
			return // closed
		}
		if !sameUser(conn) {
			conn.Close()
			continue
		}
		c.end()
		// The acknowledgement: nothing more will be sent from here.
		conn.SetWriteDeadline(time.Now().Add(dismissWait))
		conn.Write([]byte{1})
		conn.Close()
		return
	}
}

// end marks the claim over, silences the sender and frees the name, in
// that order, so the name is free by the time the dismisser hears back.
func (c *Claim) end() {
	c.once.Do(func() {
		close(c.superseded)
		if c.silence != nil {
			c.silence()
		}
		c.l.Close()
	})
}

// Superseded is closed once another announcer of the address (or a stop)
// has asked this one to end.
func (c *Claim) Superseded() <-chan struct{} { return c.superseded }

// Close gives the claim up.
func (c *Claim) Close() { c.end() }

// sameUser reports whether the peer of conn runs as our effective user.
func sameUser(conn *net.UnixConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) == os.Geteuid()
}

// DismissAnnouncer tells the background announcer of ip in this network
// namespace, if one runs, to end, and waits (at most dismissWait) until it
// has stopped sending; found reports whether one was there. An announcer
// of an older build closes the connection without a byte; that counts as
// the answer too. err is set when no answer came in time: the announcer
// may still send a frame (it stops at its next slot, finding the address
// gone).
func DismissAnnouncer(ip netip.Addr) (found bool, err error) {
	conn, err := net.DialUnix("unix", nil, announcerName(ip))
	if err != nil {
		return false, nil
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(dismissWait))
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil && !errors.Is(err, io.EOF) {
		return true, fmt.Errorf("the background announcer of %s did not confirm it stopped within %v: %w", ip, dismissWait, err)
	}
	return true, nil
}

// RefreshLoop re-announces an address: every interval it asks owned
// whether the address is still ours (configured here, daemon alive) and,
// if so, sends one slot. It returns when stop is closed or owned says no.
// A failed check or send is skipped, not fatal: an interface that is down
// for a moment must not end the refresh for good. After a stall (a
// suspended machine) the schedule restarts from now instead of catching
// up with a flood.
func RefreshLoop(every time.Duration, clk clock.Clock, stop <-chan struct{}, owned func() (bool, error), send func() error) {
	next := clk.Now().Add(every)
	for {
		t := clk.NewTimer(next.Sub(clk.Now()))
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C():
		}
		ok, err := owned()
		if err == nil && !ok {
			return
		}
		if err == nil {
			_ = send()
		}
		next = next.Add(every)
		if now := clk.Now(); next.Before(now) {
			next = now.Add(every)
		}
	}
}
