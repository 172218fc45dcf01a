package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
	"heartbeatd/internal/reload"
)

// checkConfig reads confdir with the daemon's own reader (reload.Read) as
// node local would, then adds what only check says. Missing scripts are
// warnings: a script may be installed on this node later, and the executor
// resolves it again, with the same resolver over the same directories,
// before it runs one.
func checkConfig(confdir, local string) diag.List {
	set, all := reload.Read(confdir, local)
	if set.Cfg != nil && set.Hares != nil && len(set.Cfg.Nodes) > 2 && len(set.Hares.Groups) > 0 {
		all.Warnf(set.Cfg.File, 0, "haresources mode manages resources between two nodes; %d nodes are listed (consider the Pacemaker export)", len(set.Cfg.Nodes))
	}
	if set.Hares != nil {
		r := haresources.Resolver{Dirs: haresources.ScriptDirs(confdir)}
		all = append(all, haresources.CheckScripts(set.Hares, r, diag.Warning)...)
	}
	return all
}

func checkMain(args []string) int {
	fs := flag.NewFlagSet("heartbeatd check", flag.ContinueOnError)
	confdir := fs.String("confdir", "/etc/ha.d", "configuration directory")
	node := fs.String("node", "", "check the files as this node would (default: nodeinfo, else uname -n)")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return check(os.Stdout, *confdir, *node, *asJSON)
}

func check(w io.Writer, confdir, node string, asJSON bool) int {
	local := node
	if local == "" {
		var err error
		if local, err = config.LocalNodeName(confdir); err != nil {
			fmt.Fprintf(w, "%s: error: cannot determine the local node name: %v\n", confdir, err)
			return 1
		}
	}
	findings := checkConfig(confdir, local)
	if asJSON {
		out := struct {
			Node     string         `json:"node"`
			OK       bool           `json:"ok"`
			Findings []diag.Finding `json:"findings"`
		}{local, !findings.HasErrors(), findings}
		if out.Findings == nil {
			out.Findings = []diag.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		for _, f := range findings {
			fmt.Fprintln(w, f.String())
		}
		if !findings.HasErrors() {
			fmt.Fprintf(w, "%s: configuration OK for node %s\n", confdir, local)
		}
	}
	if findings.HasErrors() {
		return 1
	}
	return 0
}
