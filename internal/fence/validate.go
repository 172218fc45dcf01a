package fence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

// maxConfigFile bounds how much of a stonith CONFIGFILE is read.
const maxConfigFile = 64 * 1024

// Validate checks dev against what its plugin or agent says it takes, as
// `heartbeatd check` reports it (findings in file at dev's line): the
// plugin or agent is installed; a stonith_host line or CONFIGFILE gives at
// least as many parameters as `stonith -t TYPE -n` names (fewer, and
// Heartbeat refuses to start); a fence_agent line uses only parameters the
// agent's metadata lists and every one it requires. A probe that fails or
// times out is a warning: it says nothing about the configuration. Findings
// name parameters, never their values.
func (r *Runner) Validate(ctx context.Context, file string, dev config.FenceDevice) diag.List {
	var l diag.List
	params, res := r.Params(ctx, dev.Kind, dev.Type)
	switch res.Outcome {
	case OK:
	case NotInstalled:
		l.Errorf(file, dev.Line, "%s: %v", dev.Directive, res.Err)
		return l
	default:
		l.Warnf(file, dev.Line, "%s: could not ask %s for its parameters: %s", dev.Directive, dev.Type, res)
		return l
	}
	switch dev.Kind {
	case config.FenceStonithParams:
		l = append(l, positional(file, dev, params, dev.Params, "the line")...)
	case config.FenceStonithFile:
		l = append(l, r.validateFile(file, dev, params)...)
	case config.FenceAgent:
		meta, _ := r.Metadata(ctx, dev.Type) // cached by Params
		if meta != nil {
			l = append(l, agentArgs(file, dev, meta)...)
		}
	}
	return l
}

// positional checks a -p style string against the plugin's names, as
// cluster-glue's stonith1_compat_string_to_NVpair reads it: one blank-
// separated value per name, in order, the last name taking the rest.
func positional(file string, dev config.FenceDevice, params []Param, values, where string) diag.List {
	var l diag.List
	n, got := len(params), len(strings.Fields(values))
	names := make([]string, n)
	for i, p := range params {
		names[i] = p.Name
	}
	switch {
	case n == 0 && got > 0:
		l.Warnf(file, dev.Line, "%s: plugin %s takes no parameters; the %d values of %s are ignored", dev.Directive, dev.Type, got, where)
	case got < n:
		l.Errorf(file, dev.Line, "%s: plugin %s takes %d parameters, in this order: %s; %s gives %d (Heartbeat refuses to start with it)",
			dev.Directive, dev.Type, n, strings.Join(names, " "), where, got)
	case got > n && n > 1:
		l.Warnf(file, dev.Line, "%s: plugin %s takes %d parameters (%s) and %s gives %d: the last one, %s, gets the rest",
			dev.Directive, dev.Type, n, strings.Join(names, " "), where, got, names[n-1])
	}
	return l
}

// validateFile checks a stonith CONFIGFILE: readable, not readable by
// everyone, and its parameter line (the first not starting with '#', as
// cluster-glue's stonith_set_config_file reads it) complete.
func (r *Runner) validateFile(file string, dev config.FenceDevice, params []Param) diag.List {
	var l diag.List
	path := dev.File
	if !filepath.IsAbs(path) {
		l.Warnf(file, dev.Line, "stonith: CONFIGFILE %s is not an absolute path; it is looked up from /", shownFile(path))
		path = filepath.Join("/", path)
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s %s: %w", pe.Op, shownFile(pe.Path), pe.Err)
		}
		l.Errorf(file, dev.Line, "stonith: cannot read CONFIGFILE: %v (Heartbeat refuses to start with it)", err)
		return l
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if !fi.Mode().IsRegular() {
			l.Errorf(file, dev.Line, "stonith: CONFIGFILE %s is not a regular file", path)
			return l
		}
		if fi.Mode().Perm()&0o004 != 0 {
			l.Warnf(file, dev.Line, "stonith: CONFIGFILE %s is readable by every user and usually holds the device's password (chmod 600)", path)
		}
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxConfigFile))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		return append(l, positional(file, dev, params, line, fmt.Sprintf("the first line of %s", path))...)
	}
	l.Errorf(file, dev.Line, "stonith: CONFIGFILE %s has no parameter line (every line is empty or a # comment)", path)
	return l
}

// agentArgs checks a fence_agent line's keys against the metadata.
func agentArgs(file string, dev config.FenceDevice, meta *Metadata) diag.List {
	var l diag.List
	given := map[string]bool{}
	for _, a := range dev.Args {
		key := normKey(a.Key)
		given[key] = true
		p, ok := meta.Param(key)
		switch {
		case !ok:
			l.Errorf(file, dev.Line, "fence_agent: %s has no parameter %s (`%s -o metadata` lists them); the agent would ignore it",
				dev.Type, a.Key, dev.Type)
		case p.Deprecated:
			if now := successor(meta, key); now != "" {
				l.Warnf(file, dev.Line, "fence_agent: %s parameter %s is deprecated; write %s", dev.Type, a.Key, now)
			}
		}
	}
	host := meta.HostParam(dev)
	for _, p := range meta.Params {
		if !p.Required || p.Name == "action" || p.Deprecated && successor(meta, p.Name) != "" {
			continue
		}
		if given[p.Name] || p.Obsoletes != "" && given[p.Obsoletes] {
			continue
		}
		if host != "" && (p.Name == host || p.Obsoletes == host) {
			continue // heartbeatd fills it with the node to fence
		}
		also := ""
		if p.Obsoletes != "" {
			also = " (or " + p.Obsoletes + ")"
		}
		l.Errorf(file, dev.Line, "fence_agent: %s needs parameter %s%s", dev.Type, p.Name, also)
	}
	return l
}

// successor is the parameter that obsoletes name, or "".
func successor(meta *Metadata, name string) string {
	for _, p := range meta.Params {
		if p.Obsoletes == name {
			return p.Name
		}
	}
	return ""
}
