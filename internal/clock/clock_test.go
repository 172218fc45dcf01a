package clock

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestFakeFiresOnlyWhenDue(t *testing.T) {
	f := NewFake(time.Unix(1000, 0))
	ch := f.After(100 * time.Millisecond)
	f.Advance(99 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("fired 1ms early")
	default:
	}
	f.Advance(time.Millisecond)
	select {
	case at := <-ch:
		if !at.Equal(time.Unix(1000, 0).Add(100 * time.Millisecond)) {
			t.Fatalf("fired with %v", at)
		}
	default:
		t.Fatal("did not fire when due")
	}
}

// TestFakeTimersFireInOrder: one Advance past several deadlines fires them
// earliest first, ties in arming order, each with the clock at its own
// deadline, whatever order they were armed in; a timer armed by a firing
// one fires in the same Advance when it falls due within it.
func TestFakeTimersFireInOrder(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFake(t0)
	var got []string
	record := func(name string) func() {
		return func() { got = append(got, fmt.Sprintf("%s@%v", name, f.Now().Sub(t0))) }
	}
	f.AfterFunc(300*time.Millisecond, record("late"))
	f.AfterFunc(100*time.Millisecond, record("tie1"))
	ch := f.NewTimer(200 * time.Millisecond)
	f.AfterFunc(200*time.Millisecond, func() {
		record("mid")()
		f.AfterFunc(20*time.Millisecond, record("chained")) // due at 220 ms
		f.AfterFunc(time.Second, record("beyond"))
	})
	tie2 := f.AfterFunc(100*time.Millisecond, record("tie2"))
	tie3 := f.AfterFunc(100*time.Millisecond, record("tie3"))
	tie2.Reset(100 * time.Millisecond) // re-armed: now after tie3
	if next, ok := f.Next(); !ok || next.Sub(t0) != 100*time.Millisecond {
		t.Fatalf("Next = %v, %v", next.Sub(t0), ok)
	}
	f.Advance(250 * time.Millisecond)
	want := "[tie1@100ms tie3@100ms tie2@100ms mid@200ms chained@220ms]"
	if fmt.Sprint(got) != want {
		t.Fatalf("fired %v, want %v", got, want)
	}
	select {
	case v := <-ch.C():
		if v.Sub(t0) != 200*time.Millisecond {
			t.Errorf("channel timer fired with %v, want 200ms", v.Sub(t0))
		}
	default:
		t.Error("channel timer did not fire")
	}
	if f.Since(t0) != 250*time.Millisecond {
		t.Errorf("Since = %v after the Advance", f.Since(t0))
	}
	if tie3.Stop() {
		t.Error("Stop of a fired AfterFunc = true")
	}
	if next, ok := f.Next(); !ok || next.Sub(t0) != 300*time.Millisecond {
		t.Fatalf("Next after = %v, %v", next.Sub(t0), ok)
	}
	// An AfterFunc due at once runs on the next Advance, even Advance(0).
	got = nil
	f.AfterFunc(0, record("now"))
	if len(got) != 0 {
		t.Fatal("AfterFunc(0) ran inside AfterFunc")
	}
	f.Advance(0)
	if fmt.Sprint(got) != "[now@250ms]" {
		t.Fatalf("AfterFunc(0): %v", got)
	}
}

