package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"

	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
	"heartbeatd/internal/export/pacemaker"
	"heartbeatd/internal/reload"
)

const exportUsage = `usage:
  heartbeatd export pacemaker [--confdir DIR] [--format cib|crm] [--node NAME]
      ha.cf and haresources as a Pacemaker 2.1 CIB (XML) or crm shell commands
  heartbeatd export corosync [--confdir DIR] [--node NAME] [--cluster-name NAME]
      ha.cf's nodes and media as a corosync.conf (Corosync 3, knet)
`

// exportMain is `heartbeatd export pacemaker|corosync`: the configuration
// read by the daemon's own reader, written for Pacemaker and Corosync.
// Output goes to stdout, findings (FILE:LINE: warning|error: ...) to
// stderr; any error finding means no output and exit status 1.
func exportMain(args []string) int {
	return runExport(os.Stdout, os.Stderr, args)
}

func runExport(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, exportUsage)
		return 2
	}
	switch args[0] {
	case "pacemaker":
		return exportPacemaker(stdout, stderr, args[1:])
	case "corosync":
		return exportCorosync(stdout, stderr, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(stdout, exportUsage)
		return 0
	}
	fmt.Fprintf(stderr, "heartbeatd export: unknown target %q\n%s", args[0], exportUsage)
	return 2
}

func exportPacemaker(stdout, stderr io.Writer, args []string) int {
	fs := flag.NewFlagSet("heartbeatd export pacemaker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	confdir := fs.String("confdir", "/etc/ha.d", "configuration directory")
	format := fs.String("format", "cib", "cib (XML for cibadmin/crm_verify) or crm (crm shell commands)")
	node := fs.String("node", "", "read the files as this node would (default: nodeinfo, else uname -n, else the first node of ha.cf)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	if *format != "cib" && *format != "crm" {
		fmt.Fprintf(stderr, "heartbeatd export pacemaker: --format %q: want cib or crm\n", *format)
		return 2
	}
	ld, ok := loadForExport(stderr, *confdir, *node)
	if !ok {
		return 1
	}
	c, findings := pacemaker.Build(pacemaker.Input{Cfg: ld.set.Cfg, Hares: ld.set.Hares, StonithFiles: readStonithFiles(ld.set.Cfg)})
	if report(stderr, findings) {
		return 1
	}
	var err error
	if *format == "crm" {
		err = c.WriteCRM(stdout)
	} else {
		err = c.WriteCIB(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "heartbeatd export pacemaker: %v\n", err)
		return 1
	}
	return 0
}

func exportCorosync(stdout, stderr io.Writer, args []string) int {
	fs := flag.NewFlagSet("heartbeatd export corosync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	confdir := fs.String("confdir", "/etc/ha.d", "configuration directory")
	node := fs.String("node", "", "the node this export is for (default: nodeinfo, else uname -n, else the first node of ha.cf)")
	name := fs.String("cluster-name", "hacluster", "totem cluster_name")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	ld, ok := loadForExport(stderr, *confdir, *node)
	if !ok {
		return 1
	}
	in := pacemaker.CorosyncInput{Cfg: ld.set.Cfg, Local: ld.local, ClusterName: *name}
	if ld.onThisMachine {
		in.LocalAddrs = interfaceAddrs(ld.set.Cfg)
	}
	out, findings := pacemaker.Corosync(in)
	if report(stderr, findings) {
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "heartbeatd export corosync: %v\n", err)
		return 1
	}
	return 0
}

// loaded is a configuration read for export.
type loaded struct {
	set   *reload.Set
	local string
	// onThisMachine: local is this machine's own node name, so its
	// interfaces tell the node's addresses.
	onThisMachine bool
}

// loadForExport reads confdir with reload.Read, the daemon's reader. The
// export may run on a machine outside the cluster: when no --node is given
// and this machine is not a node of ha.cf, the files are read as its first
// node. authkeys is not needed (corosync has its own key), so findings
// about it are dropped.
func loadForExport(stderr io.Writer, confdir, node string) (loaded, bool) {
	self, selfErr := config.LocalNodeName(confdir)
	local := node
	if local == "" {
		if selfErr != nil {
			fmt.Fprintf(stderr, "%s: error: cannot determine the local node name (give --node): %v\n", confdir, selfErr)
			return loaded{}, false
		}
		local = self
	}
	set, l := reload.Read(confdir, local)
	if node == "" && set.Cfg != nil && len(set.Cfg.Nodes) > 0 && !slices.Contains(set.Cfg.Nodes, local) {
		fmt.Fprintf(stderr, "%s: note: this machine (%s) is not a node of ha.cf; reading the files as %s (use --node to choose)\n", confdir, local, set.Cfg.Nodes[0])
		local = set.Cfg.Nodes[0]
		set, l = reload.Read(confdir, local)
	}
	var kept diag.List
	for _, f := range l {
		if f.File != set.AuthFile {
			kept = append(kept, f)
		}
	}
	if report(stderr, kept) || set.Cfg == nil || set.Hares == nil {
		return loaded{}, false
	}
	return loaded{set: set, local: local, onThisMachine: selfErr == nil && self == local}, true
}

// report prints findings and says whether any is an error.
func report(stderr io.Writer, l diag.List) bool {
	for _, f := range l {
		fmt.Fprintln(stderr, f.String())
	}
	return l.HasErrors()
}

// readStonithFiles reads the files of ha.cf's `stonith TYPE FILE` lines;
// one that cannot be read is left out, and Build says so.
func readStonithFiles(cfg *config.Config) map[string]string {
	out := map[string]string{}
	for _, d := range cfg.Stonith {
		if data, err := os.ReadFile(d.Args[1]); err == nil {
			out[d.Args[1]] = string(data)
		}
	}
	return out
}

// interfaceAddrs lists the IPv4 addresses of the interfaces ha.cf's media
// use, in the kernel's order (the primary address first).
func interfaceAddrs(cfg *config.Config) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, m := range cfg.Media {
		if m.Interface == "" || out[m.Interface] != nil {
			continue
		}
		ifi, err := net.InterfaceByName(m.Interface)
		if err != nil {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
					out[m.Interface] = append(out[m.Interface], ip.Unmap())
				}
			}
		}
	}
	return out
}
