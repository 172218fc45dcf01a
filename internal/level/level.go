// Package level is the one log-level type of heartbeatd: Heartbeat's level
// words as they appear in its log lines ("CRIT", "ERROR", "WARN", "info",
// "debug"). The pure cores write their log actions with it, and the
// logging package routes them; admins grep for these words.
package level

import "strings"

// Level is Heartbeat's level word.
type Level string

// The levels, in Heartbeat's spelling.
const (
	Crit   Level = "CRIT"
	Error  Level = "ERROR"
	Warn   Level = "WARN"
	Notice Level = "notice"
	Info   Level = "info"
	Debug  Level = "debug"
)

// Parse maps any spelling ("WARN", "warn", "warning", "info") to a Level;
// unknown words are Info.
func Parse(s string) Level {
	switch strings.ToLower(s) {
	case "crit", "critical":
		return Crit
	case "error", "err":
		return Error
	case "warn", "warning":
		return Warn
	case "notice":
		return Notice
	case "debug":
		return Debug
	}
	return Info
}

// Severity is the level's syslog severity (RFC 5424 numbers).
func (l Level) Severity() int {
	switch l {
	case Crit:
		return 2
	case Error:
		return 3
	case Warn:
		return 4
	case Notice:
		return 5
	case Debug:
		return 7
	}
	return 6
}
