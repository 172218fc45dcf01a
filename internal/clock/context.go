package clock

import (
	"context"
	"time"
)

// WithTimeout is context.WithTimeout on c's time. On the real clock it is
// context.WithTimeout itself. On any other the deadline is an AfterFunc of
// c, so it passes when a fake clock is advanced past it; such a context has
// no Deadline, and once it has passed its Err is context.Canceled and its
// context.Cause context.DeadlineExceeded.
func WithTimeout(parent context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	switch c.(type) {
	case nil, Real, *Real: // nil: the real clock, as the zero values of its users mean
		return context.WithTimeout(parent, d)
	}
	ctx, cancel := context.WithCancelCause(parent)
	t := c.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}
