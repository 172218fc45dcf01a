package garp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"heartbeatd/internal/clock"
)

// Mode says which forms each slot of a burst sends.
type Mode int

const (
	// ModeBoth sends a request and then a reply in every slot: some
	// switches and hosts honour only one of the two (vip-manager #12 users
	// needed `arping -A`, others `-U`).
	ModeBoth Mode = iota
	ModeRequest
	ModeReply
)

func (m Mode) String() string {
	switch m {
	case ModeBoth:
		return "both"
	case ModeRequest:
		return "request"
	case ModeReply:
		return "reply"
	}
	return fmt.Sprintf("mode%d", int(m))
}

// ParseMode reads "request", "reply" or "both".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "both":
		return ModeBoth, nil
	case "request":
		return ModeRequest, nil
	case "reply":
		return ModeReply, nil
	}
	return 0, fmt.Errorf("ARP mode %q is not request, reply or both", s)
}

// ops lists the ARP operations one slot sends, request first.
func (m Mode) ops() []Op {
	switch m {
	case ModeRequest:
		return []Op{OpRequest}
	case ModeReply:
		return []Op{OpReply}
	}
	return []Op{OpRequest, OpReply}
}

// Burst is the shape of one announcement: Count slots, the first Fast of
// them FastInterval apart, the rest SlowInterval apart.
//
// Why two speeds: the fast frames move neighbours within a fraction of a
// second; the slow ones, spaced beyond Linux's 1 s arp locktime
// (neigh/default/locktime = 100 jiffies), reach kernels older than ~4.11 that
// ignore an update arriving within locktime of the previous one (metallb
// #172, weave #2316), and cover a frame lost while a switch port was still
// coming up.
type Burst struct {
	Count        int
	Fast         int
	FastInterval time.Duration
	SlowInterval time.Duration
	Mode         Mode
}

// Defaults; see Burst for the reasoning. 5 frames over 2.6 s is in the
// field's range (IPaddr2 5×200 ms, keepalived 5 + 5, OCF IPaddr 10×500 ms).
const (
	DefaultCount        = 5
	DefaultFast         = 3
	DefaultFastInterval = 200 * time.Millisecond
	DefaultSlowInterval = 1100 * time.Millisecond
)

// Limits for Validate: a burst is a failover aid, not a flood and not a
// background job that outlives the next failover.
const (
	MaxCount    = 100
	MinInterval = 10 * time.Millisecond
	MaxInterval = 60 * time.Second
)

// DefaultBurst returns 5 slots (3 fast at 200 ms, then 1100 ms), both forms.
func DefaultBurst() Burst {
	return Burst{Count: DefaultCount, Fast: DefaultFast, FastInterval: DefaultFastInterval,
		SlowInterval: DefaultSlowInterval, Mode: ModeBoth}
}

// Validate checks the ranges. Count 0 is allowed: no announcement at all
// (for segments where GARP is filtered or harmful).
func (b Burst) Validate() error {
	switch {
	case b.Count < 0 || b.Count > MaxCount:
		return fmt.Errorf("ARP count %d out of range 0..%d", b.Count, MaxCount)
	case b.Fast < 0 || b.Fast > b.Count:
		return fmt.Errorf("fast ARP count %d out of range 0..count (%d)", b.Fast, b.Count)
	case b.FastInterval < MinInterval || b.FastInterval > MaxInterval:
		return fmt.Errorf("fast ARP interval %v out of range %v..%v", b.FastInterval, MinInterval, MaxInterval)
	case b.SlowInterval < MinInterval || b.SlowInterval > MaxInterval:
		return fmt.Errorf("ARP interval %v out of range %v..%v", b.SlowInterval, MinInterval, MaxInterval)
	case b.Mode != ModeBoth && b.Mode != ModeRequest && b.Mode != ModeReply:
		return fmt.Errorf("ARP mode %d unknown", int(b.Mode))
	}
	return nil
}

// Gap is the wait between slot i-1 and slot i (i ≥ 1): FastInterval inside
// the fast head, SlowInterval after it.
func (b Burst) Gap(i int) time.Duration {
	if i < b.Fast {
		return b.FastInterval
	}
	return b.SlowInterval
}

// Offsets returns when each slot goes out, relative to the first.
func (b Burst) Offsets() []time.Duration {
	out := make([]time.Duration, b.Count)
	for i := 1; i < b.Count; i++ {
		out[i] = out[i-1] + b.Gap(i)
	}
	return out
}

// FrameWriter sends one Ethernet frame (the packet socket, or a recorder in
// tests).
type FrameWriter interface {
	WriteFrame(frame []byte) error
}

// ErrReleased ends a burst whose address is no longer ours.
var ErrReleased = errors.New("address no longer configured here; announcement stopped")

// Announcer sends the slots of a burst for one address.
type Announcer struct {
	Burst Burst
	Clock clock.Clock
	Out   FrameWriter
	MAC   net.HardwareAddr
	IP    netip.Addr
	// Owned, if set, is asked before every slot after the first one sent.
	// When it says no, the rest of the burst is dropped and Send returns
	// ErrReleased: a node that has handed the address over must not keep
	// announcing it (FIELD-NOTES row 12, kube-vip #277).
	Owned func() (bool, error)
}

// Send transmits slots [from, to) of the burst: the first one after wait,
// each later one Gap(i) after its predecessor. It returns the number of
// slots sent. Deadlines are absolute from the call, so slow writes do not
// stretch the schedule.
func (a *Announcer) Send(from, to int, wait time.Duration) (int, error) {
	if err := a.Burst.Validate(); err != nil {
		return 0, err
	}
	if from < 0 || to > a.Burst.Count || from > to {
		return 0, fmt.Errorf("garp: slots [%d,%d) outside burst of %d", from, to, a.Burst.Count)
	}
	frames := make([][]byte, 0, 2)
	for _, op := range a.Burst.Mode.ops() {
		f, err := Gratuitous(op, a.MAC, a.IP)
		if err != nil {
			return 0, err
		}
		frames = append(frames, f)
	}
	sent, err := a.Burst.SendSlots(a.Clock, from, to, wait, a.IP.String(), a.Owned, func() error {
		for _, f := range frames {
			if err := a.Out.WriteFrame(f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrReleased) {
		err = fmt.Errorf("garp: %w", err)
	}
	return sent, err
}

// SendSlots paces slots [from, to) of b: each is one call of send, the
// first after wait, each later one Gap(i) after its predecessor; deadlines
// are absolute from the call, so slow sends do not stretch the schedule.
// owned, if set, is asked before every slot but an immediate first one;
// when it says no, SendSlots returns ErrReleased. what names the address
// in a failed check's error. It returns the slots sent. The ARP Announcer
// and IPv6addr's neighbour advertisements both keep this schedule.
func (b Burst) SendSlots(clk clock.Clock, from, to int, wait time.Duration, what string, owned func() (bool, error), send func() error) (int, error) {
	next := clk.Now().Add(wait)
	sent := 0
	for i := from; i < to; i++ {
		if i > from {
			next = next.Add(b.Gap(i))
		}
		if d := next.Sub(clk.Now()); d > 0 {
			<-clk.After(d)
		}
		if owned != nil && (i > from || wait > 0) {
			ok, err := owned()
			if err != nil {
				return sent, fmt.Errorf("slot %d: checking %s is still ours: %w", i, what, err)
			}
			if !ok {
				return sent, ErrReleased
			}
		}
		if err := send(); err != nil {
			return sent, fmt.Errorf("slot %d: %w", i, err)
		}
		sent++
	}
	return sent, nil
}
