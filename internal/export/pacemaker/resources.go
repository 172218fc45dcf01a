package pacemaker

import (
	"fmt"
	"net/netip"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent/filesystem"
	"heartbeatd/internal/agent/iscsi"
	"heartbeatd/internal/agent/scst"
)

// Monitor intervals. Heartbeat v1 never monitors a running resource; under
// Pacemaker a resource nobody monitors is never recovered, so every
// primitive gets one (the intervals are those seed 000 runs with).
const (
	monitorFast = "10s" // addresses, targets, services
	monitorFS   = "20s"
	// DRBD's two roles need different intervals: Pacemaker tells
	// monitors apart by interval.
	monitorPromoted   = "29s"
	monitorUnpromoted = "31s"
)

// resource maps one haresources resource: a primitive for the group, a
// DRBD clone, or neither (with a warning).
func (b *builder) resource(g haresources.Group, r haresources.Resource, grp *Group) (*Primitive, *Clone) {
	where := func(format string, args ...any) string {
		return fmt.Sprintf("resource %s: ", r.Raw) + fmt.Sprintf(format, args...)
	}
	fail := func(err error) (*Primitive, *Clone) {
		b.errorf(g.File, g.Line, "%s", where("%v", err))
		return nil, nil
	}
	switch r.Script {
	case "IPaddr", "IPaddr2":
		p, err := b.ipaddr(r)
		if err != nil {
			return fail(err)
		}
		return p, nil
	case "Filesystem":
		p, err := b.filesystem(g, r)
		if err != nil {
			return fail(err)
		}
		return p, nil
	case "drbddisk":
		if len(r.Args) == 0 {
			b.warnf(g.File, g.Line, "%s", where("drbddisk without a resource name promotes every DRBD resource; Pacemaker needs one ocf:linbit:drbd clone per resource: add them by hand"))
			grp.Notes = append(grp.Notes, "drbddisk (all resources) is not exported: add one ocf:linbit:drbd clone per DRBD resource")
			return nil, nil
		}
		return nil, b.drbd(r.Args[0])
	case "iSCSITarget":
		spec, err := iscsi.ParseTargetArgs(r.Args)
		if err != nil {
			return fail(err)
		}
		return b.iscsiTarget(spec), nil
	case "iSCSILogicalUnit":
		spec, err := iscsi.ParseLUArgs(r.Args)
		if err != nil {
			return fail(err)
		}
		return b.prim("iscsi_lun_"+slug(shortIQN(spec.IQN))+"_"+fmt.Sprint(spec.LUN), "ocf", "heartbeat", "iSCSILogicalUnit",
			[]NV{{Name: "target_iqn", Value: spec.IQN}, {Name: "lun", Value: fmt.Sprint(spec.LUN)}, {Name: "path", Value: spec.Path}}, monitorFast), nil
	case "iscsitarget":
		return b.iscsiService(g, r), nil
	case "SCSTTarget":
		spec, err := scst.ParseTargetArgs(r.Args)
		if err != nil {
			return fail(err)
		}
		return b.scstTarget(spec), nil
	case "SCSTLun":
		spec, err := scst.ParseLunArgs(r.Args)
		if err != nil {
			return fail(err)
		}
		return b.scstLun(g, r, spec), nil
	}
	if w, ok := wrappers[r.Script]; ok {
		return b.wrapper(g, r, w)
	}
	if len(r.Args) > 0 {
		msg := b.warnf(g.File, g.Line, "%s", where("a script with arguments has no Pacemaker equivalent (lsb: scripts take none): write an OCF agent for it, or an init script without arguments; it is left out"))
		grp.Notes = append(grp.Notes, "NOT EXPORTED: "+msg)
		return nil, nil
	}
	p := b.prim("lsb_"+slug(r.Script), "lsb", "", r.Script, nil, monitorFast)
	p.Notes = append(p.Notes, "lsb: runs /etc/init.d/"+r.Script+"; a script that lives only in /etc/ha.d/resource.d must be copied there, and its status must follow the LSB exit codes")
	return p, nil
}

