package daemon

import "heartbeatd/internal/logging"

// scriptLog adapts the daemon's logger to the executor's.
type scriptLog struct{ l *logging.Logger }

func (s scriptLog) Log(entity, level, text string) {
	s.l.Log(entity, logging.ParseLevel(level), text)
}
