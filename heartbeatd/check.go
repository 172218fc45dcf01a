package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
	"heartbeatd/internal/fence"
	"heartbeatd/internal/reload"
)

// fenceProbeTimeout bounds each program check runs to validate a fence
// device (`stonith -t TYPE -n`, an agent's metadata): a plugin that hangs
// makes check slow, never stuck.
const fenceProbeTimeout = 10 * time.Second

// fenceRunner runs check's probes: one Runner, so that an agent's metadata
// is read once however many lines use the agent.
var fenceRunner = &fence.Runner{Timeout: fenceProbeTimeout, KillGrace: time.Second}

// checkConfig reads confdir with the daemon's own reader (reload.Read) as
// node local would, then adds what only check says. Missing scripts are
// warnings: a script may be installed on this node later, and the executor
// resolves it again, with the same resolver over the same directories,
// before it runs one. inert counts the lines whose directive is accepted
// but not acted on (config.NotActedOn), which the verdict line mentions.
func checkConfig(confdir, local string) (all diag.List, inert int) {
	set, all := reload.Read(confdir, local)
	if set.Cfg != nil && set.Hares != nil && len(set.Cfg.Nodes) > 2 && len(set.Hares.Groups) > 0 {
		all.Warnf(set.Cfg.File, 0, "haresources mode manages resources between two nodes; %d nodes are listed (consider the Pacemaker export)", len(set.Cfg.Nodes))
	}
	if set.Hares != nil {
		r := haresources.Resolver{Dirs: haresources.ScriptDirs(confdir)}
		all = append(all, haresources.CheckScripts(set.Hares, r, diag.Warning)...)
	}
	if set.Cfg != nil {
		all = append(all, checkFencing(set.Cfg, set.Hares, local)...)
		all = append(all, set.Cfg.CheckIpfail()...)
		na := set.Cfg.NotActedOn()
		all, inert = append(all, na...), len(na)
	}
	return all, inert
}

// checkFencing validates the fence devices this node would use against
// their plugins and agents (the other node's lines are its own check's
// business: its plugins may be installed there only), and warns when DRBD
// disks are left without any protection.
func checkFencing(cfg *config.Config, hares *haresources.File, local string) diag.List {
	var l diag.List
	devices := cfg.FenceDevicesFor(local)
	for _, d := range devices {
		l = append(l, fenceRunner.Validate(context.Background(), cfg.File, d)...)
	}
	dopd, dopdFindings := dopdConfigured(cfg)
	l = append(l, dopdFindings...)
	if hares == nil || len(devices) > 0 || dopd {
		return l
	}
	var drbd []string
	var first haresources.Group
	for _, g := range hares.Groups {
		for _, r := range g.Resources {
			if r.Script == "drbddisk" {
				if drbd == nil {
					first = g
				}
				drbd = append(drbd, r.String())
			}
		}
	}
	if drbd != nil {
		l.Warnf(first.File, first.Line, "shared disks are not protected: %s but no fence device (stonith, stonith_host or fence_agent) "+
			"is configured for node %s and dopd is not configured (respawn hacluster /usr/lib/heartbeat/dopd with apiauth dopd gid=haclient uid=hacluster); "+
			"after a split both nodes may become DRBD primary", drbdDisks(drbd), local)
	}
	return l
}

// drbdDisks names the drbddisk resources for the warning.
func drbdDisks(rs []string) string {
	if len(rs) == 1 {
		return rs[0] + " is a DRBD disk"
	}
	return strings.Join(rs, ", ") + " are DRBD disks"
}

// dopdConfigured reports whether ha.cf sets up dopd the way Heartbeat
// needs it: a respawn line running dopd, and an apiauth dopd line so that
// dopd may connect. A respawn line without apiauth draws a warning.
func dopdConfigured(cfg *config.Config) (bool, diag.List) {
	var l diag.List
	respawn := 0
	for _, r := range cfg.Respawn {
		if len(r.Command) > 0 && filepath.Base(r.Command[0]) == "dopd" {
			respawn = r.Line
		}
	}
	if respawn == 0 {
		return false, l
	}
	for _, a := range cfg.APIAuth {
		if a.Client == "dopd" {
			return true, l
		}
	}
	l.Warnf(cfg.File, respawn, "dopd is respawned but there is no 'apiauth dopd' line, so Heartbeat's dopd could not connect; add apiauth dopd gid=haclient uid=hacluster")
	return false, l
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
	findings, inert := checkConfig(confdir, local)
	if asJSON {
		out := struct {
			Node       string         `json:"node"`
			OK         bool           `json:"ok"`
			NotActedOn int            `json:"not_acted_on"`
			Findings   []diag.Finding `json:"findings"`
		}{local, !findings.HasErrors(), inert, findings}
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
		switch {
		case findings.HasErrors():
		case inert > 0:
			// Never a plain "OK" while the daemon ignores lines the admin
			// may rely on.
			fmt.Fprintf(w, "%s: configuration OK for node %s, but %d line(s) are accepted and not acted on by this version (see the warnings above)\n",
				confdir, local, inert)
		default:
			fmt.Fprintf(w, "%s: configuration OK for node %s\n", confdir, local)
		}
	}
	if findings.HasErrors() {
		return 1
	}
	return 0
}
