//go:build netns

package e2e

// The stand-ins the fencing tests need: a power switch (a cluster-glue
// external STONITH plugin, testdata/hbdt-switch, driven by the real stonith
// program or by real Heartbeat's libstonith), a tail of a node's log that
// notes when each line appeared, and the client's capture of ARP frames.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Where Debian's cluster-glue and fence-agents put what the tests drive.
const (
	stonithProgram   = "/usr/sbin/stonith"
	externalPlugins  = "/usr/lib/stonith/plugins/external"
	fenceDummyBinary = "/usr/sbin/fence_dummy"
)

// requireTools fails the test (CI must not skip it silently) when a program
// the fencing tests drive is missing.
func requireTools(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing (tests/install-deps.sh installs cluster-glue, fence-agents and tcpdump): %v", p, err)
		}
	}
}

// powerSwitch is the lab's one stand-in for real fencing hardware: the
// plugin testdata/hbdt-switch installed under a random name, and the
// directory that wires it to the nodes (see the plugin's header).
type powerSwitch struct {
	t   *testing.T
	typ string // external/hbdt-<random>
	dir string
}

// installSwitch installs the plugin as external/hbdt-<random> (removed when
// the test ends) with a fresh switch directory.
func installSwitch(t *testing.T) *powerSwitch {
	t.Helper()
	requireTools(t, stonithProgram, externalPlugins)
	src, err := os.ReadFile("testdata/hbdt-switch")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "hbdt-" + hex.EncodeToString(b)
	path := filepath.Join(externalPlugins, name)
	if err := os.WriteFile(path, src, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	// cluster-glue ignores a plugin that group or others may write; the
	// umask decides what WriteFile gives.
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &powerSwitch{t: t, typ: "external/" + name, dir: t.TempDir()}
	return s
}

// stonithHost is the ha.cf line that gives every node this switch.
func (s *powerSwitch) stonithHost() string {
	return fmt.Sprintf("stonith_host * %s %s\n", s.typ, s.dir)
}

// wire connects node n to the switch: its network namespace (bind-mounted
// into the switch directory, so that the plugin reaches it from a real
// Heartbeat node whose /run is private), the service addresses and the
// files (patterns) its power-off removes.
func (s *powerSwitch) wire(n *hbNode, addrs []string, files []string) {
	s.t.Helper()
	ns := filepath.Join(s.dir, n.name+".netns")
	if err := os.WriteFile(ns, nil, 0o644); err != nil {
		s.t.Fatal(err)
	}
	run(s.t, "mount", "--bind", n.ns.NetnsPath(), ns)
	s.t.Cleanup(func() { exec.Command("umount", "-l", ns).Run() })
	write := func(suffix string, lines []string) {
		if err := os.WriteFile(filepath.Join(s.dir, n.name+suffix), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	write(".addrs", addrs)
	write(".files", files)
}

// setMode makes the switch answer ok or fail from its next call on.
func (s *powerSwitch) setMode(mode string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "mode"), []byte(mode+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// switchCall is one line of the switch's log about a power operation.
type switchCall struct {
	op, target, by, result string
	start, end             time.Time
}

func (c switchCall) String() string {
	return fmt.Sprintf("%s %s by %s: %s (%s, took %v)", c.op, c.target, c.by, c.result,
		c.start.Format("15:04:05.000"), c.end.Sub(c.start).Round(time.Millisecond))
}

// resets returns the switch's reset/off calls logged so far, in order.
func (s *powerSwitch) resets() []switchCall {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	var out []switchCall
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// reset TARGET by CALLER RESULT START END
		if len(f) != 7 || (f[0] != "reset" && f[0] != "off") || f[2] != "by" {
			continue
		}
		out = append(out, switchCall{op: f[0], target: f[1], by: f[3], result: f[4], start: epoch(f[5]), end: epoch(f[6])})
	}
	return out
}

// presses returns who pressed the switch's button for a reset or off, and
// when, whether or not the call finished (the caller may have been powered
// off meanwhile).
func (s *powerSwitch) presses() []switchCall {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	var out []switchCall
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// press reset TARGET by CALLER START
		if len(f) != 6 || f[0] != "press" || f[3] != "by" {
			continue
		}
		out = append(out, switchCall{op: f[1], target: f[2], by: f[4], result: "pressed", start: epoch(f[5]), end: epoch(f[5])})
	}
	return out
}

// epoch parses date +%s.%N.
func epoch(s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	secs, _ := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000000")[:9]
	ns, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(secs, ns)
}

// log is the switch's whole log, for failure messages.
func (s *powerSwitch) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

// poweredOff: no process is left in the node's network namespace.
func (n *hbNode) poweredOff() bool {
	out, _ := exec.Command("ip", "netns", "pids", n.ns.NS).Output()
	return len(strings.TrimSpace(string(out))) == 0
}

// logTail follows a node's log file and notes when each line appeared
// (every 10 ms): the log's own timestamps have whole seconds only.
type logTail struct {
	path string
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	lines []seenLine
}

type seenLine struct {
	at   time.Time
	text string
}

func tailLog(t *testing.T, path string) *logTail {
	l := &logTail{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	go l.follow()
	t.Cleanup(func() {
		select {
		case <-l.stop:
		default:
			close(l.stop)
		}
		<-l.done
	})
	return l
}

func (l *logTail) follow() {
	defer close(l.done)
	var off int64
	var partial []byte
	for {
		if f, err := os.Open(l.path); err == nil {
			f.Seek(off, 0)
			b, _ := io.ReadAll(f)
			f.Close()
			off += int64(len(b))
			now := time.Now()
			partial = append(partial, b...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				l.mu.Lock()
				l.lines = append(l.lines, seenLine{now, string(partial[:i])})
				l.mu.Unlock()
				partial = partial[i+1:]
			}
		}
		select {
		case <-l.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// first returns the first line containing sub that appeared at or after
// since, and when it appeared.
func (l *logTail) first(sub string, since time.Time) (seenLine, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if !s.at.Before(since) && strings.Contains(s.text, sub) {
			return s, true
		}
	}
	return seenLine{}, false
}

// all returns the lines containing sub that appeared at or after since.
func (l *logTail) all(sub string, since time.Time) []seenLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []seenLine
	for _, s := range l.lines {
		if !s.at.Before(since) && strings.Contains(s.text, sub) {
			out = append(out, s)
		}
	}
	return out
}

// index returns the position of the first line at or after since that
// contains sub, or -1: line order in one file is the order the node did
// things in, whatever the timestamps say.
func (l *logTail) index(sub string, since time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range l.lines {
		if !s.at.Before(since) && strings.Contains(s.text, sub) {
			return i
		}
	}
	return -1
}

// arpCapture is tcpdump on the client's link: every ARP frame with the
// kernel's timestamp and the sender's MAC.
type arpCapture struct {
	path string
}

func (c *cluster) captureARP() *arpCapture {
	c.t.Helper()
	return &arpCapture{path: c.capture("arp", "-e")}
}

// capture runs tcpdump with filter on the client's eth1 into a file (and
// returns its path) once it is listening; it stops when the lab closes.
func (c *cluster) capture(filter string, flags ...string) string {
	c.t.Helper()
	requireTools(c.t, "/usr/bin/tcpdump")
	path := filepath.Join(c.t.TempDir(), "capture.txt")
	out, err := os.Create(path)
	if err != nil {
		c.t.Fatal(err)
	}
	errPath := path + ".stderr"
	errf, _ := os.Create(errPath)
	// --immediate-mode: without it libpcap hands packets over a block at a
	// time, up to a second late, and a test that looks right after the
	// event finds nothing yet.
	args := append([]string{"tcpdump", "--immediate-mode", "-l", "-n", "-tt", "-i", "eth1"}, flags...)
	cmd := c.client.Command(append(args, filter)...)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("tcpdump on the client: %v", err)
	}
	c.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); out.Close(); errf.Close() })
	waitFor(c.t, 5*time.Second, "tcpdump listening on the client", func() bool {
		b, _ := os.ReadFile(errPath)
		return bytes.Contains(b, []byte("listening on"))
	})
	return path
}

