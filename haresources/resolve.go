package haresources

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// InitDir is Heartbeat's INITDIR, searched after the resource directory.
const InitDir = "/etc/init.d"

// ScriptDirs are the directories searched for resource scripts, in order,
// when the configuration lives in confdir: $HA_RESOURCEDIR (confdir's
// resource.d), then INITDIR. The daemon's executor and `heartbeatd check`
// both take their directories from here.
func ScriptDirs(confdir string) []string {
	return []string{filepath.Join(confdir, "resource.d"), InitDir}
}

// DefaultDirs are where Heartbeat looks for resource scripts, in order.
var DefaultDirs = ScriptDirs("/etc/ha.d")

// Resolver finds resource scripts. It is the one place that decides which
// file runs for a resource and why a candidate is refused: the executor
// (internal/script) resolves through it just before running a script, and
// `heartbeatd check` reports its verdicts. The zero value searches
// DefaultDirs.
type Resolver struct {
	Dirs []string
}

func (r Resolver) dirs() []string {
	if len(r.Dirs) == 0 {
		return DefaultDirs
	}
	return r.Dirs
}

// ScriptError says why a resource script cannot be used: either its name
// was refused before anything was looked up (BadName), or no directory
// holds a usable file (Tried says why each candidate was refused).
type ScriptError struct {
	Script string
	// BadName is why the name itself was refused; nil if it was looked up.
	BadName error
	// Tried holds one "path: reason" per directory searched.
	Tried []string
}

// Error reads like Heartbeat's "Cannot locate resource script <s>", plus
// where we looked, which Heartbeat does not say.
func (e *ScriptError) Error() string {
	if e.BadName != nil {
		return "cannot locate resource script: " + e.BadName.Error()
	}
	return fmt.Sprintf("cannot locate resource script %s (%s)", e.Script, strings.Join(e.Tried, "; "))
}

// Path returns the first <dir>/<script> that is a regular file (symbolic
// links followed) that we may execute, as Heartbeat's `[ -f … -a -x … ]`
// decides. A name that could leave the directories is refused before
// touching the disk. Every failure is a *ScriptError.
func (r Resolver) Path(script string) (string, error) {
	e := &ScriptError{Script: script}
	if err := checkScriptName(script); err != nil {
		e.BadName = err
		return "", e
	}
	if _, bad := controlByte(script); bad {
		e.BadName = fmt.Errorf("script name %s contains a control character", quoteShort(script))
		return "", e
	}
	for _, d := range r.dirs() {
		p := filepath.Join(d, script)
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			e.Tried = append(e.Tried, p+": does not exist")
		case err != nil:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is already in front
			}
			e.Tried = append(e.Tried, fmt.Sprintf("%s: %v", p, err))
		case st.IsDir():
			e.Tried = append(e.Tried, p+": is a directory")
		case !st.Mode().IsRegular():
			e.Tried = append(e.Tried, p+": is not a regular file")
		case unix.Access(p, unix.X_OK) != nil:
			e.Tried = append(e.Tried, p+": is not executable")
		default:
			return p, nil
		}
	}
	return "", e
}