// prim makes a primitive with a monitor and, with stop_failure block, a
// stop that blocks instead of escalating.
func (b *builder) prim(id, class, provider, typ string, params []NV, monitor string) *Primitive {
	p := &Primitive{ID: b.ids.take(id), Class: class, Provider: provider, Type: typ, Params: params}
	if monitor != "" {
		p.Ops = append(p.Ops, Op{Name: "monitor", Interval: monitor})
	}
	b.stopOp(p)
	return p
}

// stopOp adds on-fail=block to the stop of p under stop_failure block: the
// resource stays failed where it is and is not started elsewhere, which is
// what heartbeatd's block policy does. With reboot (the default) Pacemaker
// fences the node whose stop failed, as Heartbeat reboots it, when STONITH
// is enabled; without STONITH it blocks too.
func (b *builder) stopOp(p *Primitive) {
	if b.in.Cfg.StopFailure == "block" {
		p.Ops = append(p.Ops, Op{Name: "stop", Interval: "0s", OnFail: "block"})
	}
}

// ipaddr maps IPaddr/IPaddr2's "ip[/netmask[/interface[/broadcast]]]".
func (b *builder) ipaddr(r haresources.Resource) (*Primitive, error) {
	if len(r.Args) != 1 {
		return nil, fmt.Errorf("%s takes one argument ip[/netmask[/interface[/broadcast]]], got %d", r.Script, len(r.Args))
	}
	ip, bits, iface, bcast, err := parseIPArg(r.Args[0])
	if err != nil {
		return nil, err
	}
	params := []NV{{Name: "ip", Value: ip.String()}}
	if bits >= 0 {
		params = append(params, NV{Name: "cidr_netmask", Value: fmt.Sprint(bits)})
	}
	var notes []string
	if iface != "" {
		base, alias, _ := strings.Cut(iface, ":")
		params = append(params, NV{Name: "nic", Value: base})
		if alias != "" {
			notes = append(notes, fmt.Sprintf("the alias %s:%s is dropped, as IPaddr itself does: the address goes on %s", base, alias, base))
		}
	}
	if bcast.IsValid() {
		params = append(params, NV{Name: "broadcast", Value: bcast.String()})
	}
	p := b.prim("ip_"+ip.String(), "ocf", "heartbeat", "IPaddr2", params, monitorFast)
	p.Notes = notes
	return p, nil
}

// parseIPArg reads the IPaddr argument with haresources' own parser, plus
// the one form the IPaddr wrapper reads differently: a third field that
// starts with a digit is the broadcast address, not an interface.
func parseIPArg(s string) (ip netip.Addr, bits int, iface string, bcast netip.Addr, err error) {
	fields := strings.Split(s, "/")
	if len(fields) == 3 && fields[2] != "" && fields[2][0] >= '0' && fields[2][0] <= '9' {
		spec, err := haresources.ParseIPSpec(fields[0] + "/" + fields[1])
		if err != nil {
			return ip, 0, "", bcast, err
		}
		bc, err := netip.ParseAddr(fields[2])
		if err != nil || !bc.Is4() {
			return ip, 0, "", bcast, fmt.Errorf("third field %q starts with a digit, so it is the broadcast address, but it is not an IPv4 address", fields[2])
		}
		return spec.Addr, spec.Bits, "", bc, nil
	}
	spec, err := haresources.ParseIPSpec(s)
	if err != nil {
		return ip, 0, "", bcast, err
	}
	return spec.Addr, spec.Bits, spec.Iface, spec.Broadcast, nil
}

