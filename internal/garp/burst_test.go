package garp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"heartbeatd/internal/clock"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Unix(1700000000, 0)

// steppingClock is a fake clock that tells the test about every wait, so the
// test can advance exactly to it: no sleeps, no races between Advance and
// the sender registering its timer.
type steppingClock struct {
	*clock.Fake
	waits chan time.Duration
}

func (c steppingClock) After(d time.Duration) <-chan time.Time {
	ch := c.Fake.After(d)
	c.waits <- d
	return ch
}

// sentFrame is one frame as the recorder saw it, at fake time.
type sentFrame struct {
	AtMS int64
	Op   string
}

type recorder struct {
	clk    clock.Clock
	frames []sentFrame
	failAt int // fail the n-th write (1-based); 0 never
}

func (r *recorder) WriteFrame(b []byte) error {
	if r.failAt > 0 && len(r.frames)+1 == r.failAt {
		return errors.New("network is down")
	}
	p, err := Parse(b)
	if err != nil {
		return err
	}
	r.frames = append(r.frames, sentFrame{AtMS: r.clk.Now().Sub(t0).Milliseconds(), Op: p.Op.String()})
	return nil
}

// runBurst runs a.Send(from, to, wait) on a fake clock until it returns.
func runBurst(t *testing.T, a *Announcer, from, to int, wait time.Duration) (*recorder, int, error) {
	t.Helper()
	clk := steppingClock{Fake: clock.NewFake(t0), waits: make(chan time.Duration)}
	rec := &recorder{clk: clk}
	if fw, ok := a.Out.(*recorder); ok {
		rec.failAt = fw.failAt
	}
	a.Clock, a.Out, a.MAC, a.IP = clk, rec, testMAC, testIP
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := a.Send(from, to, wait)
		done <- result{n, err}
	}()
	for {
		select {
		case d := <-clk.waits:
			clk.Advance(d)
		case r := <-done:
			return rec, r.n, r.err
		case <-time.After(10 * time.Second):
			t.Fatal("burst did not finish")
		}
	}
}

func TestDefaultBurstSchedule(t *testing.T) {
	b := DefaultBurst()
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	// 3 fast slots 200 ms apart, then 1100 ms (> the 1 s arp locktime).
	want := []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 1500 * time.Millisecond, 2600 * time.Millisecond}
	if diff := cmp.Diff(want, b.Offsets()); diff != "" {
		t.Fatalf("offsets (-want +got):\n%s", diff)
	}
}

func TestSendWholeBurstBothForms(t *testing.T) {
	rec, n, err := runBurst(t, &Announcer{Burst: DefaultBurst()}, 0, 5, 0)
	if err != nil || n != 5 {
		t.Fatalf("sent %d slots, err %v", n, err)
	}
	var want []sentFrame
	for _, at := range []int64{0, 200, 400, 1500, 2600} {
		want = append(want, sentFrame{at, "request"}, sentFrame{at, "reply"})
	}
	if diff := cmp.Diff(want, rec.frames); diff != "" {
		t.Fatalf("frames (-want +got):\n%s", diff)
	}
}

// The agent sends the fast head itself and leaves the tail to a detached
// process that starts with the remaining gap: head + tail must equal the
// whole burst.
func TestHeadAndTailMakeTheBurst(t *testing.T) {
	b := Burst{Count: 6, Fast: 2, FastInterval: 150 * time.Millisecond, SlowInterval: 1200 * time.Millisecond, Mode: ModeReply}
	head, n, err := runBurst(t, &Announcer{Burst: b}, 0, b.Fast, 0)
	if err != nil || n != 2 {
		t.Fatalf("head: %d, %v", n, err)
	}
	tail, n, err := runBurst(t, &Announcer{Burst: b}, b.Fast, b.Count, b.Gap(b.Fast))
	if err != nil || n != 4 {
		t.Fatalf("tail: %d, %v", n, err)
	}
	got := []int64{}
	for _, f := range head.frames {
		got = append(got, f.AtMS)
	}
	last := got[len(got)-1]
	for _, f := range tail.frames {
		if f.Op != "reply" {
			t.Fatalf("mode reply sent a %s", f.Op)
		}
		got = append(got, last+f.AtMS)
	}
	want := []int64{0, 150, 1350, 2550, 3750, 4950}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("slot times (-want +got):\n%s", diff)
	}
}

