// Package clock is the daemon's only source of time. The pure cores never call
// it: the shell reads Now and passes it in, and every wait and timer of the
// shell comes from a Clock, so tests drive it with a fake clock to the
// millisecond instead of sleeping. The interface follows tailscale's
// tstime.Clock.
package clock

import (
	"sync"
	"time"
)

// Clock is the time source the shell depends on.
type Clock interface {
	// Now returns the current time; values from the real clock carry the
	// wall clock and Go's monotonic reading, so differences are immune to
	// wall-clock steps and Unix() is the real date.
	Now() time.Time
	// Since is Now().Sub(t).
	Since(t time.Time) time.Duration
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed (at once when d <= 0).
	NewTimer(d time.Duration) Timer
	// AfterFunc returns a timer that calls f once d has passed; its C is
	// nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a one-shot timer made by a Clock: time.Timer with its channel
// behind a method, so that a fake clock can provide one. As with time.Timer
// since Go 1.23, no stale value is received after Stop or Reset returns.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; false if it had already fired
	// or been stopped.
	Stop() bool
	// Reset re-arms the timer to fire d from now; false if it had already
	// fired or been stopped.
	Reset(d time.Duration) bool
}

// Real is the system clock.
type Real struct{}

func (Real) Now() time.Time                         { return time.Now() }
func (Real) Since(t time.Time) time.Duration        { return time.Since(t) }
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (Real) NewTimer(d time.Duration) Timer         { return realTimer{time.NewTimer(d)} }
func (Real) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

// realTimer is one pointer, so a Timer holding it allocates nothing more.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Fake is a clock that moves only when Advance is called. Its timers fire
// from Advance, in the order of their deadlines (ties in the order they
// were armed), each with the clock set to its deadline; an AfterFunc's
// function runs on Advance's goroutine, and what it arms fires in the same
// Advance if it falls due. A channel timer armed with d <= 0 fires as it is
// armed; an AfterFunc so armed runs on the next Advance (Advance(0) too).
// Safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*fakeTimer // armed timers, in no order
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

func (f *Fake) After(d time.Duration) <-chan time.Time { return f.NewTimer(d).C() }

func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(t, d)
	return t
}

func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{f: f, fn: fn}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(t, d)
	return t
}

// Advance moves the clock forward by d, firing every timer that falls due
// on the way, earliest first.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		i := f.earliest()
		if i < 0 || f.timers[i].at.After(end) {
			break
		}
		t := f.timers[i]
		f.disarm(i)
		if t.at.After(f.now) {
			f.now = t.at
		}
		if t.fn != nil {
			f.mu.Unlock()
			t.fn()
			f.mu.Lock()
			continue
		}
		t.fire(f.now)
	}
	if end.After(f.now) {
		f.now = end
	}
}

// Next returns the deadline of the earliest armed timer; false if none is.
func (f *Fake) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := f.earliest(); i >= 0 {
		return f.timers[i].at, true
	}
	return time.Time{}, false
}

// arm sets t to fire d from now; f.mu is held and t is not armed.
func (f *Fake) arm(t *fakeTimer, d time.Duration) {
	if d <= 0 && t.fn == nil {
		t.fire(f.now)
		return
	}
	f.seq++
	t.at, t.seq, t.armed = f.now.Add(max(d, 0)), f.seq, true
	f.timers = append(f.timers, t)
}

// earliest is the index of the timer to fire first, -1 if none is armed.
func (f *Fake) earliest() int {
	best := -1
	for i, t := range f.timers {
		if best < 0 {
			best = i
			continue
		}
		if b := f.timers[best]; t.at.Before(b.at) || t.at.Equal(b.at) && t.seq < b.seq {
			best = i
		}
	}
	return best
}

func (f *Fake) disarm(i int) {
	f.timers[i].armed = false
	last := len(f.timers) - 1
	f.timers[i] = f.timers[last]
	f.timers[last] = nil
	f.timers = f.timers[:last]
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time // capacity 1, empty whenever the timer is armed; nil for AfterFunc
	fn    func()         // AfterFunc's
	at    time.Time
	seq   uint64 // arming order, for ties
	armed bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.c <- now:
	default: // cannot happen: the channel is drained when re-armed
	}
}

// stop disarms t and drops an unreceived expiry; f.mu is held.
func (t *fakeTimer) stop() bool {
	was := t.armed
	if was {
		for i, u := range t.f.timers {
			if u == t {
				t.f.disarm(i)
				break
			}
		}
	}
	select {
	case <-t.c:
	default:
	}
	return was
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.stop()
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.stop()
	t.f.arm(t, d)
	return was
}
