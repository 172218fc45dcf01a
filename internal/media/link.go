package media

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/clock"
)

// transport is one open incarnation of a medium: sockets bound to the
// interface as it was when opened. When the interface changes under it, the
// Link throws it away and opens a new one.
type transport interface {
	send(pkt []byte) error
	// read blocks for the next packet; it fails once close was called.
	read(buf []byte) (n int, from netip.AddrPort, err error)
	// check reports why the transport no longer matches the system
	// (interface gone, down, renumbered), nil while it does.
	check() error
	close() error
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("medium closed")

// Link is a Medium with its own supervisor goroutine: it opens the
// transport, delivers received packets to Config.Recv, re-checks the
// interface every Config.Recheck (retries every Config.Retry while down)
// and reopens after any failure.
type Link struct {
	spec Spec
	cfg  Config

	mu     sync.Mutex
	tr     transport // nil while down
	reason string    // why down; "" while up
	closed bool

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

var _ Medium = (*Link)(nil)

// Open starts the medium described by spec. It fails only for an invalid
// spec; a link that cannot work yet is returned down and keeps retrying.
func Open(spec Spec, recv chan<- Packet, log func(level, text string)) (*Link, error) {
	return OpenConfig(spec, Config{Recv: recv, Log: log})
}

// OpenConfig is Open with every knob.
func OpenConfig(spec Spec, cfg Config) (*Link, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if cfg.Recv == nil {
		return nil, fmt.Errorf("%s %s: no receive channel", spec.Kind, spec.Name())
	}
	if cfg.Log == nil {
		cfg.Log = func(string, string) {}
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.NetnsPath != "" {
		if _, err := os.Stat(cfg.NetnsPath); err != nil {
			return nil, fmt.Errorf("%s %s: network namespace: %w", spec.Kind, spec.Name(), err)
		}
	}
	l := &Link{spec: spec, cfg: cfg, reason: "not opened yet",
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	go l.supervise(ready)
	// Wait for the first attempt so that Up() right after Open tells the
	// truth and the start-up log lines come in config order.
	<-ready
	return l, nil
}

// Name is the link name (interface or tty path).
func (l *Link) Name() string { return l.spec.Name() }

// Spec returns the medium's configuration.
func (l *Link) Spec() Spec { return l.spec }

// Status reports whether the link is usable and, if not, why.
func (l *Link) Status() (up bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr != nil, l.reason
}

// Up reports whether the link is usable.
func (l *Link) Up() bool { up, _ := l.Status(); return up }

// Send transmits pkt on this link. Errors wrap ErrLinkDown while the link is
// down; a kernel error also makes the supervisor re-check the link now.
func (l *Link) Send(pkt []byte) error {
	l.mu.Lock()
	tr, reason, closed := l.tr, l.reason, l.closed
	l.mu.Unlock()
	if closed {
		return fmt.Errorf("%s %s: %w", l.spec.Kind, l.Name(), ErrClosed)
	}
	if tr == nil {
		return fmt.Errorf("%s %s: %w: %s", l.spec.Kind, l.Name(), ErrLinkDown, reason)
	}
	if err := tr.send(pkt); err != nil {
		select {
		case l.kick <- struct{}{}:
		default:
		}
		return fmt.Errorf("%s %s: send: %w", l.spec.Kind, l.Name(), err)
	}
	return nil
}

// Close stops the supervisor and closes the sockets or tty. It waits until
// no goroutine of this link is left that could deliver a packet.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	return nil
}

func (l *Link) logf(level, format string, args ...any) {
	l.cfg.Log(level, fmt.Sprintf(format, args...))
}

// supervise owns the transport: it is the only goroutine that opens or
// closes one, so sockets are created in one place (and, with NetnsPath, in
// one namespace).
func (l *Link) supervise(ready chan struct{}) {
	defer close(l.done)
	if l.cfg.NetnsPath != "" {
		// Never unlocked: when this goroutine ends its thread, still in
		// the other namespace, is thrown away instead of being reused.
		runtime.LockOSThread()
		if err := enterNetns(l.cfg.NetnsPath); err != nil {
			l.markDown(err)
			close(ready)
			<-l.quit
			return
		}
	}
	var (
		tr         transport
		readerErr  chan error
		readerStop chan struct{}
		readerDone chan struct{}
	)
	stop := func() {
		close(readerStop)
		tr.close()
		<-readerDone
		tr, readerErr, readerStop, readerDone = nil, nil, nil, nil
	}
	drop := func(why error) {
		stop()
		l.markDown(why)
	}
	first := true
	for {
		if tr != nil {
			if err := tr.check(); err != nil {
				drop(err)
			}
		}
		if tr == nil {
			t, err := openTransport(l.spec, l.cfg, l.logf)
			if err != nil {
				l.markDown(err)
			} else {
				tr = t
				readerErr, readerStop, readerDone = make(chan error, 1), make(chan struct{}), make(chan struct{})
				go l.receive(t, readerErr, readerStop, readerDone)
				l.markUp(t, first)
			}
		}
		if first {
			close(ready)
			first = false
		}
		wait := l.cfg.Retry
		if tr != nil {
			wait = l.cfg.Recheck
		}
		select {
		case <-l.quit:
			if tr != nil {
				stop()
			}
			l.mu.Lock()
			l.tr, l.reason = nil, "closed"
			l.mu.Unlock()
			return
		case err := <-readerErr:
			drop(fmt.Errorf("receive: %w", err))
		case <-l.kick:
		case <-l.cfg.Clock.After(wait):
		}
	}
}

// receive delivers packets until the transport fails or is closed.
// stop is closed when the supervisor drops this transport, so a reader
// blocked on a slow consumer does not hold the supervisor up.
func (l *Link) receive(tr transport, errc chan<- error, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, MaxPacket)
	for {
		n, from, err := tr.read(buf)
		if err != nil {
			errc <- err
			return
		}
		if n == 0 {
			continue
		}
		pkt := Packet{Data: append([]byte(nil), buf[:n]...), Link: l.Name(), From: from}
		select {
		case l.cfg.Recv <- pkt:
		case <-stop:
			return
		}
	}
}

func (l *Link) markDown(why error) {
	l.mu.Lock()
	old := l.reason
	l.tr, l.reason = nil, why.Error()
	l.mu.Unlock()
	// One line per change, not one per retry: a NIC unplugged for a
	// weekend must not fill the log.
	if old != l.reason {
		l.logf(LevelWarn, "link %s down: %s", l.Name(), why)
	}
}

func (l *Link) markUp(tr transport, first bool) {
	l.mu.Lock()
	l.tr, l.reason = tr, ""
	l.mu.Unlock()
	if !first {
		l.logf(LevelInfo, "link %s recovered", l.Name())
	}
}

// enterNetns moves the calling (locked) thread into the namespace at path.
func enterNetns(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("network namespace %s: setns: %w", path, err)
	}
	return nil
}

func openTransport(s Spec, cfg Config, logf func(level, format string, args ...any)) (transport, error) {
	switch s.Kind {
	case KindBcast:
		return openBcast(s, logf)
	case KindUcast:
		return openUcast(s, logf)
	case KindMcast:
		return openMcast(s, logf)
	case KindSerial:
		return openSerial(s, logf)
	case KindPing:
		return openPing(s, cfg.Keys, logf)
	}
	return nil, fmt.Errorf("unknown medium kind %q", s.Kind)
}
