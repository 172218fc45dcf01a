// Package scst holds the SCSTTarget and SCSTLun resource agents: iSCSI
// targets and LUNs of the SCST kernel target, configured through its sysfs
// interface (/sys/kernel/scst_tgt, or $SCST_SYSFS), with the parameters of
// the SCSTTarget/SCSTLun OCF scripts admins run under Pacemaker (seed 000;
// SCST ships them as iscsi-scst/resource_agents), in haresources form:
//
//	SCSTTarget::IQN[::PORTALS[::OPTIONS]]
//	SCSTLun::IQN::DEVICE::LUN::PATH::HANDLER[::PARAMS]
//
// PORTALS are the target's allowed_portal addresses (comma-separated;
// haresources arguments cannot hold blanks), OPTIONS the seed's tgtoptions
// as NAME=VALUE pairs (each written to the target's attribute of that
// name: InitialR2T, MaxRecvDataSegmentLength, QueuedCommands,
// io_grouping_type...), HANDLER vdisk_fileio or vdisk_blockio, PARAMS
// extra add_device parameters such as nv_cache=1.
//
// Differences from those scripts, for the data:
//
//   - nv_cache=1 is not implied (seed 000's script hard-coded it): it makes
//     SCST ignore SYNCHRONIZE CACHE, so a crash of the target loses writes
//     the initiator was told are on disk. Give it in PARAMS to have it, and
//     the agent warns each start;
//   - the target is not started by loading modules or starting
//     iscsi-scstd, and never runs `scstadmin -clear_config` (the stock
//     SCSTTarget does, wiping every other target on the host);
//   - a target without LUN 0 gets a warning: some initiators then see none
//     of its LUNs (seed 000: "the target must have LUN 0");
//   - monitor (heartbeatd's): SCSTTarget is "running" only when the target
//     exists and is enabled and the iSCSI driver is enabled with
//     iscsi-scstd connected ("failed: target disabled", "failed: driver
//     down", "failed: driver disabled" otherwise); SCSTLun only when the
//     LUN holds its device on its path and the path still exists ("failed:
//     state unreadable", "failed: backing store missing"); "stopped" (exit
//     7) when absent.
package scst

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"heartbeatd/internal/agent"
)

func init() {
	agent.Register("SCSTTarget", TargetMain)
	agent.Register("SCSTLun", LunMain)
}

// TargetMain is the SCSTTarget entry point.
func TargetMain(args []string, io agent.IO) int { return New(io.Getenv).Target(args, io) }

// LunMain is the SCSTLun entry point.
func LunMain(args []string, io agent.IO) int { return New(io.Getenv).Lun(args, io) }

// Agent holds the sysfs tree the agents configure.
type Agent struct {
	// Root is the tree's path, for messages ($SCST_SYSFS or
	// /sys/kernel/scst_tgt).
	Root string
	FS   Sysfs
	// Sleep, Interval and Tries bound the polling of last_sysfs_mgmt_res.
	Sleep    func(time.Duration)
	Interval time.Duration
	Tries    int
}

// New returns an Agent on $SCST_SYSFS or /sys/kernel/scst_tgt.
func New(getenv func(string) string) *Agent {
	root := "/sys/kernel/scst_tgt"
	if getenv != nil && getenv("SCST_SYSFS") != "" {
		root = getenv("SCST_SYSFS")
	}
	return &Agent{Root: root, FS: OSFS{Root: root}, Sleep: time.Sleep, Interval: 100 * time.Millisecond, Tries: 300}
}

const iscsiDir = "targets/iscsi"

func targetDir(iqn string) string { return path.Join(iscsiDir, iqn) }

// validName rejects names that would split an SCST command or a path.
func validName(s string) bool {
	if s == "" || len(s) > 223 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == ';' || r == '=' || r > 126 {
			return false
		}
	}
	return true
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' })
}

func unset(s string) bool { return s == "" || s == "-" || s == "none" }

// Status exit codes, LSB style; Heartbeat reads the text.
func report(io agent.IO, who, word, why string) int {
	if why != "" {
		fmt.Fprintf(io.Stderr, "%s: %s\n", who, why)
	}
	io.Printf("%s", word)
	switch word {
	case "running":
		return 0
	case "stopped":
		return 3
	default:
		return 4
	}
}

// checkDriver fails unless iSCSI-SCST is loaded and its daemon connected:
// add_target is carried out by iscsi-scstd.
func (a *Agent) checkDriver() error {
	if !a.FS.Exists(iscsiDir) {
		return fmt.Errorf("%s/%s missing: iSCSI-SCST is not loaded (modprobe iscsi_scst, then start iscsi-scstd)", a.Root, iscsiDir)
	}
	if st, err := a.FS.ReadFile(path.Join(iscsiDir, "open_state")); err == nil && attr(st) != "open" {
		return fmt.Errorf("iscsi-scstd is not connected to the kernel (%s/open_state says %q): start iscsi-scstd", path.Join(a.Root, iscsiDir), attr(st))
	}
	return nil
}