// filesystem maps "device::mountpoint[::fstype[::options]]" with the
// built-in agent's own parser.
func (b *builder) filesystem(g haresources.Group, r haresources.Resource) (*Primitive, error) {
	spec, err := filesystem.ParseSpec(r.Args)
	if err != nil {
		return nil, err
	}
	dev := spec.Device
	switch spec.Kind {
	case filesystem.ByLabel:
		dev = "-L" + spec.Name // the OCF agent knows -L and -U, not LABEL=
	case filesystem.ByUUID:
		dev = "-U" + spec.Name
	}
	fstype := spec.FSType
	var notes []string
	if fstype == "" {
		fstype = "auto"
		notes = append(notes, b.warnf(g.File, g.Line, "resource %s: no fstype; Pacemaker's Filesystem requires one, so fstype=auto is written (mount probes, as heartbeatd does): better name the real type", r.Raw))
	}
	params := []NV{{Name: "device", Value: dev}, {Name: "directory", Value: spec.Mountpoint}, {Name: "fstype", Value: fstype}}
	if spec.Options != "" {
		params = append(params, NV{Name: "options", Value: spec.Options})
	}
	p := b.prim("fs_"+slug(spec.Mountpoint), "ocf", "heartbeat", "Filesystem", params, monitorFS)
	p.Ops[0].Timeout = "40s"
	p.Notes = notes
	return p, nil
}

// drbd makes the promotable clone for drbddisk::res.
func (b *builder) drbd(res string) *Clone {
	pid := b.ids.take("drbd_" + slug(res))
	p := &Primitive{
		ID: pid, Class: "ocf", Provider: "linbit", Type: "drbd",
		Params: []NV{{Name: "drbd_resource", Value: res}},
		Ops: []Op{
			{Name: "monitor", Interval: monitorPromoted, Role: "Promoted"},
			{Name: "monitor", Interval: monitorUnpromoted, Role: "Unpromoted"},
		},
	}
	b.stopOp(p)
	return &Clone{
		ID:   b.ids.take("ms_" + pid),
		Prim: p,
		Meta: []NV{
			{Name: "promotable", Value: "true"},
			{Name: "promoted-max", Value: "1"},
			{Name: "promoted-node-max", Value: "1"},
			{Name: "clone-max", Value: "2"},
			{Name: "clone-node-max", Value: "1"},
			{Name: "notify", Value: "true"},
		},
		Notes: []string{
			"DRBD resource " + res + " (drbddisk::" + res + "): Pacemaker now starts DRBD on both nodes; disable the drbd init script/unit",
			"in drbd.conf replace the fence-peer handler drbd-peer-outdater (Heartbeat's dopd) with crm-fence-peer.9.sh, and add crm-unfence-peer.9.sh as after-resync-target",
		},
	}
}

// shortIQN is the part of an iSCSI name after its last ':' (the target's
// own name), for ids.
func shortIQN(iqn string) string {
	if i := strings.LastIndexByte(iqn, ':'); i >= 0 && i+1 < len(iqn) {
		return iqn[i+1:]
	}
	return iqn
}

// reserveTIDs records the target ids haresources gives, before any is
// assigned.
func (b *builder) reserveTIDs() {
	for _, g := range b.in.Hares.Groups {
		for _, r := range g.Resources {
			if r.Script != "iSCSITarget" {
				continue
			}
			if spec, err := iscsi.ParseTargetArgs(r.Args); err == nil && spec.TID > 0 {
				b.tids[spec.TID] = true
			}
		}
	}
}

// iscsiTarget maps iSCSITarget::IQN[::PORTALS[::TID[::INITIATORS]]].
// Portals are not passed: the built-in agent accepts only the wildcard,
// and resource-agents refuses portals with IET and tgt.
func (b *builder) iscsiTarget(spec iscsi.TargetSpec) *Primitive {
	params := []NV{{Name: "iqn", Value: spec.IQN}}
	tid := spec.TID
	why := ""
	if tid == 0 {
		for tid = 1; b.tids[tid]; tid++ {
		}
		b.tids[tid] = true
		why = "tid assigned by the export: resource-agents' iSCSITarget requires one with tgt (heartbeatd took the next free one)"
	}
	params = append(params, NV{Name: "tid", Value: fmt.Sprint(tid), Why: why})
	if !(len(spec.Initiators) == 1 && spec.Initiators[0] == "ALL") {
		params = append(params, NV{Name: "allowed_initiators", Value: strings.Join(spec.Initiators, " ")})
	}
	return b.prim("iscsi_tgt_"+slug(shortIQN(spec.IQN)), "ocf", "heartbeat", "iSCSITarget", params, monitorFast)
}