func TestSendStopsWhenAddressReleased(t *testing.T) {
	checks := 0
	a := &Announcer{Burst: Burst{Count: 5, Fast: 0, FastInterval: time.Second, SlowInterval: time.Second, Mode: ModeRequest},
		Owned: func() (bool, error) { checks++; return checks < 3, nil }}
	rec, n, err := runBurst(t, a, 0, 5, 0)
	if !errors.Is(err, ErrReleased) {
		t.Fatalf("err %v, want ErrReleased", err)
	}
	// Slot 0 goes out unchecked (the caller has just added the address);
	// slots 1 and 2 are checked and allowed; the third check says no.
	if n != 3 || len(rec.frames) != 3 || checks != 3 {
		t.Fatalf("sent %d slots (%d frames) after %d checks, want 3/3/3", n, len(rec.frames), checks)
	}
}

func TestSendCheckErrorAndWriteError(t *testing.T) {
	a := &Announcer{Burst: DefaultBurst(), Owned: func() (bool, error) { return false, errors.New("netlink: EPERM") }}
	if _, _, err := runBurst(t, a, 3, 5, time.Second); err == nil || !strings.Contains(err.Error(), "slot 3") || !strings.Contains(err.Error(), "EPERM") {
		t.Fatalf("check error: %v", err)
	}
	a = &Announcer{Burst: DefaultBurst(), Out: &recorder{failAt: 4}}
	rec, n, err := runBurst(t, a, 0, 5, 0)
	if err == nil || !strings.Contains(err.Error(), "slot 1: network is down") || n != 1 || len(rec.frames) != 3 {
		t.Fatalf("write error: n=%d frames=%d err=%v", n, len(rec.frames), err)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultBurst()
	for _, tc := range []struct {
		change func(*Burst)
		want   string
	}{
		{func(b *Burst) { b.Count = -1 }, "ARP count -1"},
		{func(b *Burst) { b.Count = 101 }, "ARP count 101"},
		{func(b *Burst) { b.Fast = 6 }, "fast ARP count 6"},
		{func(b *Burst) { b.FastInterval = time.Millisecond }, "fast ARP interval 1ms"},
		{func(b *Burst) { b.SlowInterval = 2 * time.Minute }, "ARP interval 2m0s"},
		{func(b *Burst) { b.Mode = 7 }, "ARP mode 7"},
	} {
		b := ok
		tc.change(&b)
		if err := b.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", b, err, tc.want)
		}
	}
	zero := ok
	zero.Count, zero.Fast = 0, 0
	if err := zero.Validate(); err != nil {
		t.Errorf("count 0 (announcements off) rejected: %v", err)
	}
	if _, err := (&Announcer{Burst: ok, Clock: clock.NewFake(t0), MAC: testMAC, IP: testIP}).Send(4, 6, 0); err == nil {
		t.Error("slots beyond the burst accepted")
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"both": ModeBoth, "Request": ModeRequest, " reply ": ModeReply} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("%q: %v %v", in, m, err)
		}
	}
	if _, err := ParseMode("gratuitous"); err == nil || !strings.Contains(err.Error(), `"gratuitous"`) {
		t.Errorf("bad mode: %v", err)
	}
	if s := fmt.Sprint(ModeBoth, ModeRequest, ModeReply); s != "both request reply" {
		t.Errorf("String: %s", s)
	}
}

// SendSlots keeps the burst's schedule: slots Gap apart, the address checked
// before every slot but an immediate first one, and ended when released.
func TestSendSlotsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := Burst{Count: 5, Fast: 3, FastInterval: 200 * time.Millisecond, SlowInterval: 1100 * time.Millisecond}
		start := time.Now()
		var at []time.Duration
		checks := 0
		send := func() error { at = append(at, time.Since(start)); return nil }
		owned := func() (bool, error) { checks++; return true, nil }
		n, err := b.SendSlots(clock.Real{}, 0, b.Count, 0, "the address", owned, send)
		if err != nil || n != 5 || checks != 4 {
			t.Fatalf("sent %d, %v, %d checks", n, err, checks)
		}
		if diff := cmp.Diff(b.Offsets(), at); diff != "" {
			t.Errorf("slot times (-want +got):\n%s", diff)
		}
		// Released after two slots: the third is not sent.
		at, checks = nil, 0
		owned = func() (bool, error) { checks++; return checks < 2, nil }
		if n, err := b.SendSlots(clock.Real{}, 1, b.Count, 50*time.Millisecond, "the address", owned, send); n != 1 || err != ErrReleased {
			t.Errorf("released: sent %d, %v", n, err)
		}
	})
}
