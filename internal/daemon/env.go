package daemon

import (
	"os"
	"sort"

	"heartbeatd/internal/logging"
	"heartbeatd/internal/script"
)

// scriptEnv is the environment Heartbeat gives resource scripts (spec §6.8),
// so Debian's stock resource.d scripts, which source $HA_DIR/shellfuncs and
// log through ha_log, run unchanged.
func scriptEnv(d *Daemon) []string {
	e := script.Environment{CurHost: d.local, LogFile: d.cfg.LogFile, DebugLog: d.cfg.DebugFile,
		LogFacility: d.cfg.LogFacility, Debug: d.cfg.Debug, NiceFailback: d.cfg.AutoFailback != "legacy",
		DaemonPID: os.Getpid()}
	if self, err := os.Executable(); err == nil {
		e.Heartbeatd = self
	}
	for k, v := range d.cfg.Env {
		e.Vars = append(e.Vars, script.EnvVar{Name: k, Value: v})
	}
	sort.Slice(e.Vars, func(i, j int) bool { return e.Vars[i].Name < e.Vars[j].Name })
	return e.List()
}

// scriptLog adapts the daemon's logger to the executor's.
type scriptLog struct{ l *logging.Logger }

func (s scriptLog) Log(entity, level, text string) {
	s.l.Log(entity, logging.ParseLevel(level), text)
}