// TestFakeTimerStopAndReset: Stop and Reset report whether the timer was
// armed, a stopped timer never fires, Reset replaces the deadline (both
// ways), Reset(0) fires at once, and neither leaves a stale expiry behind.
func TestFakeTimerStopAndReset(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFake(t0)
	tm := f.NewTimer(time.Second)
	quiet := func(what string) {
		t.Helper()
		select {
		case v := <-tm.C():
			t.Fatalf("%s: fired at %v", what, v.Sub(t0))
		default:
		}
	}
	fired := func(what string, want time.Duration) {
		t.Helper()
		select {
		case v := <-tm.C():
			if v.Sub(t0) != want {
				t.Fatalf("%s: fired at %v, want %v", what, v.Sub(t0), want)
			}
		default:
			t.Fatalf("%s: did not fire", what)
		}
	}
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer = false")
	}
	if tm.Stop() {
		t.Fatal("second Stop = true")
	}
	if _, ok := f.Next(); ok {
		t.Fatal("a stopped timer is still armed")
	}
	f.Advance(2 * time.Second)
	quiet("stopped")

	if tm.Reset(time.Second) { // at 3 s
		t.Fatal("Reset of a stopped timer = true")
	}
	if !tm.Reset(500 * time.Millisecond) { // earlier: at 2.5 s
		t.Fatal("Reset of an armed timer = false")
	}
	f.Advance(499 * time.Millisecond)
	quiet("1 ms before the new deadline")
	f.Advance(time.Millisecond)
	fired("reset earlier", 2500*time.Millisecond)
	f.Advance(time.Second)
	quiet("fires once")

	tm.Reset(100 * time.Millisecond) // at 3.6 s
	tm.Reset(time.Second)            // later: at 4.5 s
	f.Advance(500 * time.Millisecond)
	quiet("the replaced, earlier deadline")
	f.Advance(500 * time.Millisecond)
	fired("reset later", 4500*time.Millisecond)

	// An expiry not yet received is dropped by Reset and by Stop.
	tm.Reset(time.Millisecond)
	f.Advance(time.Millisecond)
	tm.Reset(time.Hour)
	quiet("stale expiry after Reset")
	tm.Reset(time.Millisecond)
	f.Advance(time.Millisecond)
	if tm.Stop() {
		t.Fatal("Stop of a fired timer = true")
	}
	quiet("stale expiry after Stop")

	tm.Reset(0)
	fired("Reset(0)", 4502*time.Millisecond)
	tm.Reset(-time.Second)
	fired("Reset(<0)", 4502*time.Millisecond)
	if v := <-f.After(0); v.Sub(t0) != 4502*time.Millisecond {
		t.Fatalf("After(0) = %v", v.Sub(t0))
	}
}

// TestFakeAlarm: NewAlarm on a fake clock is driven by Advance, so the
// daemon's loop can be.
func TestFakeAlarm(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := NewFake(t0)
	a, err := NewAlarm(f)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := f.Next(); ok {
		t.Fatal("a new alarm is armed")
	}
	a.Reset(0)
	select {
	case <-a.C():
	default:
		t.Fatal("Reset(0) did not go off at once")
	}
	a.Reset(time.Hour)
	a.Reset(20 * time.Millisecond)
	f.Advance(19 * time.Millisecond)
	select {
	case <-a.C():
		t.Fatal("went off early")
	default:
	}
	f.Advance(time.Millisecond)
	select {
	case <-a.C():
	default:
		t.Fatal("did not go off")
	}
	a.Close()
	if _, ok := f.Next(); ok {
		t.Fatal("a closed alarm is armed")
	}
}

// TestWithTimeoutOnFake: a context's timeout on a fake clock passes when
// the clock is advanced past it, not before, and cancel stops its timer.
func TestWithTimeoutOnFake(t *testing.T) {
	f := NewFake(time.Unix(1000, 0))
	ctx, cancel := WithTimeout(context.Background(), f, time.Minute)
	defer cancel()
	f.Advance(time.Minute - time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("expired early: %v", ctx.Err())
	}
	f.Advance(time.Millisecond)
	<-ctx.Done()
	if context.Cause(ctx) != context.DeadlineExceeded {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	_, cancel2 := WithTimeout(context.Background(), f, time.Minute)
	cancel2()
	if _, ok := f.Next(); ok {
		t.Fatal("cancel left the timer armed")
	}
	// The real clock's is context.WithTimeout's, with its deadline.
	rctx, rcancel := WithTimeout(context.Background(), Real{}, time.Minute)
	defer rcancel()
	if _, ok := rctx.Deadline(); !ok {
		t.Fatal("real clock: no deadline")
	}
}
