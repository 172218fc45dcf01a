package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

// Bundle is the whole validated configuration of one node.
type Bundle struct {
	Local       string
	Config      *config.Config
	Keys        *config.Authkeys
	Resources   *haresources.File
	ResourceDir string
}

// loadBundle reads and cross-checks the three files as node local would.
// Missing scripts are warnings: a script may be installed on this node later,
// and the daemon checks again before it runs one.
func loadBundle(confdir, local string) (*Bundle, diag.List) {
	var all diag.List
	b := &Bundle{Local: local, ResourceDir: filepath.Join(confdir, "resource.d")}
	var l diag.List
	b.Config, l = config.Load(confdir, local)
	all = append(all, l...)
	b.Keys, l = config.LoadAuthkeys(filepath.Join(confdir, "authkeys"))
	all = append(all, l...)
	b.Resources, l = haresources.Load(filepath.Join(confdir, "haresources"))
	all = append(all, l...)
	if b.Config != nil && b.Resources != nil {
		all = append(all, haresources.CheckNodes(b.Resources, b.Config.Nodes)...)
		if len(b.Config.Nodes) > 2 && len(b.Resources.Groups) > 0 {
			all.Warnf(b.Config.File, 0, "haresources mode manages resources between two nodes; %d nodes are listed (consider the Pacemaker export)", len(b.Config.Nodes))
		}
	}
	if b.Resources != nil {
		r := haresources.Resolver{Dirs: []string{b.ResourceDir, "/etc/init.d"}}
		all = append(all, haresources.CheckScripts(b.Resources, r, diag.Warning)...)
	}
	return b, all
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
	_, findings := loadBundle(confdir, local)
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
