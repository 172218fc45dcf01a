package clock

import (
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
