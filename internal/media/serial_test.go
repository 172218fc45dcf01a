package media

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the master end and the slave path of a new pty pair: the
// slave stands in for /dev/ttyS0, the master for the cable's other end.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { master.Close() })
	return master, fmt.Sprintf("/dev/pts/%d", n)
}

// logRecorder collects a medium's log lines for assertions.
type logRecorder struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) log(level, text string) {
	r.mu.Lock()
	r.lines = append(r.lines, level+": "+text)
	r.mu.Unlock()
	r.t.Logf("media %s: %s", level, text)
}

func (r *logRecorder) has(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func openLink(t *testing.T, s Spec, cfg Config) (*Link, chan Packet, *logRecorder) {
	t.Helper()
	recv := make(chan Packet, 64)
	rec := &logRecorder{t: t}
	cfg.Recv, cfg.Log = recv, rec.log
	if cfg.Retry == 0 {
		cfg.Retry = 100 * time.Millisecond
	}
	l, err := OpenConfig(s, cfg)
	if err != nil {
		t.Fatalf("open %s %s: %v", s.Kind, s.Name(), err)
	}
	t.Cleanup(func() { l.Close() })
	return l, recv, rec
}

func expectPacket(t *testing.T, ch <-chan Packet, link, data string) Packet {
	t.Helper()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case p := <-ch:
			if string(p.Data) == data {
				if p.Link != link {
					t.Fatalf("packet %q arrived as link %s, want %s", data, p.Link, link)
				}
				return p
			}
		case <-timeout:
			t.Fatalf("no packet %q on link %s within 3s", data, link)
		}
	}
}

func expectNoPacket(t *testing.T, ch <-chan Packet, data string, wait time.Duration) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case p := <-ch:
			if string(p.Data) == data {
				t.Fatalf("packet %q arrived on link %s, want none", data, p.Link)
			}
		case <-timeout:
			return
		}
	}
}

func TestSerialOverPTY(t *testing.T) {
	master, slave := openPTY(t)
	l, recv, rec := openLink(t, Spec{Kind: KindSerial, Device: slave, Baud: 115200}, Config{})
	if !l.Up() || l.Name() != slave {
		t.Fatalf("serial link %s: up=%v", l.Name(), l.Up())
	}
	if !rec.has("Starting serial heartbeat on tty " + slave + " (115200 baud)") {
		t.Error("no start log line")
	}

	// Peer → us: noise, a message split over writes, then two at once.
	msg1 := ">>>\nt=status\nst=active\nsrc=pa1\nauth=1 abcd\n<<<\n"
	msg2 := ">>>\nt=status\nst=active\nsrc=pa1\nseq=2\n<<<\n"
	for _, w := range []string{"\x00line noise\n", msg1[:9], msg1[9:], msg2 + msg1} {
		if _, err := master.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{msg1, msg2, msg1} {
		p := expectPacket(t, recv, slave, want)
		if p.From.IsValid() {
			t.Errorf("serial packet has From %v", p.From)
		}
	}

	// Us → peer: exactly the classic bytes, nothing added.
	out := ">>>\nt=status\nsrc=pa2\n<<<\n"
	if err := l.Send([]byte(out)); err != nil {
		t.Fatal(err)
	}
	master.SetReadDeadline(time.Now().Add(3 * time.Second))
	got := make([]byte, 0, len(out))
	buf := make([]byte, 256)
	for len(got) < len(out) {
		n, err := master.Read(buf)
		if err != nil {
			t.Fatalf("reading peer end after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != out {
		t.Fatalf("line carried %q, want %q", got, out)
	}

	// Netstring never goes on a serial line.
	if err := l.Send([]byte("###\n11:(0)t=status,%%%\n")); err == nil {
		t.Fatal("serial accepted a netstring message")
	}
}

func TestSerialMissingDeviceIsDownThenRecovers(t *testing.T) {
	dir := t.TempDir()
	dev := dir + "/ttyHB0"
	l, recv, rec := openLink(t, Spec{Kind: KindSerial, Device: dev}, Config{Retry: 50 * time.Millisecond})
	if l.Up() {
		t.Fatal("link up on a missing device")
	}
	if err := l.Send([]byte(">>>\nt=a\n<<<\n")); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("send on missing tty: %v, want ErrLinkDown", err)
	}
	if !rec.has("link " + dev + " down: device " + dev + " not found") {
		t.Fatalf("no down log line: %q", rec.lines)
	}
	// The tty appears (a USB adapter plugged in): a symlink to a pty.
	master, slave := openPTY(t)
	if err := os.Symlink(slave, dev); err != nil {
		t.Fatal(err)
	}
	waitUp(t, l)
	if !rec.has("link " + dev + " recovered") {
		t.Error("no recovered log line")
	}
	if _, err := master.Write([]byte(">>>\nt=hello\n<<<\n")); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, recv, dev, ">>>\nt=hello\n<<<\n")
}

// TestSerialTwoLinksViaSocat joins two media with socat's pty pair, as two
// machines on a null-modem cable.
func TestSerialTwoLinksViaSocat(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatal("socat not installed (tests/install-deps.sh installs it)")
	}
	cmd := exec.Command("socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	re := regexp.MustCompile(`PTY is (\S+)`)
	var ptys []string
	sc := bufio.NewScanner(stderr)
	for len(ptys) < 2 && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			ptys = append(ptys, m[1])
		}
	}
	if len(ptys) != 2 {
		t.Fatalf("socat gave ptys %q", ptys)
	}
	go func() {
		for sc.Scan() {
		}
	}()
	a, recvA, _ := openLink(t, Spec{Kind: KindSerial, Device: ptys[0]}, Config{})
	b, recvB, _ := openLink(t, Spec{Kind: KindSerial, Device: ptys[1]}, Config{})
	ping, pong := ">>>\nt=status\nsrc=pa1\n<<<\n", ">>>\nt=status\nsrc=pa2\n<<<\n"
	if err := a.Send([]byte(ping)); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, recvB, ptys[1], ping)
	if err := b.Send([]byte(pong)); err != nil {
		t.Fatal(err)
	}
	expectPacket(t, recvA, ptys[0], pong)
}

func waitUp(t *testing.T, l *Link) {
	t.Helper()
	waitStatus(t, l, true)
}

func waitStatus(t *testing.T, l *Link, up bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l.Up() == up {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, reason := l.Status()
	t.Fatalf("link %s never became up=%v (reason %q)", l.Name(), up, reason)
}