// announcements returns when a node with MAC mac claimed vip (gratuitous
// ARP or a reply for it), in order.
func (a *arpCapture) announcements(vip, mac string) []time.Time {
	b, _ := os.ReadFile(a.path)
	var out []time.Time
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[1], mac) || !claimsAddress(line, vip) {
			continue
		}
		if ts, err := strconv.ParseFloat(f[0], 64); err == nil {
			out = append(out, time.Unix(0, int64(ts*1e9)))
		}
	}
	return out
}

// claimsAddress: a tcpdump line of an ARP frame whose sender claims vip
// (a gratuitous request or a reply), not a duplicate-address probe (sender
// 0.0.0.0), which moves no neighbour entry.
func claimsAddress(line, vip string) bool {
	return strings.Contains(line, "tell "+vip+",") || strings.Contains(line, "Reply "+vip+" is-at")
}

// firstAfter is the first of times at or after t.
func firstAfter(times []time.Time, t time.Time) (time.Time, bool) {
	for _, x := range times {
		if !x.Before(t) {
			return x, true
		}
	}
	return time.Time{}, false
}

// mac is the MAC address of the node's eth1.
func (n *hbNode) mac() string {
	n.c.t.Helper()
	return strings.TrimSpace(n.ns.MustExec("cat", "/sys/class/net/eth1/address"))
}

// spread summarises durations as median, min and max.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("median %v, min %v, max %v (n=%d)", r(s[len(s)/2]), r(s[0]), r(s[len(s)-1]), len(s))
}
