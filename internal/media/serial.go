package media

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// baudRates maps `baud` values to termios speeds.
var baudRates = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600,
	19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400,
}

func (s Spec) baud() int {
	if s.Baud == 0 {
		return DefaultBaud
	}
	return s.Baud
}

// serialQueue bounds the frames waiting for a slow line: at 19200 baud a
// 300-byte message takes ~150 ms, and the daemon must never block on it.
const serialQueue = 32

// serialTransport is an open tty in raw mode. Writes go through a queue and
// a writer goroutine; reads are split into classic frames.
type serialTransport struct {
	spec  Spec
	f     *os.File
	split *classicSplitter
	ready [][]byte // frames split but not yet returned by read
	chunk []byte

	out  chan []byte
	quit chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	writeErr error
}

func openSerial(s Spec, logf func(string, string, ...any)) (transport, error) {
	// O_NONBLOCK: open must not wait for carrier, and a non-blocking fd
	// lets os.File use the poller so close unblocks a pending read.
	fd, err := unix.Open(s.Device, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("device %s not found", s.Device)
		}
		return nil, fmt.Errorf("open %s: %w", s.Device, err)
	}
	if err := makeRaw(fd, baudRates[s.baud()]); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", s.Device, err)
	}
	t := &serialTransport{
		spec:  s,
		f:     os.NewFile(uintptr(fd), s.Device),
		split: newClassicSplitter(MaxPacket),
		chunk: make([]byte, 4096),
		out:   make(chan []byte, serialQueue),
		quit:  make(chan struct{}),
	}
	t.wg.Add(1)
	go t.writer()
	logf(LevelInfo, "Starting serial heartbeat on tty %s (%d baud)", s.Device, s.baud())
	return t, nil
}

// makeRaw puts the tty in 8N1 raw mode at speed, ignoring modem lines
// (CLOCAL) the way Heartbeat's null-modem cables expect, and drops whatever
// was queued before we opened it.
func makeRaw(fd int, speed uint32) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("not a tty: %w", err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD | unix.CRTSCTS
	tio.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	tio.Ispeed, tio.Ospeed = speed, speed
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return fmt.Errorf("set raw mode: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}

// send queues one classic message. Anything else would only be noise to
// the peer's reader (serial carries classic text only, spec §1.2).
func (t *serialTransport) send(pkt []byte) error {
	if !bytes.HasPrefix(pkt, frameStart) || !bytes.HasSuffix(pkt, frameEnd) {
		return errors.New("serial lines carry classic (\">>>\"…\"<<<\") messages only")
	}
	if len(pkt) > MaxPacket {
		return fmt.Errorf("message of %d bytes exceeds %d", len(pkt), MaxPacket)
	}
	if err := t.lastWriteErr(); err != nil {
		return err
	}
	select {
	case t.out <- append([]byte(nil), pkt...):
		return nil
	default:
		return fmt.Errorf("send queue full (%d messages waiting; line too slow at %d baud?)", serialQueue, t.spec.baud())
	}
}

func (t *serialTransport) writer() {
	defer t.wg.Done()
	for {
		select {
		case <-t.quit:
			return
		case pkt := <-t.out:
			if _, err := t.f.Write(pkt); err != nil {
				t.mu.Lock()
				t.writeErr = fmt.Errorf("write: %w", err)
				t.mu.Unlock()
				return
			}
		}
	}
}

func (t *serialTransport) lastWriteErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writeErr
}

func (t *serialTransport) read(buf []byte) (int, netip.AddrPort, error) {
	for len(t.ready) == 0 {
		n, err := t.f.Read(t.chunk)
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
		t.ready = t.split.feed(t.chunk[:n])
	}
	frame := t.ready[0]
	t.ready = t.ready[1:]
	return copy(buf, frame), netip.AddrPort{}, nil
}

// check notices a tty that vanished (USB adapter unplugged) or a writer
// that failed; the reader notices most of these first.
func (t *serialTransport) check() error {
	if _, err := os.Stat(t.spec.Device); err != nil {
		return fmt.Errorf("device %s not found", t.spec.Device)
	}
	return t.lastWriteErr()
}

func (t *serialTransport) close() error {
	close(t.quit)
	err := t.f.Close() // unblocks a pending Read or Write
	t.wg.Wait()
	return err
}
