package haresources

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"heartbeatd/internal/diag"
)

// CheckNodes reports every group whose home node is not one of the ha.cf
// nodes (compared ignoring ASCII case, like Heartbeat). Heartbeat itself only
// says "Bad nodename in …"; we name the node and list the configured ones,
// because the usual cause is a host name that differs from `uname -n`.
func CheckNodes(f *File, nodes []string) diag.List {
	var l diag.List
	if f == nil {
		return l
	}
	known := map[string]bool{}
	for _, n := range nodes {
		known[lowerASCII(n)] = true
	}
	list := "none"
	if len(nodes) > 0 {
		list = strings.Join(nodes, ", ")
	}
	for _, g := range f.Groups {
		if !known[g.Node] {
			l.Errorf(g.File, g.Line, "node %s of group %s is not a node in ha.cf (configured nodes: %s)",
				quoteShort(g.Node), quoteShort(g.Key), list)
		}
	}
	return l
}

// DefaultDirs are where Heartbeat looks for resource scripts, in order.
var DefaultDirs = []string{"/etc/ha.d/resource.d", "/etc/init.d"}

// Resolver finds resource scripts. The zero value searches DefaultDirs.
type Resolver struct {
	Dirs []string
}

func (r Resolver) dirs() []string {
	if len(r.Dirs) == 0 {
		return DefaultDirs
	}
	return r.Dirs
}

// ScriptNotFoundError says a script was not found and why each candidate
// was refused.
type ScriptNotFoundError struct {
	Script string
	// Tried holds one "path: reason" per directory searched.
	Tried []string
}

// Error reads like Heartbeat's "Cannot locate resource script <s>", plus
// where we looked, which Heartbeat does not say.
func (e *ScriptNotFoundError) Error() string {
	return fmt.Sprintf("cannot locate resource script %s (%s)", e.Script, strings.Join(e.Tried, "; "))
}

// Path returns the first <dir>/<script> that is a regular executable file
// (symbolic links followed, as Heartbeat's `[ -f … -a -x … ]` does). A name
// that could leave the directory is refused before touching the disk.
func (r Resolver) Path(script string) (string, error) {
	if err := checkScriptName(script); err != nil {
		return "", fmt.Errorf("resource script: %w", err)
	}
	if _, bad := controlByte(script); bad {
		return "", fmt.Errorf("resource script %s: contains a control character", quoteShort(script))
	}
	e := &ScriptNotFoundError{Script: script}
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
		case st.Mode().Perm()&0o111 == 0:
			e.Tried = append(e.Tried, p+": is not executable")
		default:
			return p, nil
		}
	}
	return "", e
}

// CheckScripts reports, for each group, every script r cannot locate, at
// the group's file:line with severity sev. A missing script is an error at
// takeover time but may be installed later, so the caller decides: a warning
// for `heartbeatd check` on a machine being prepared, an error before
// starting the daemon.
func CheckScripts(f *File, r Resolver, sev diag.Severity) diag.List {
	var l diag.List
	if f == nil {
		return l
	}
	for _, g := range f.Groups {
		seen := map[string]bool{}
		for _, res := range g.Resources {
			if seen[res.Script] {
				continue
			}
			seen[res.Script] = true
			if _, err := r.Path(res.Script); err != nil {
				l = append(l, diag.Finding{File: g.File, Line: g.Line, Severity: sev,
					Message: fmt.Sprintf("resource %s: %v", quoteShort(res.Raw), err)})
			}
		}
	}
	return l
}
