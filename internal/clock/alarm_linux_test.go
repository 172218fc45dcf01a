package clock

import (
	"testing"
	"time"
)

func expectFire(t *testing.T, a Alarm, what string) {
	t.Helper()
	select {
	case <-a.C():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the alarm did not go off", what)
	}
}

func expectQuiet(t *testing.T, a Alarm, what string) {
	t.Helper()
	select {
	case <-a.C():
		t.Fatalf("%s: the alarm went off", what)
	case <-time.After(30 * time.Millisecond):
	}
}

// TestKernelAlarmArmsOnceAndReplaces: the real clock's alarm goes off once
// per arming, a later Reset replaces an earlier one (both ways), and
// Reset(0) means now, not "disarmed" (timerfd's meaning of a zero value).
// The same holds for its Go-timer fallback.
func TestKernelAlarmArmsOnceAndReplaces(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		var w *kernelAlarm
		if fallback {
			w = &kernelAlarm{c: make(chan time.Time, 1)}
			w.fallBack()
		} else {
			a, err := NewAlarm(Real{})
			if err != nil {
				t.Fatalf("NewAlarm: %v", err)
			}
			w = a.(*kernelAlarm)
		}
		name := map[bool]string{false: "timerfd", true: "fallback"}[fallback]
		expectQuiet(t, w, name+" new")
		if err := w.Reset(0); err != nil {
			t.Fatal(err)
		}
		expectFire(t, w, name+" Reset(0)")
		expectQuiet(t, w, name+" after one expiry")
		w.Reset(time.Hour)
		w.Reset(time.Millisecond)
		expectFire(t, w, name+" an hour replaced by 1 ms")
		w.Reset(200 * time.Millisecond)
		w.Reset(time.Hour)
		select {
		case <-w.C():
			t.Fatalf("%s: 200 ms replaced by an hour went off", name)
		case <-time.After(400 * time.Millisecond):
		}
		w.Close()
	}
}
