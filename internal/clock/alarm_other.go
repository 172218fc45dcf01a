//go:build !linux

package clock

import "time"

// newKernelAlarm: without timerfd, the real clock's alarm is a Go timer.
func newKernelAlarm() (Alarm, error) {
	t := Real{}.NewTimer(time.Hour)
	t.Stop()
	return timerAlarm{t}, nil
}
