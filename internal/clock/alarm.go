package clock

import "time"

// Alarm is an event loop's wake-up: one timer, re-armed on every turn of the
// loop. Unlike a Timer's Reset, an Alarm's may leave an expiry of the earlier
// setting pending in C: the loop must treat a wake-up at any time as
// harmless.
type Alarm interface {
	C() <-chan time.Time
	// Reset arms the alarm to go off once, d from now (at once when
	// d <= 0), replacing any earlier setting. An error says the alarm had
	// to fall back to a Go timer; it goes on working.
	Reset(d time.Duration) error
	// Close stops the alarm for good.
	Close()
}

// NewAlarm returns an unarmed alarm on c. On the real clock it is a kernel
// timer (alarm_linux.go says why); on any other clock it is c's Timer, so a
// fake clock drives the loop. An error says why the real clock's alarm runs
// on a Go timer instead; the alarm works either way.
func NewAlarm(c Clock) (Alarm, error) {
	switch c.(type) {
	case Real, *Real:
		return newKernelAlarm()
	}
	t := c.NewTimer(time.Hour)
	t.Stop()
	return timerAlarm{t}, nil
}

type timerAlarm struct{ t Timer }

func (a timerAlarm) C() <-chan time.Time { return a.t.C() }

func (a timerAlarm) Reset(d time.Duration) error {
	a.t.Reset(d)
	return nil
}

func (a timerAlarm) Close() { a.t.Stop() }
