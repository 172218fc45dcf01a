package netlab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// HelperEnv is the environment variable that tells a re-executed test binary
// which helper it is (see StartHelper and IsHelper).
const HelperEnv = "NETLAB_HELPER"

// Command returns an unstarted command that runs argv inside n's namespace
// (`ip netns exec NS argv…`, which execs argv itself, so the pid is argv's).
// It runs in its own process group and is killed, with its group, when the
// lab closes. Set Stdout/Stdin/Env as needed, then Start or Run it.
func (n *Node) Command(argv ...string) *exec.Cmd {
	l := n.lab
	l.t.Helper()
	if len(argv) == 0 {
		l.t.Fatalf("netlab: %s: empty command", n.Name)
	}
	c := exec.Command("ip", append([]string{"netns", "exec", n.NS}, argv...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	l.mu.Lock()
	l.procs = append(l.procs, c)
	l.mu.Unlock()
	return c
}

// Start starts argv in n's namespace; stdout and stderr go to the test log
// prefixed with the node name. The process is killed when the lab closes.
func (n *Node) Start(argv ...string) *exec.Cmd {
	n.lab.t.Helper()
	c := n.Command(argv...)
	w := &logWriter{lab: n.lab, prefix: n.Name + ": "}
	c.Stdout, c.Stderr = w, w
	if err := c.Start(); err != nil {
		n.lab.t.Fatalf("netlab: start %q in %s: %v", argv, n.Name, err)
	}
	return c
}

// Exec runs argv in n's namespace and returns its combined output.
func (n *Node) Exec(argv ...string) (string, error) {
	n.lab.t.Helper()
	out, err := n.Command(argv...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %w: %s", n.Name, strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustExec is Exec that fails the test on error.
func (n *Node) MustExec(argv ...string) string {
	n.lab.t.Helper()
	out, err := n.Exec(argv...)
	if err != nil {
		n.lab.t.Fatalf("netlab: %v", err)
	}
	return out
}

// StartHelper re-executes the running test binary inside n's namespace,
// running only the test function named helper with HelperEnv=helper set
// (plus env). That test function must begin with
//
//	if !netlab.IsHelper("TestHelperX") { t.Skip("helper process only") }
//
// and then acts as a whole process living in the node: this is the way to
// run Go code (a medium, a daemon main) with every goroutine inside the
// namespace. Stdout/Stderr are left for the caller to set before Start:
// the returned command is not started.
func (n *Node) StartHelper(helper string, env ...string) *exec.Cmd {
	n.lab.t.Helper()
	c := n.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
	c.Env = append(append(os.Environ(), HelperEnv+"="+helper), env...)
	return c
}

// IsHelper reports whether this process is the re-executed helper named name.
func IsHelper(name string) bool { return os.Getenv(HelperEnv) == name }

// Do runs fn on the calling goroutine's OS thread switched into n's
// namespace (see WithNetns for the caveats).
func (n *Node) Do(fn func() error) error { return WithNetns(n.NetnsPath(), fn) }

// WithNetns runs fn with the current goroutine locked to its OS thread and
// that thread moved into the network namespace at path (setns(2)); the
// thread is moved back afterwards.
//
// Caveats: only code running on this goroutine is in the namespace.
// Goroutines started by fn (including the net package's helpers, timers,
// a medium's receive goroutine) run on other threads in the original
// namespace. Sockets, however, belong to the namespace they were created in
// for their whole life, so "create the socket inside fn, use it anywhere"
// is correct. Anything that must keep creating sockets or looking up
// interfaces later (a medium's reconnect loop) needs StartHelper instead,
// or its own setns on its own locked goroutine.
//
// If moving back fails, the thread stays locked and dies with the
// goroutine, so no other goroutine ever runs in the wrong namespace.
func WithNetns(path string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open own namespace: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(path)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open %s: %w", path, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: setns %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it is discarded when this goroutine ends.
		return fmt.Errorf("netns: return from %s: %w (fn: %v)", path, err, ferr)
	}
	runtime.UnlockOSThread()
	return ferr
}

// logWriter forwards a process's output to the test log line by line.
// Once the lab is closed it stays silent: testing panics on Logf after the
// test has finished, and a killed process's last output may arrive late.
type logWriter struct {
	lab    *Lab
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lab.mu.Lock()
	closed := w.lab.closed
	w.lab.mu.Unlock()
	if closed {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.lab.t.Logf("%s%s", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
