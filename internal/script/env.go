package script

import (
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/agent"
)

// baseEnv is what every script gets before Runner.Env is applied. Heartbeat's
// scripts inherit the daemon's environment; ours does not pass its own on, so
// the variables scripts rely on are spelled out here:
//   - PATH: /etc/ha.d/shellfuncs only prepends Heartbeat's dirs to $PATH and
//     then needs sed, so a PATH with the usual system dirs is required.
//   - HA_DIR, HA_FUNCS: exported by ResourceManager itself before it calls
//     any script; the stock IPaddr wrapper sources $HA_DIR-relative files.
//   - OCF_ROOT, HA_DATEFMT: set by the heartbeat daemon (ocf-shellfuncs
//     falls back to them; the date format ends in a tab, as Heartbeat's).
//
// LC_ALL and LANGUAGE are never passed: ResourceManager unsets them so that
// scripts parsing ifconfig/ip output see the C messages.
var baseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HA_DIR=/etc/ha.d",
	"HA_FUNCS=/etc/ha.d/shellfuncs",
	"OCF_ROOT=/usr/lib/ocf",
	"HA_DATEFMT=%Y/%m/%d_%T\t",
}

// droppedEnv are names ResourceManager unsets before running scripts.
var droppedEnv = map[string]bool{"LC_ALL": true, "LANGUAGE": true}

// Environment is the part of a script's environment the heartbeat daemon
// sets (protocol spec §6.8). Its List goes into Runner.Env, together with
// the HA_<field> variables of the message that triggered the run, if any.
type Environment struct {
	// CurHost is the local node name (HA_CURHOST).
	CurHost string
	// LogFile and DebugLog are ha.cf's logfile and debugfile; the scripts'
	// ha_log appends to them. Left unset when empty, so that ha_log does
	// not try to append to "".
	LogFile  string
	DebugLog string
	// LogFacility is ha.cf's logfacility name ("daemon", "local0"); empty
	// means not configured, and HA_LOGFACILITY is then left unset.
	LogFacility string
	// UseLogd sets HA_LOGD=yes (scripts then log via ha_logger).
	UseLogd bool
	// Debug is the debug level (HA_debug); ha_debug is silent at 0.
	Debug int
	// NiceFailback sets HA_NICEFAILBACK=yes (auto_failback on or off, not
	// legacy), as Heartbeat does for the stock scripts.
	NiceFailback bool
	// Heartbeatd is this binary's path (HEARTBEATD): the resource.d
	// wrappers of heartbeatd's own agents exec it.
	Heartbeatd string
	// DaemonPID is the daemon's pid (agent.EnvDaemonPID): a background
	// job an agent leaves behind stops once its daemon is gone.
	DaemonPID int
	// ARPRefresh is ha.cf's arp_refresh (agent.EnvARPRefresh, in ms): how
	// often IPaddr and IPv6addr announce a held address again; 0 = off,
	// and the variable is then left unset.
	ARPRefresh time.Duration
	// Vars are ha.cf `env NAME=value` directives, exported as HA_NAME.
	Vars []EnvVar
}

// EnvVar is one `env NAME=value` directive.
type EnvVar struct {
	Name  string
	Value string
}

// List returns the variables as NAME=value strings, base variables first.
func (e Environment) List() []string {
	out := append([]string(nil), baseEnv[1:]...) // PATH stays the Runner's default
	out = append(out, "HA_CURHOST="+e.CurHost, "HA_debug="+strconv.Itoa(e.Debug))
	if e.LogFile != "" {
		out = append(out, "HA_LOGFILE="+e.LogFile)
	}
	if e.DebugLog != "" {
		out = append(out, "HA_DEBUGLOG="+e.DebugLog)
	}
	if e.NiceFailback {
		out = append(out, "HA_NICEFAILBACK=yes")
	}
	if e.Heartbeatd != "" {
		out = append(out, "HEARTBEATD="+e.Heartbeatd)
	}
	if e.DaemonPID != 0 {
		out = append(out, agent.EnvDaemonPID+"="+strconv.Itoa(e.DaemonPID))
	}
	if e.ARPRefresh > 0 {
		out = append(out, agent.EnvARPRefresh+"="+strconv.FormatInt(e.ARPRefresh.Milliseconds(), 10))
	}
	if e.LogFacility != "" {
		out = append(out, "HA_LOGFACILITY="+e.LogFacility)
	}
	if e.UseLogd {
		out = append(out, "HA_LOGD=yes")
	} else {
		out = append(out, "HA_LOGD=no")
	}
	for _, v := range e.Vars {
		out = append(out, "HA_"+v.Name+"="+v.Value)
	}
	return out
}

// mergeEnv returns base overlaid with extra: a later NAME=value replaces an
// earlier one in place. Entries that are not NAME=value, contain NUL, or
// name a variable ResourceManager unsets are left out.
func mergeEnv(base, extra []string) []string {
	index := make(map[string]int)
	var out []string
	for _, list := range [][]string{base, extra} {
		for _, kv := range list {
			name, _, ok := strings.Cut(kv, "=")
			if !ok || name == "" || strings.ContainsRune(kv, 0) || droppedEnv[name] {
				continue
			}
			if i, seen := index[name]; seen {
				out[i] = kv
				continue
			}
			index[name] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
