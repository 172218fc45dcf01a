package pacemaker

import (
	"fmt"
	"slices"
	"strings"

	"heartbeatd/internal/config"
)

// stonithNames are the configuration names of cluster-glue's STONITH
// plugins, in the order `stonith -t TYPE -n` prints them (cluster-glue
// 1.0.12, Debian 12). Heartbeat passes stonith_host's positional
// parameters to the plugin by pairing them with these names in order, the
// last name taking the rest of the line (stonith1_compat_string_to_NVpair;
// `stonith -t null -p "a b" -l` lists both a and b). Pacemaker's fencer
// runs the same plugins (stonith:TYPE) but with named parameters, so the
// export needs the names.
var stonithNames = map[string][]string{
	"apcmaster":              {"ipaddr", "login", "password"},
	"apcmastersnmp":          {"ipaddr", "port", "community"},
	"apcsmart":               {"ttydev", "hostlist"},
	"baytech":                {"ipaddr", "login", "password"},
	"bladehpi":               {"entity_root"},
	"cyclades":               {"ipaddr", "login", "serialport"},
	"drac3":                  {"host", "login", "password"},
	"external/drac5":         {"hostname", "ipaddr", "userid"},
	"external/dracmc-telnet": {"nodename", "cyclades_ip", "cyclades_port", "servername", "username", "password"},
	"external/hetzner":       {"hostname", "remote_ip"},
	"external/hmchttp":       {"hostlist", "hmc_ipaddr", "user", "password"},
	"external/ibmrsa":        {"hostname", "ipaddr", "userid", "passwd", "type"},
	"external/ibmrsa-telnet": {"nodename", "ip_address", "username", "password"},
	"external/ipmi":          {"hostname", "ipaddr", "userid", "passwd", "interface"},
	"external/ippower9258":   {"deviceip", "username", "password", "hostlist"},
	"external/kdumpcheck":    {"hostlist", "identity_file"},
	"external/libvirt":       {"hostlist", "hypervisor_uri", "reboot_method"},
	"external/nut":           {"hostname", "ups", "username", "password", "poweron", "poweroff", "reset", "statusvar", "upscmd", "upsc"},
	"external/rackpdu":       {"hostlist", "pduip", "community"},
	"external/riloe":         {"hostlist", "ilo_hostname", "ilo_user", "ilo_password", "ilo_can_reset", "ilo_protocol", "ilo_powerdown_method", "ilo_proxyhost", "ilo_proxyport"},
	"external/ssh":           {"hostlist"},
	"external/vcenter":       {"VI_SERVER", "VI_PORTNUMBER", "VI_PROTOCOL", "VI_SERVICEPATH", "VI_CREDSTORE", "HOSTLIST", "RESETPOWERON"},
	"external/vmware":        {"device_host"},
	"external/xen0":          {"hostlist", "dom0"},
	"external/xen0-ha":       {"hostlist", "dom0_cluster_ip", "timeout"},
	"ibmhmc":                 {"ipaddr"},
	"ipmilan":                {"hostname", "ipaddr", "port", "auth", "priv", "login", "password", "reset_method"},
	"meatware":               {"hostlist"},
	"null":                   {"hostlist"},
	"nw_rpc100s":             {"ttydev", "hostlist"},
	"rcd_serial":             {"hostlist", "ttydev", "dtr_rts", "msduration"},
	"rps10":                  {"serial_to_targets"},
	"ssh":                    {"hostlist"},
	"suicide":                {},
	"wti_mpc":                {"ipaddr", "port", "community", "mib-version"},
	"wti_nps":                {"ipaddr", "password"},
}

// priorityFencingDelay is given when fencing is configured: in a two-node
// cluster a cut link makes both nodes fence each other at once (FIELD-NOTES
// row 7, seed 001). With every resource at priority 1, fencing the node
// that runs more of them is delayed this long, so that node shoots first
// and survives (heartbeatd's fence_policy holder, fence_delay 15 s).
const priorityFencingDelay = "15s"

// device is one fencing line as mapped.
type device struct {
	p    *Primitive
	host string // lower-cased node, or "*"
	line int
	// heartbeat: a stonith or stonith_host line, of which Heartbeat uses
	// only the last one that applies to a node.
	heartbeat bool
}

// stonith maps stonith_host, stonith and fence_agent lines, in file order.
func (b *builder) stonith() {
	cfg := b.in.Cfg
	var devs []device
	for _, d := range cfg.Directives {
		if len(d.Args) < 2 {
			continue // the loader has reported it
		}
		switch d.Name {
		case "stonith_host":
			host, typ := d.Args[0], d.Args[1]
			devs = append(devs, device{b.legacyDevice(d, host, typ, d.Args[2:], "stonith_host"), strings.ToLower(host), d.Line, true})
		case "stonith":
			devs = append(devs, device{b.stonithFile(d), "*", d.Line, true})
		case "fence_agent":
			if p := b.fenceAgent(d); p != nil {
				devs = append(devs, device{p, strings.ToLower(d.Args[0]), d.Line, false})
			}
		}
	}
	for i, dv := range devs {
		users := b.deviceUsers(dv, devs[i+1:])
		if len(users) == 0 {
			b.warnf(cfg.File, dv.line, "fencing device %s is used by no node (its host is not a node, or later stonith/stonith_host lines replace it for every node, as Heartbeat keeps only the last one per node); it is left out", dv.p.Type)
			continue
		}
		b.placeDevice(dv.p, users)
		b.c.Stonith = append(b.c.Stonith, dv.p)
	}
}

