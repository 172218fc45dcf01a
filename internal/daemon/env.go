package daemon

import (
	"fmt"
	"os"
	"sort"
	"strconv"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/logging"
)

// scriptEnv is the environment Heartbeat gives resource scripts (spec §6.8),
// so Debian's stock resource.d scripts, which source $HA_DIR/shellfuncs and
// log through ha_log, run unchanged.
func scriptEnv(d *Daemon) []string {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HA_DIR=/etc/ha.d",
		"HA_FUNCS=/etc/ha.d/shellfuncs",
		"HA_DATEFMT=%Y/%m/%d_%T\t",
		"HA_CURHOST=" + d.local,
		"HA_debug=" + fmt.Sprint(d.cfg.Debug),
		"OCF_ROOT=/usr/lib/ocf",
		"HA_LOGD=no",
	}
	// The resource.d wrappers of heartbeatd's own agents exec this binary.
	if self, err := os.Executable(); err == nil {
		env = append(env, "HEARTBEATD="+self)
	}
	env = append(env, agent.EnvDaemonPID+"="+strconv.Itoa(os.Getpid()))
	if d.cfg.LogFile != "" {
		env = append(env, "HA_LOGFILE="+d.cfg.LogFile)
	}
	if d.cfg.DebugFile != "" {
		env = append(env, "HA_DEBUGLOG="+d.cfg.DebugFile)
	}
	if d.cfg.LogFacility != "" {
		env = append(env, "HA_LOGFACILITY="+d.cfg.LogFacility)
	}
	if d.cfg.AutoFailback != "legacy" {
		env = append(env, "HA_NICEFAILBACK=yes")
	}
	names := make([]string, 0, len(d.cfg.Env))
	for k := range d.cfg.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, "HA_"+k+"="+d.cfg.Env[k])
	}
	return env
}

// scriptLog adapts the daemon's logger to the executor's.
type scriptLog struct{ l *logging.Logger }

func (s scriptLog) Log(entity, level, text string) {
	s.l.Log(entity, logging.ParseLevel(level), text)
}
