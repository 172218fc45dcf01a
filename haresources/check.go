package haresources

import (
	"fmt"
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
