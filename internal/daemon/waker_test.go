package daemon

import (
	"testing"
	"time"
)

func expectFire(t *testing.T, w *waker, what string) {
	t.Helper()
	select {
	case <-w.C:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the alarm did not go off", what)
	}
}

func expectQuiet(t *testing.T, w *waker, what string) {
	t.Helper()
	select {
	case <-w.C:
		t.Fatalf("%s: the alarm went off", what)
	case <-time.After(30 * time.Millisecond):
	}
}

// TestWakerArmsOnceAndReplaces: the loop's alarm goes off once per arming,
// a later Reset replaces an earlier one (both ways), and Reset(0) means now,
// not "disarmed" (timerfd's meaning of a zero value).
func TestWakerArmsOnceAndReplaces(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		var w *waker
		if fallback {
			w = &waker{C: make(chan struct{}, 1)}
			w.fallBack()
		} else {
			var err error
			if w, err = newWaker(); err != nil {
				t.Fatalf("newWaker: %v", err)
			}
		}
		name := map[bool]string{false: "timerfd", true: "fallback"}[fallback]
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
		case <-w.C:
			t.Fatalf("%s: 200 ms replaced by an hour went off", name)
		case <-time.After(400 * time.Millisecond):
		}
		w.Close()
	}
}
