package ipaddr

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/garp"
)

// TailAgent is the agent name of the background ARP sender. The dispatcher
// runs it as `heartbeatd resource IPaddr-garp-tail --iface … --ip … …`; it
// is internal, started only by IPaddr itself.
const TailAgent = "IPaddr-garp-tail"

// tailArgs is what the background sender needs: which slots of which burst,
// and when the last head slot went out.
type tailArgs struct {
	Iface string
	IP    netip.Addr
	From  int
	Burst garp.Burst
	Last  time.Time // wall clock: the only clock two processes share
	// DaemonPID, when set, is the heartbeatd daemon that ran the start:
	// the tail stops once it is gone (agent.EnvDaemonPID).
	DaemonPID int
}

func (a tailArgs) argv() []string {
	return []string{
		"--iface", a.Iface, "--ip", a.IP.String(),
		"--from", strconv.Itoa(a.From), "--count", strconv.Itoa(a.Burst.Count),
		"--fast", strconv.Itoa(a.Burst.Fast),
		"--fast-ms", strconv.FormatInt(a.Burst.FastInterval.Milliseconds(), 10),
		"--interval-ms", strconv.FormatInt(a.Burst.SlowInterval.Milliseconds(), 10),
		"--mode", a.Burst.Mode.String(),
		"--last-ns", strconv.FormatInt(a.Last.UnixNano(), 10),
		"--daemon-pid", strconv.Itoa(a.DaemonPID),
	}
}

func parseTailArgs(args []string, stderr io.Writer) (tailArgs, error) {
	var a tailArgs
	fs := flag.NewFlagSet(TailAgent, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ip := fs.String("ip", "", "address to announce")
	mode := fs.String("mode", "both", "request|reply|both")
	fastMS := fs.Int("fast-ms", int(garp.DefaultFastInterval.Milliseconds()), "gap inside the fast head, ms")
	slowMS := fs.Int("interval-ms", int(garp.DefaultSlowInterval.Milliseconds()), "gap after the fast head, ms")
	lastNS := fs.Int64("last-ns", 0, "unix time (ns) the previous slot was sent")
	fs.StringVar(&a.Iface, "iface", "", "interface")
	fs.IntVar(&a.From, "from", 0, "first slot to send")
	fs.IntVar(&a.Burst.Count, "count", garp.DefaultCount, "slots in the burst")
	fs.IntVar(&a.Burst.Fast, "fast", garp.DefaultFast, "slots in the fast head")
	fs.IntVar(&a.DaemonPID, "daemon-pid", 0, "stop once this process is gone (0: never)")
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	if fs.NArg() != 0 {
		return a, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if a.Iface == "" {
		return a, errors.New("--iface is required")
	}
	var err error
	if a.IP, err = netip.ParseAddr(*ip); err != nil || !a.IP.Is4() {
		return a, fmt.Errorf("--ip %q is not an IPv4 address", *ip)
	}
	if a.Burst.Mode, err = garp.ParseMode(*mode); err != nil {
		return a, fmt.Errorf("--mode: %w", err)
	}
	a.Burst.FastInterval = time.Duration(*fastMS) * time.Millisecond
	a.Burst.SlowInterval = time.Duration(*slowMS) * time.Millisecond
	if err := a.Burst.Validate(); err != nil {
		return a, err
	}
	if a.From < 1 || a.From > a.Burst.Count {
		return a, fmt.Errorf("--from %d out of range 1..%d", a.From, a.Burst.Count)
	}
	if *lastNS > 0 {
		a.Last = time.Unix(0, *lastNS)
	}
	return a, nil
}

// firstWait is how long to wait before slot From: its gap minus the time
// already spent since the head's last slot (process start-up), clamped to
// [0, gap] so a stepped wall clock can neither hold the tail back longer
// than one gap nor make it skip the wait after a backwards step.
func (a tailArgs) firstWait(now time.Time) time.Duration {
	gap := a.Burst.Gap(a.From)
	if a.Last.IsZero() {
		return gap
	}
	w := gap - now.Sub(a.Last)
	switch {
	case w < 0:
		return 0
	case w > gap:
		return gap
	}
	return w
}

// GarpTailMain sends the slow remainder of a burst in the background (see
// the package doc). It stops early, exit 0, once the address is no longer
// configured on the interface.
func GarpTailMain(args []string, aio agent.IO) int {
	a, err := parseTailArgs(args, aio.Stderr)
	if err != nil {
		aio.Errorf("%s: %v", TailAgent, err)
		return agent.BadArgs
	}
	k, err := dialKernel()
	if err != nil {
		aio.Errorf("%s: %v", TailAgent, err)
		return agent.Failed
	}
	defer k.Close()
	c, err := garp.Open(a.Iface)
	if err != nil {
		aio.Errorf("%s: %v", TailAgent, err)
		return agent.Failed
	}
	defer c.Close()
	index := c.Interface().Index
	an := &garp.Announcer{Burst: a.Burst, Clock: clock.Real{}, Out: c, MAC: c.MAC(), IP: a.IP,
		Owned: func() (bool, error) {
			if !daemonAlive(a.DaemonPID) {
				return false, nil
			}
			return k.holds(a.IP, index)
		}}
	if _, err := an.Send(a.From, a.Burst.Count, a.firstWait(time.Now())); err != nil {
		if errors.Is(err, garp.ErrReleased) {
			return agent.OK
		}
		aio.Errorf("%s: %s on %s: %v", TailAgent, a.IP, a.Iface, err)
		return agent.Failed
	}
	return agent.OK
}

// daemonAlive: pid (0: none given) still exists. A daemon killed with -9
// leaves the address configured, and its peer takes it over: announcing it
// from here then would pull the clients back to a node nobody watches.
func daemonAlive(pid int) bool {
	if pid <= 0 {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// tailCommand builds the background sender's command. Tests replace it to
// re-execute the test binary instead.
var tailCommand = realTailCommand

// realTailCommand runs this same binary through the resource dispatcher:
// `heartbeatd resource IPaddr-garp-tail ARGS...`.
func realTailCommand(argv []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return exec.Command(exe, append([]string{"resource", TailAgent}, argv...)...), nil
}

// spawnTail starts the background sender detached: its own session (so a
// signal to the caller's process group, e.g. the executor's timeout kill,
// does not stop it), stdio on /dev/null (os/exec's default for nil), and
// not waited for.
func spawnTail(a tailArgs) error {
	cmd, err := tailCommand(a.argv())
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return cmd.Process.Release()
}