// deviceUsers lists the nodes that may use dv: its host (or all), minus,
// for a Heartbeat line, the nodes a later Heartbeat line applies to.
func (b *builder) deviceUsers(dv device, later []device) []string {
	var users []string
	for _, n := range b.c.Nodes {
		if dv.host != "*" && dv.host != n {
			continue
		}
		replaced := false
		for _, l := range later {
			if dv.heartbeat && l.heartbeat && (l.host == "*" || l.host == n) {
				replaced = true
			}
		}
		if !replaced {
			users = append(users, n)
		}
	}
	return users
}

// stonithFile maps `stonith TYPE CONFIGFILE`: the parameters are on the
// file's first line that does not start with '#', as for -p.
func (b *builder) stonithFile(d config.Directive) *Primitive {
	typ, file := d.Args[0], d.Args[1]
	text, ok := b.in.StonithFiles[file]
	if !ok {
		p := b.legacyDevice(d, "*", typ, nil, "stonith")
		p.Notes = append(p.Notes, b.warnf(b.in.Cfg.File, d.Line, "stonith %s %s: the file could not be read; add its parameters to %s by hand (names: stonith -t %s -n)", typ, file, p.ID, typ))
		return p
	}
	vals := []string{}
	for _, ln := range strings.Split(text, "\n") {
		if t := strings.TrimSpace(ln); t != "" && !strings.HasPrefix(t, "#") {
			vals = strings.Fields(t)
			break
		}
	}
	return b.legacyDevice(d, "*", typ, vals, "stonith")
}

// legacyDevice maps one cluster-glue device; vals are the positional
// parameters.
func (b *builder) legacyDevice(d config.Directive, host, typ string, vals []string, what string) *Primitive {
	file := b.in.Cfg.File
	p := &Primitive{ID: b.ids.take("st_" + hostSlug(host) + "_" + slug(typ)), Class: "stonith", Type: typ}
	p.Ops = []Op{{Name: "monitor", Interval: "3600s"}}
	p.Notes = append(p.Notes, fmt.Sprintf("%s:%d: %s %s %s", file, d.Line, what, host, typ))
	names, known := stonithNames[typ]
	switch {
	case !known && len(vals) > 0:
		p.Notes = append(p.Notes, b.warnf(file, d.Line, "%s: plugin %s is not one this export knows; name its %d parameters by hand (stonith -t %s -n lists the names in order)", what, typ, len(vals), typ))
	case known:
		// vals is nil only when the parameters could not be read, which
		// the caller reports.
		if vals != nil && len(vals) < len(names) {
			p.Notes = append(p.Notes, b.warnf(file, d.Line, "%s: plugin %s takes %d parameters (%s), %d given: Heartbeat would refuse this device too", what, typ, len(names), strings.Join(names, " "), len(vals)))
		}
		for i := 0; i < len(names) && i < len(vals); i++ {
			v := vals[i]
			if i == len(names)-1 {
				v = strings.Join(vals[i:], " ")
			}
			p.Params = append(p.Params, NV{Name: names[i], Value: v})
		}
	}
	return p
}

// fenceAgent maps `fence_agent HOST|* AGENT key=value...`, a heartbeatd
// extension for fence-agents devices (fence_ipmilan, fence_virsh, ...),
// whose parameters are already named. AGENT may be written without its
// fence_ prefix. action is Pacemaker's to choose, as it is heartbeatd's.
func (b *builder) fenceAgent(d config.Directive) *Primitive {
	file := b.in.Cfg.File
	host, agent := d.Args[0], d.Args[1]
	if !strings.HasPrefix(agent, "fence_") {
		agent = "fence_" + agent
	}
	p := &Primitive{ID: b.ids.take("st_" + hostSlug(host) + "_" + slug(agent)), Class: "stonith", Type: agent}
	p.Ops = []Op{{Name: "monitor", Interval: "3600s"}}
	p.Notes = append(p.Notes, fmt.Sprintf("%s:%d: fence_agent %s %s", file, d.Line, host, d.Args[1]))
	for _, kv := range d.Args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			b.errorf(file, d.Line, "fence_agent: parameter %q: want key=value", kv)
			return nil
		}
		if k == "action" {
			continue
		}
		p.Params = append(p.Params, NV{Name: k, Value: v})
	}
	return p
}

// placeDevice keeps a device off the nodes that may not use it (Pacemaker's
// fencer uses a device only where it may run) and, when only some nodes
// may use it, tells Pacemaker whom it fences: the others, as a node never
// fences itself. Without pcmk_host_list the fencer would ask the device,
// and a single-host device such as IPMI answers for any name.
func (b *builder) placeDevice(p *Primitive, users []string) {
	var others []string
	for _, n := range b.c.Nodes {
		if !slices.Contains(users, n) {
			others = append(others, n)
			b.c.Locations = append(b.c.Locations, Location{ID: b.ids.take("loc_" + p.ID + "_" + n), Rsc: p.ID, Node: n, Score: "-INFINITY"})
		}
	}
	if len(others) == 0 {
		return
	}
	for _, nv := range p.Params {
		if nv.Name == "pcmk_host_list" || nv.Name == "pcmk_host_map" {
			return
		}
	}
	p.Params = append(p.Params, NV{Name: "pcmk_host_list", Value: strings.Join(others, " "),
		Why: "usable only by " + strings.Join(users, " ") + ", so it fences the other node"})
}

func hostSlug(host string) string {
	if host == "*" {
		return "any"
	}
	return slug(strings.ToLower(host))
}
