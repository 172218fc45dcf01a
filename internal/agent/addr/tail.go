package addr

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

// Sender announces one address on one interface, a slot at a time:
// gratuitous ARP for IPaddr, unsolicited neighbour advertisements for
// IPv6addr.
type Sender interface {
	// Index is the interface's.
	Index() int
	// Send sends slots [from, to) of the burst it was opened with, by
	// garp.Burst.SendSlots's rules; garp.ErrReleased once owned says no.
	Send(from, to int, wait time.Duration, owned func() (bool, error)) (int, error)
	MAC() string
	Close() error
}

// Announcer is one agent's way of announcing its addresses: the first slot
// of a burst before start returns, the rest (and the periodic refresh) from
// a detached process, the agent Name run again through the resource
// dispatcher. The burst does not hold up the takeover (see ipaddr's
// package doc).
type Announcer struct {
	Name   string // the detached process's agent, e.g. IPaddr-garp-tail
	Family Family
	// Open binds a Sender for ip on iface with burst b.
	Open func(iface string, ip netip.Addr, b garp.Burst) (Sender, error)
	// Frame names one announcement in warnings ("gratuitous ARP"), Process
	// the detached sender ("background ARP sender"), and Sent the slots
	// sent before start returns, in the INFO line.
	Frame, Process string
	Sent           func(head int, b garp.Burst) string
	// Command builds the detached process from its arguments; nil: this
	// binary, `heartbeatd resource NAME ARGS...`. Tests set it to re-execute
	// the test binary instead.
	Command func(argv []string) (*exec.Cmd, error)
}

// Tail is what the background sender needs: which slots of which burst,
// and when the last head slot went out.
type Tail struct {
	Iface string
	IP    netip.Addr
	From  int
	Burst garp.Burst // Mode only for IPv4 (ARP)
	Last  time.Time  // wall clock: the only clock two processes share
	// DaemonPID, when set, is the heartbeatd daemon that ran the start:
	// the tail stops once it is gone (agent.EnvDaemonPID).
	DaemonPID int
	// Refresh, when set (arp_refresh), keeps the tail going after the
	// burst: one slot every Refresh while the address is held.
	Refresh time.Duration
}

// Argv is a's command line; --mode only for IPv4.
func (a Tail) Argv() []string {
	argv := []string{
		"--iface", a.Iface, "--ip", a.IP.String(),
		"--from", strconv.Itoa(a.From), "--count", strconv.Itoa(a.Burst.Count),
		"--fast", strconv.Itoa(a.Burst.Fast),
		"--fast-ms", strconv.FormatInt(a.Burst.FastInterval.Milliseconds(), 10),
		"--interval-ms", strconv.FormatInt(a.Burst.SlowInterval.Milliseconds(), 10),
	}
	if a.IP.Is4() {
		argv = append(argv, "--mode", a.Burst.Mode.String())
	}
	return append(argv,
		"--last-ns", strconv.FormatInt(a.Last.UnixNano(), 10),
		"--daemon-pid", strconv.Itoa(a.DaemonPID),
		"--refresh-ms", strconv.FormatInt(a.Refresh.Milliseconds(), 10),
	)
}