// luns lists a target's LUN numbers.
func (a *Agent) luns(iqn string) []int {
	names, _ := a.FS.ReadDir(path.Join(targetDir(iqn), "luns"))
	var out []int
	for _, n := range names {
		if v, err := strconv.Atoi(n); err == nil {
			out = append(out, v)
		}
	}
	sort.Ints(out)
	return out
}

// warnNoLUN0 repeats seed 000's warning where it matters.
func (a *Agent) warnNoLUN0(io agent.IO, who, iqn string) {
	luns := a.luns(iqn)
	if len(luns) > 0 && luns[0] != 0 {
		io.Errorf("%s: warning: target %s has LUNs %v but no LUN 0: some initiators will see none of them; export a LUN 0", who, iqn, luns)
	}
}

// ---- SCSTTarget ----

const targetUsage = "usage: SCSTTarget IQN [PORTALS [OPTIONS]] {start|stop|status|monitor}\n" +
	"  (haresources: SCSTTarget::IQN[::10.1.24.10,10.1.25.10[::InitialR2T=No,ImmediateData=Yes,...]])"

// TargetSpec is SCSTTarget's arguments.
type TargetSpec struct {
	IQN     string
	Portals []string
	Options [][2]string // attribute name, value, in the given order
}

// ParseTargetArgs checks SCSTTarget's arguments.
func ParseTargetArgs(rargs []string) (TargetSpec, error) {
	var s TargetSpec
	if len(rargs) < 1 || len(rargs) > 3 {
		return s, fmt.Errorf("want IQN [PORTALS [OPTIONS]], got %d arguments", len(rargs))
	}
	s.IQN = rargs[0]
	if !validName(s.IQN) || !(strings.HasPrefix(s.IQN, "iqn.") || strings.HasPrefix(s.IQN, "eui.") || strings.HasPrefix(s.IQN, "naa.")) {
		return s, fmt.Errorf("%q is not an iSCSI name (iqn.YYYY-MM.reversed.domain:id)", s.IQN)
	}
	if len(rargs) > 1 && !unset(rargs[1]) {
		for _, p := range splitList(rargs[1]) {
			// "-" or "none" inside a list (",-") is a slip, not a
			// pattern: as an allowed_portal it would match no address.
			if strings.ContainsAny(p, "/=") || unset(p) {
				return s, fmt.Errorf("portal %q: want an IP address or pattern like 10.1.24.10 or 10.1.2?.*", p)
			}
			s.Portals = append(s.Portals, p)
		}
	}
	if len(rargs) > 2 && !unset(rargs[2]) {
		for _, kv := range splitList(rargs[2]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !validName(k) || v == "" || k == "enabled" || k == "mgmt" {
				return s, fmt.Errorf("option %q: want NAME=VALUE (a target attribute such as InitialR2T=No)", kv)
			}
			s.Options = append(s.Options, [2]string{k, v})
		}
	}
	return s, nil
}

// Target runs SCSTTarget.
func (a *Agent) Target(args []string, io agent.IO) int {
	const who = "SCSTTarget"
	done := func(spec TargetSpec, err error) int {
		if err != nil {
			io.Errorf("%s %s: %v", who, spec.IQN, err)
			return agent.Failed
		}
		return agent.OK
	}
	return agent.Entry[TargetSpec]{Name: who, Usage: strings.TrimPrefix(targetUsage, "usage: "), Parse: ParseTargetArgs,
		Start: func(spec TargetSpec, io agent.IO) int { return done(spec, a.targetStart(spec, io)) },
		Stop:  func(spec TargetSpec, io agent.IO) int { return done(spec, a.targetStop(spec.IQN, io)) },
		Status: func(spec TargetSpec, io agent.IO) int {
			word, why := a.targetStatus(spec.IQN)
			return report(io, who, word, why)
		},
		Monitor: func(spec TargetSpec, io agent.IO) int {
			word, why := a.targetStatus(spec.IQN)
			if word != "running" {
				return monitorReport(io, who, word, "target disabled", why)
			}
			// The target alone takes no logins: the driver must be
			// enabled too, and iscsi-scstd connected.
			if err := a.checkDriver(); err != nil {
				return agent.Unhealthy(io, who, "driver down", err.Error())
			}
			if en, err := a.FS.ReadFile(path.Join(iscsiDir, "enabled")); err != nil || attr(en) != "1" {
				return agent.Unhealthy(io, who, "driver disabled", fmt.Sprintf("%s/%s/enabled is %q (%v): no logins", a.Root, iscsiDir, attr(en), err))
			}
			return agent.Healthy(io)
		}}.Run(args, io)
}