// iscsiService maps the whole-service iscsitarget [iet|tgt]. Its targets
// are in targets.conf (tgt) or ietd.conf (IET), which the OCF agents do
// not read, so the service maps to the init script that loads the same
// file.
func (b *builder) iscsiService(g haresources.Group, r haresources.Resource) *Primitive {
	script := "tgt"
	note := "iscsitarget: lsb:tgt starts tgtd and loads /etc/tgt/targets.conf, as heartbeatd's iscsitarget does with tgt; IET is no longer packaged (use lsb:iscsitarget if this cluster still runs it)"
	if len(r.Args) > 0 && r.Args[0] == "iet" {
		script = "iscsitarget"
		note = "iscsitarget::iet: lsb:iscsitarget is IET's init script, which loads /etc/iet/ietd.conf"
	}
	p := b.prim("lsb_"+script, "lsb", "", script, nil, monitorFast)
	p.Notes = append(p.Notes, note,
		"to have Pacemaker manage single targets and LUNs instead, write one ocf:heartbeat:iSCSITarget and one ocf:heartbeat:iSCSILogicalUnit per <target> and LUN of that file (haresources: iSCSITarget::IQN and iSCSILogicalUnit::IQN::LUN::PATH)")
	return p
}

// scstTarget maps SCSTTarget::IQN[::PORTALS[::OPTIONS]] to SCST's own OCF
// agent, with its parameters as seed 000 writes them.
func (b *builder) scstTarget(spec scst.TargetSpec) *Primitive {
	params := []NV{{Name: "iqn", Value: spec.IQN}}
	if len(spec.Portals) > 0 {
		params = append(params, NV{Name: "portals", Value: strings.Join(spec.Portals, " ")})
	}
	if len(spec.Options) > 0 {
		var kv []string
		for _, o := range spec.Options {
			kv = append(kv, o[0]+"="+o[1])
		}
		params = append(params, NV{Name: "tgtoptions", Value: strings.Join(kv, " ")})
	}
	p := b.prim("scst_tgt_"+slug(shortIQN(spec.IQN)), "ocf", "heartbeat", "SCSTTarget", params, monitorFast)
	p.Ops[0].Timeout = "60s"
	p.Notes = append(p.Notes, scstNote)
	return p
}

const scstNote = "SCST's own OCF agents (iscsi-scst/resource_agents, installed in /usr/lib/ocf/resource.d/heartbeat): resource-agents' iSCSITarget has no SCST back end"

// scstLun maps SCSTLun::IQN::DEVICE::LUN::PATH::HANDLER[::PARAMS].
func (b *builder) scstLun(g haresources.Group, r haresources.Resource, spec scst.LunSpec) *Primitive {
	params := []NV{
		{Name: "iqn", Value: spec.IQN},
		{Name: "device_name", Value: spec.Device},
		{Name: "lun", Value: fmt.Sprint(spec.LUN)},
		{Name: "path", Value: spec.Path},
		{Name: "handler", Value: spec.Handler},
	}
	p := b.prim("scst_lun_"+slug(spec.Device), "ocf", "heartbeat", "SCSTLun", params, monitorFast)
	p.Notes = append(p.Notes, scstNote)
	hasNV := false
	for _, kv := range spec.Params {
		if kv == "nv_cache=1" {
			hasNV = true
		}
	}
	if spec.Handler == "vdisk_fileio" && !hasNV {
		p.Notes = append(p.Notes, b.warnf(g.File, g.Line, "resource %s: SCST's SCSTLun agent adds vdisk_fileio devices with nv_cache=1, which heartbeatd does not: SYNCHRONIZE CACHE is then ignored and a crash of the target loses writes initiators were told are on disk; edit the agent if that matters", r.Raw))
	}
	if len(spec.Params) > 0 {
		p.Notes = append(p.Notes, b.warnf(g.File, g.Line, "resource %s: SCST's SCSTLun agent takes no add_device parameters; %s is not passed", r.Raw, strings.Join(spec.Params, ",")))
	}
	return p
}