// ParseTail reads the command line of an's background sender.
func (an *Announcer) ParseTail(args []string, stderr io.Writer) (Tail, error) {
	a := Tail{Burst: garp.DefaultBurst()}
	fs := flag.NewFlagSet(an.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ip := fs.String("ip", "", "address to announce")
	var mode *string
	if an.Family == IPv4 {
		mode = fs.String("mode", "both", "request|reply|both")
	}
	fastMS := fs.Int("fast-ms", int(garp.DefaultFastInterval.Milliseconds()), "gap inside the fast head, ms")
	slowMS := fs.Int("interval-ms", int(garp.DefaultSlowInterval.Milliseconds()), "gap after the fast head, ms")
	lastNS := fs.Int64("last-ns", 0, "unix time (ns) the previous slot was sent")
	refreshMS := fs.Int64("refresh-ms", 0, "after the burst, one slot every this many ms while held (0: none)")
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
	if a.IP, err = netip.ParseAddr(*ip); err != nil || !an.Family.Valid(a.IP) {
		return a, fmt.Errorf("--ip %q is not an %s address", *ip, an.Family)
	}
	if mode != nil {
		if a.Burst.Mode, err = garp.ParseMode(*mode); err != nil {
			return a, fmt.Errorf("--mode: %w", err)
		}
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
	a.Refresh = time.Duration(*refreshMS) * time.Millisecond
	if a.Refresh != 0 && (a.Refresh < MinRefresh || a.Refresh > MaxRefresh) {
		return a, fmt.Errorf("--refresh-ms %d out of range %d..%d", *refreshMS, MinRefresh.Milliseconds(), MaxRefresh.Milliseconds())
	}
	return a, nil
}

// FirstWait is how long to wait before slot From: its gap minus the time
// already spent since the head's last slot (process start-up), clamped to
// [0, gap] so a stepped wall clock can neither hold the tail back longer
// than one gap nor make it skip the wait after a backwards step.
func (a Tail) FirstWait(now time.Time) time.Duration {
	gap := a.Burst.Gap(a.From)
	if a.Last.IsZero() {
		return gap
	}
	return min(max(gap-now.Sub(a.Last), 0), gap)
}

// TailMain is the background sender: the slow remainder of a burst and
// then, with --refresh-ms, one slot per interval. It stops, exit 0, once
// the address is no longer configured on the interface, the daemon is
// gone, or a newer announcer of the address took over.
func (an *Announcer) TailMain(args []string, aio agent.IO) int {
	a, err := an.ParseTail(args, aio.Stderr)
	if err != nil {
		aio.Errorf("%s: %v", an.Name, err)
		return agent.BadArgs
	}
	k, err := Dial()
	if err != nil {
		aio.Errorf("%s: %v", an.Name, err)
		return agent.Failed
	}
	defer k.Close()
	s, err := an.Open(a.Iface, a.IP, a.Burst)
	if err != nil {
		aio.Errorf("%s: %v", an.Name, err)
		return agent.Failed
	}
	defer s.Close()
	index := s.Index()
	// The claim makes this the address's one announcer, and lets stop
	// (or a newer announcer) end it at once, the burst's tail as well as
	// the refresh.
	var superseded <-chan struct{}
	claim, err := ClaimAnnouncer(a.IP, func() { s.Close() })
	if err != nil {
		if a.Refresh > 0 {
			// The burst still matters more than the refresh.
			aio.Errorf("%s: %v; no periodic refresh", an.Name, err)
			a.Refresh = 0
		}
	} else {
		defer claim.Close()
		superseded = claim.Superseded()
	}
	released := func() bool {
		select {
		case <-superseded:
			return true
		default:
			return false
		}
	}
	owned := func() (bool, error) {
		if released() {
			return false, nil
		}
		if !DaemonAlive(a.DaemonPID) {
			return false, nil
		}
		return k.Holds(a.IP, index)
	}
	if a.From < a.Burst.Count {
		if _, err := s.Send(a.From, a.Burst.Count, a.FirstWait(time.Now()), owned); err != nil {
			// A send cut off by the claim's end (a closed socket) is a
			// release, not a failure.
			if errors.Is(err, garp.ErrReleased) || released() {
				return agent.OK
			}
			aio.Errorf("%s: %s on %s: %v", an.Name, a.IP, a.Iface, err)
			if a.Refresh == 0 {
				return agent.Failed
			}
			// A link that went down for a moment: the refresh goes on.
		}
	}
	if a.Refresh > 0 {
		RefreshLoop(a.Refresh, clock.Real{}, superseded, owned, func() error {
			_, err := s.Send(0, 1, 0, owned)
			return err
		})
	}
	return agent.OK
}

// TailCommand builds the background sender's command: an.Command, or this
// same binary through the resource dispatcher.
func (an *Announcer) TailCommand(argv []string) (*exec.Cmd, error) {
	if an.Command != nil {
		return an.Command(argv)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return exec.Command(exe, append([]string{"resource", an.Name}, argv...)...), nil
}

// spawn starts the background sender detached: its own session (so a
// signal to the caller's process group, e.g. the executor's timeout kill,
// does not stop it), stdio on /dev/null (os/exec's default for nil), and
// not waited for.
func (an *Announcer) spawn(a Tail) error {
	cmd, err := an.TailCommand(a.Argv())
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return cmd.Process.Release()
}

// Announce sends the first slot of burst b for ip on iface now and hands
// the rest, and the refresh if HA_ARP_REFRESH_MS asks for one, to a
// detached process. Failures are warnings: the address is up, and
// Heartbeat's IPaddr does not fail a start because send_arp failed.
//
// Announce is a successful start's last step: once the first slot is out
// it settles the op with OK (agent.IO.Settle), so the daemon does not wait
// for the detached process to be started. A caller must not fail the op
// after it.
func (an *Announcer) Announce(k *Kernel, iface string, ip netip.Addr, b garp.Burst, io agent.IO) {
	if b.Count == 0 {
		return
	}
	s, err := an.Open(iface, ip, b)
	if err != nil {
		fmt.Fprintf(io.Stderr, "WARNING: %s for %s not sent: %v\n", an.Frame, ip, err)
		return
	}
	defer s.Close()
	an.AnnounceWith(k, s, iface, ip, b, io)
}

// AnnounceWith is Announce through a Sender the caller opened (for ip
// with burst b) and still owns: a takeover's IPaddr probes and announces
// on one socket.
func (an *Announcer) AnnounceWith(k *Kernel, s Sender, iface string, ip netip.Addr, b garp.Burst, io agent.IO) {
	if b.Count == 0 {
		return
	}
	index := s.Index()
	owned := func() (bool, error) { return k.Holds(ip, index) }
	// Only the first slot is sent before start returns: it is what moves
	// the neighbours' caches, and every millisecond start spends here is
	// added to the failover (the group's later resources wait for it). The
	// rest of the fast head and the slow tail follow in the background.
	const head = 1
	if _, err := s.Send(0, head, 0, owned); err != nil {
		fmt.Fprintf(io.Stderr, "WARNING: %s for %s on %s: %v\n", an.Frame, ip, iface, err)
		return
	}
	last := time.Now()
	// The start has succeeded; the rest only follows up.
	io.Settled(agent.OK)
	refresh, _ := RefreshFromEnv(io.Getenv) // warned about in start
	if head >= b.Count && refresh == 0 {
		return
	}
	pid, _ := strconv.Atoi(io.Getenv(agent.EnvDaemonPID))
	if err := an.spawn(Tail{Iface: iface, IP: ip, From: head, Burst: b, Last: last, DaemonPID: pid, Refresh: refresh}); err != nil {
		// Better late than never: send the rest here.
		fmt.Fprintf(io.Stderr, "WARNING: cannot start the %s (%v); sending the rest of the burst now, and no periodic refresh\n", an.Process, err)
		if _, err := s.Send(head, b.Count, b.Gap(head), owned); err != nil && !errors.Is(err, garp.ErrReleased) {
			fmt.Fprintf(io.Stderr, "WARNING: %s for %s on %s: %v\n", an.Frame, ip, iface, err)
		}
		return
	}
	msg := fmt.Sprintf("INFO: sent %s for %s from %s on %s; the rest follow in the background",
		an.Sent(head, b), ip, s.MAC(), iface)
	if refresh > 0 {
		msg += fmt.Sprintf(", then one every %v while the address is held (arp_refresh)", refresh)
	}
	io.Printf("%s", msg)
}