// monitorReport answers monitor from a status word that is not "running":
// stopped is absent, anything else (unsure, half made) is a failure for
// reason.
func monitorReport(io agent.IO, who, word, reason, why string) int {
	if word == "stopped" {
		if why != "" {
			fmt.Fprintf(io.Stderr, "%s: %s\n", who, why)
		}
		return agent.Absent(io)
	}
	return agent.Unhealthy(io, who, reason, why)
}

func (a *Agent) targetStatus(iqn string) (string, string) {
	dir := targetDir(iqn)
	if !a.FS.Exists(dir) {
		return "stopped", ""
	}
	en, err := a.FS.ReadFile(path.Join(dir, "enabled"))
	if err != nil {
		return "may be running", err.Error()
	}
	if attr(en) == "1" {
		return "running", ""
	}
	// Sessions of a disabled target go on; only stop removes it cleanly.
	return "may be running", "target exists but is disabled (a start or stop stopped half-way): stop it and start again"
}

func (a *Agent) targetStart(s TargetSpec, io agent.IO) error {
	if err := a.checkDriver(); err != nil {
		return err
	}
	dir := targetDir(s.IQN)
	mgmt := path.Join(iscsiDir, "mgmt")
	if a.FS.Exists(dir) {
		if en, _ := a.FS.ReadFile(path.Join(dir, "enabled")); attr(en) == "1" {
			io.Printf("SCSTTarget: %s already exists and is enabled", s.IQN)
			return nil
		}
		// Left disabled by an interrupted start: rebuild it from scratch
		// so its portals and options are the configured ones.
		if err := a.mgmt(mgmt, "del_target "+s.IQN); err != nil {
			return err
		}
	}
	if err := a.mgmt(mgmt, "add_target "+s.IQN); err != nil {
		return err
	}
	undo := func(err error) error {
		if derr := a.mgmt(mgmt, "del_target "+s.IQN); derr != nil {
			io.Errorf("SCSTTarget: undoing the half-made target: %v", derr)
		}
		return err
	}
	for _, o := range s.Options {
		rel := path.Join(dir, o[0])
		if !a.FS.Exists(rel) {
			return undo(fmt.Errorf("option %s: the target has no attribute %s (see %s/%s for the valid ones)", o[0], o[0], a.Root, dir))
		}
		if err := a.mgmt(rel, o[1]); err != nil {
			return undo(err)
		}
	}
	for _, p := range s.Portals {
		if err := a.mgmt(mgmt, "add_target_attribute "+s.IQN+" allowed_portal "+p); err != nil {
			return undo(err)
		}
	}
	if err := a.mgmt(path.Join(dir, "enabled"), "1"); err != nil {
		return undo(err)
	}
	// The driver as a whole accepts no connections until enabled (0 by
	// default).
	if en, err := a.FS.ReadFile(path.Join(iscsiDir, "enabled")); err == nil && attr(en) != "1" {
		if err := a.mgmt(path.Join(iscsiDir, "enabled"), "1"); err != nil {
			return err
		}
	}
	where := "all portals"
	if len(s.Portals) > 0 {
		where = strings.Join(s.Portals, ", ")
	}
	io.Printf("SCSTTarget: %s enabled on %s", s.IQN, where)
	return nil
}

func (a *Agent) targetStop(iqn string, io agent.IO) error {
	dir := targetDir(iqn)
	if !a.FS.Exists(dir) {
		io.Printf("SCSTTarget: %s is not there", iqn)
		return nil
	}
	if err := a.mgmt(path.Join(dir, "enabled"), "0"); err != nil {
		return err
	}
	// Disabling refuses new logins only; close the open sessions so no
	// initiator keeps writing here while the peer takes over.
	sessions, _ := a.FS.ReadDir(path.Join(dir, "sessions"))
	for _, s := range sessions {
		if err := a.mgmt(path.Join(dir, "sessions", s, "force_close"), "1"); err != nil {
			io.Errorf("SCSTTarget: closing session %s: %v", s, err)
		}
	}
	if l := a.luns(iqn); len(l) > 0 {
		io.Errorf("SCSTTarget: warning: %s still has LUNs %v; they go with the target, their devices stay (stop the SCSTLun resources to close them)", iqn, l)
	}
	if err := a.mgmt(path.Join(iscsiDir, "mgmt"), "del_target "+iqn); err != nil {
		return err
	}
	if a.FS.Exists(dir) {
		return fmt.Errorf("%s/%s still exists after del_target", a.Root, dir)
	}
	io.Printf("SCSTTarget: %s deleted", iqn)
	return nil
}

// pathExists checks the backing store before SCST is asked to open it, for
// a clearer message than the kernel's ENOENT.
var pathExists = func(p string) error { _, err := os.Stat(p); return err }
