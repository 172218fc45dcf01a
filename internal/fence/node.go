package fence

import (
	"context"
	"fmt"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/config"
	"heartbeatd/internal/level"
)

// Fencer carries out the core's fencing requests with this node's devices
// (config.FenceDevicesFor), in ha.cf order, and watches that they answer.
// It logs Heartbeat's "Resetting node N with [...]" and what each device
// did; Heartbeat's "node N now reset." is the resource manager's line, logged
// once when it learns of the reset (FenceDone).
type Fencer struct {
	Runner  *Runner
	Devices []config.FenceDevice
	Log     func(level.Level, string)
	// Checked, when set, gets every status check's outcome (for
	// `heartbeatd status`).
	Checked func(dev config.FenceDevice, ok bool)
}

// ResetNode tries the devices in order until one resets node, each under
// the Runner's timeout. It reports whether one did. Heartbeat keeps only
// the last device line that applies to a node; trying every one in order
// only adds a fallback.
func (f *Fencer) ResetNode(ctx context.Context, node string) bool {
	for _, d := range f.Devices {
		f.Log(level.Info, fmt.Sprintf("Resetting node %s with [%s]", node, d))
		res := f.Runner.Reset(ctx, d, node)
		if res.OK() {
			f.Log(level.Info, fmt.Sprintf("Reset of node %s with [%s] done in %v", node, d, res.Elapsed.Round(time.Millisecond)))
			return true
		}
		f.Log(level.Error, fmt.Sprintf("Reset of node %s with [%s] failed: %s", node, d, res))
	}
	if len(f.Devices) == 0 {
		f.Log(level.Error, fmt.Sprintf("cannot reset node %s: no STONITH device configured for this node", node))
	}
	return false
}

// Watch checks every device at once and then every interval (0: only at
// once) until ctx ends: a device that does not answer is one warning, and
// one line again when it answers, so a broken power switch is known before
// it is needed.
func (f *Fencer) Watch(ctx context.Context, clk clock.Clock, interval time.Duration) {
	failing := make([]bool, len(f.Devices))
	for {
		for i, d := range f.Devices {
			res := f.Runner.Status(ctx, d)
			if ctx.Err() != nil {
				return
			}
			switch {
			case !res.OK() && !failing[i]:
				f.Log(level.Warn, fmt.Sprintf("STONITH device [%s] does not answer its status check: %s; a dead peer could not be reset", d, res))
			case res.OK() && failing[i]:
				f.Log(level.Info, fmt.Sprintf("STONITH device [%s] answers its status check again", d))
			}
			failing[i] = !res.OK()
			if f.Checked != nil {
				f.Checked(d, res.OK())
			}
		}
		if interval <= 0 {
			return
		}
		t := clk.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}
