package iscsi

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"heartbeatd/internal/agent"
)

const (
	targetUsage = "iSCSITarget IQN [PORTALS [TID [INITIATORS]]] {start|stop|status|monitor}\n" +
		"  (haresources: iSCSITarget::IQN[::PORTALS[::TID[::INITIATORS]]]; lists comma-separated; empty or - for default)"
	luUsage = "iSCSILogicalUnit IQN LUN PATH {start|stop|status|monitor}\n" +
		"  (haresources: iSCSILogicalUnit::IQN::LUN::PATH)"
)

// TargetSpec is an iSCSITarget's arguments.
type TargetSpec struct {
	IQN string
	// TID is the wanted target id, 0 for "next free".
	TID int
	// Initiators may log in: addresses or networks (tgt
	// --initiator-address) or iSCSI names (--initiator-name); ALL is
	// resource-agents' default.
	Initiators []string
}

// unset reports an optional argument left out or given as "-".
func unset(s string) bool { return s == "" || s == "-" }

// ParseTargetArgs checks iSCSITarget's arguments.
func ParseTargetArgs(rargs []string) (TargetSpec, error) {
	var s TargetSpec
	if len(rargs) < 1 || len(rargs) > 4 {
		return s, fmt.Errorf("want IQN [PORTALS [TID [INITIATORS]]], got %d arguments", len(rargs))
	}
	s.IQN = rargs[0]
	if !validIQN(s.IQN) {
		return s, fmt.Errorf("%q is not an iSCSI name (iqn.YYYY-MM.reversed.domain[:id], eui. or naa.)", s.IQN)
	}
	if len(rargs) > 1 && !unset(rargs[1]) {
		for _, p := range splitList(rargs[1]) {
			if p != "0.0.0.0:3260" && p != "0.0.0.0" {
				// resource-agents: "IET and tgt do not support binding a
				// target portal to a specific IP address".
				return s, fmt.Errorf("portal %q: IET and tgt cannot bind a target to an address (they listen on all); leave PORTALS empty, or use SCSTTarget, which can", p)
			}
		}
	}
	if len(rargs) > 2 && !unset(rargs[2]) {
		n, err := strconv.Atoi(rargs[2])
		if err != nil || n <= 0 {
			return s, fmt.Errorf("TID %q: want a positive number", rargs[2])
		}
		s.TID = n
	}
	s.Initiators = []string{"ALL"}
	if len(rargs) > 3 && !unset(rargs[3]) {
		s.Initiators = splitList(rargs[3])
		if len(s.Initiators) == 0 {
			// Only separators (","): a list with nobody in it would bind no
			// initiator at all.
			return s, fmt.Errorf("INITIATORS %q: no initiator in the list; leave it empty or - for ALL", rargs[3])
		}
		for _, i := range s.Initiators {
			// "-" inside a list (",-") is a slip: as an initiator name it
			// would let nobody log in.
			if unset(i) {
				return s, fmt.Errorf("initiator %q: want an address, a network or an iSCSI name; leave INITIATORS empty or - for ALL", i)
			}
		}
	}
	return s, nil
}

// LUSpec is an iSCSILogicalUnit's arguments.
type LUSpec struct {
	IQN  string
	LUN  int
	Path string
}

// ParseLUArgs checks iSCSILogicalUnit's arguments.
func ParseLUArgs(rargs []string) (LUSpec, error) {
	var s LUSpec
	if len(rargs) != 3 {
		return s, fmt.Errorf("want IQN LUN PATH, got %d arguments", len(rargs))
	}
	s.IQN, s.Path = rargs[0], rargs[2]
	if !validIQN(s.IQN) {
		return s, fmt.Errorf("%q is not an iSCSI name", s.IQN)
	}
	n, err := strconv.Atoi(rargs[1])
	if err != nil || n < 0 || n > 16383 {
		return s, fmt.Errorf("LUN %q: want a number 0..16383", rargs[1])
	}
	s.LUN = n
	if !strings.HasPrefix(s.Path, "/") || strings.ContainsAny(s.Path, ",\n") {
		return s, fmt.Errorf("PATH %q: want an absolute path without commas (IET splits its parameters on them)", s.Path)
	}
	return s, nil
}

// targetRun is an iSCSITarget command line and the back end that runs it.
type targetRun struct {
	TargetSpec
	be string
}

// Target runs iSCSITarget.
func (a *Agent) Target(args []string, io agent.IO) int {
	const who = "iSCSITarget"
	return agent.Entry[targetRun]{Name: who, Usage: targetUsage,
		Parse: func(rargs []string) (targetRun, error) {
			s, err := ParseTargetArgs(rargs)
			return targetRun{TargetSpec: s}, err
		},
		Prepare: func(r *targetRun, op string, io agent.IO) (int, bool) {
			var code int
			if r.be, code = a.prepare(who, "", op, io); r.be == "" {
				return code, true
			}
			if r.be == "iet" && !(len(r.Initiators) == 1 && r.Initiators[0] == "ALL") {
				io.Errorf("%s: IET restricts initiators in /etc/iet/initiators.allow, not per command: leave INITIATORS empty and edit that file", who)
				return agent.BadArgs, true
			}
			return agent.OK, false
		},
		Start: func(r targetRun, io agent.IO) int {
			return done(io, who+" "+r.IQN, a.targetStart(r.be, r.TargetSpec, io))
		},
		Stop: func(r targetRun, io agent.IO) int {
			return done(io, who+" "+r.IQN, a.targetStop(r.be, r.TargetSpec, io))
		},
		Status: func(r targetRun, io agent.IO) int {
			present, why, err := a.targetPresent(r.be, r.IQN)
			switch {
			case err != nil:
				return report(io, who, unknown, err.Error())
			case present:
				return report(io, who, running, why)
			}
			return report(io, who, stopped, why)
		},
		Monitor: func(r targetRun, io agent.IO) int { return a.targetMonitor(who, r.be, r.IQN, io) },
	}.Run(args, io)
}

// targetMonitor: the target is there and can take logins (tgtd ready,
// ietd alive: without ietd the kernel serves only the sessions it has).
func (a *Agent) targetMonitor(who, be, iqn string, io agent.IO) int {
	present, why, err := a.targetPresent(be, iqn)
	switch {
	case err != nil:
		return agent.Unhealthy(io, who, "state unreadable", err.Error())
	case !present:
		if why != "" {
			fmt.Fprintf(io.Stderr, "%s: %s\n", who, why)
		}
		return agent.Absent(io)
	}
	if be == "tgt" {
		st, err := a.tgtSysState()
		if err != nil {
			return agent.Unhealthy(io, who, "state unreadable", err.Error())
		}
		if st != "ready" {
			return agent.Unhealthy(io, who, "target daemon offline", fmt.Sprintf("tgtd state is %q, not ready: it refuses logins", st))
		}
		return agent.Healthy(io)
	}
	if a.ietdPid() == 0 {
		return agent.Unhealthy(io, who, "ietd down", "the kernel exports "+iqn+" but ietd is gone: no new logins")
	}
	return agent.Healthy(io)
}

// targetPresent looks the target up; a daemon that is down has none.
func (a *Agent) targetPresent(be, iqn string) (bool, string, error) {
	if be == "tgt" {
		up, err := a.tgtdAnswers()
		if err != nil || !up {
			return false, "tgtd is not answering", err
		}
		ts, err := a.tgtTargets()
		if err != nil {
			return false, "", err
		}
		t, ok := findTarget(ts, iqn)
		return ok, fmt.Sprintf("tid %d", t.TID), nil
	}
	ts, err := a.ietVolumes()
	if errors.Is(err, errNoModule) {
		return false, err.Error(), nil
	}
	if err != nil {
		return false, "", err
	}
	t, ok := findIet(ts, iqn)
	return ok, fmt.Sprintf("tid %d", t.TID), nil
}

func (a *Agent) targetStart(be string, spec TargetSpec, io agent.IO) error {
	if be == "iet" {
		ts, err := a.ietVolumes()
		if err != nil {
			return fmt.Errorf("%w (start ietd first: the iscsitarget resource, or ietd -c %s)", err, a.IetConf)
		}
		if t, ok := findIet(ts, spec.IQN); ok {
			io.Printf("iSCSITarget: %s already exists (tid %d)", spec.IQN, t.TID)
			return nil
		}
		tid := spec.TID
		if tid == 0 {
			tid = ietNextTID(ts)
		}
		if err := a.ietadm("--op", "new", "--tid="+strconv.Itoa(tid), "--params", "Name="+spec.IQN); err != nil {
			return err
		}
		io.Printf("iSCSITarget: created %s (tid %d)", spec.IQN, tid)
		return nil
	}
	up, err := a.tgtdAnswers()
	if err != nil {
		return err
	}
	if !up {
		return fmt.Errorf("tgtd is not answering on control port %d: start it first (the iscsitarget resource, or tgtd)", a.ControlPort)
	}
	ts, err := a.tgtTargets()
	if err != nil {
		return err
	}
	if t, ok := findTarget(ts, spec.IQN); ok {
		io.Printf("iSCSITarget: %s already exists (tid %d)", spec.IQN, t.TID)
		return nil
	}
	tid := spec.TID
	if tid == 0 {
		tid = nextTID(ts)
	}
	tidS := strconv.Itoa(tid)
	if _, err := a.tgtadm("--lld", a.LLD, "--op", "new", "--mode", "target", "--tid", tidS, "-T", spec.IQN); err != nil {
		return err
	}
	// tgt denies every initiator until one is bound.
	for _, ini := range spec.Initiators {
		flag := "--initiator-address"
		if validIQN(ini) {
			flag = "--initiator-name"
		}
		if _, err := a.tgtadm("--lld", a.LLD, "--op", "bind", "--mode", "target", "--tid", tidS, flag, ini); err != nil {
			if derr := a.tgtDeleteTarget(tid); derr != nil {
				io.Errorf("iSCSITarget: undoing the half-made target: %v", derr)
			}
			return err
		}
	}
	io.Printf("iSCSITarget: created %s (tid %d), initiators %s", spec.IQN, tid, strings.Join(spec.Initiators, ","))
	return nil
}

func (a *Agent) targetStop(be string, spec TargetSpec, io agent.IO) error {
	if be == "iet" {
		ts, err := a.ietVolumes()
		if errors.Is(err, errNoModule) {
			return nil
		}
		if err != nil {
			return err
		}
		t, ok := findIet(ts, spec.IQN)
		if !ok {
			io.Printf("iSCSITarget: %s is not there", spec.IQN)
			return nil
		}
		if err := a.ietadm("--op", "delete", "--tid="+strconv.Itoa(t.TID)); err != nil {
			return err
		}
		io.Printf("iSCSITarget: deleted %s (tid %d)", spec.IQN, t.TID)
		return nil
	}
	up, err := a.tgtdAnswers()
	if err != nil {
		return err
	}
	if !up {
		io.Printf("iSCSITarget: tgtd is not running")
		return nil
	}
	ts, err := a.tgtTargets()
	if err != nil {
		return err
	}
	t, ok := findTarget(ts, spec.IQN)
	if !ok {
		io.Printf("iSCSITarget: %s is not there", spec.IQN)
		return nil
	}
	if err := a.tgtDeleteTarget(t.TID); err != nil {
		return err
	}
	io.Printf("iSCSITarget: deleted %s (tid %d)", spec.IQN, t.TID)
	return nil
}

// luRun is an iSCSILogicalUnit command line and the back end that runs it.
type luRun struct {
	LUSpec
	be string
}

// LogicalUnit runs iSCSILogicalUnit.
func (a *Agent) LogicalUnit(args []string, io agent.IO) int {
	const who = "iSCSILogicalUnit"
	what := func(r luRun) string { return fmt.Sprintf("%s %s LUN %d", who, r.IQN, r.LUN) }
	return agent.Entry[luRun]{Name: who, Usage: luUsage,
		Parse: func(rargs []string) (luRun, error) {
			s, err := ParseLUArgs(rargs)
			return luRun{LUSpec: s}, err
		},
		Prepare: func(r *luRun, op string, io agent.IO) (int, bool) {
			var code int
			if r.be, code = a.prepare(who, "", op, io); r.be == "" {
				return code, true
			}
			if r.be == "tgt" && r.LUN == 0 {
				io.Errorf("%s: LUN 0 of a tgt target is tgt's own controller; number the disks from 1", who)
				return agent.BadArgs, true
			}
			return agent.OK, false
		},
		Start: func(r luRun, io agent.IO) int { return done(io, what(r), a.luStart(r.be, r.LUSpec, io)) },
		Stop:  func(r luRun, io agent.IO) int { return done(io, what(r), a.luStop(r.be, r.LUSpec, io)) },
		Status: func(r luRun, io agent.IO) int {
			s, why := a.luStatus(r.be, r.LUSpec)
			return report(io, who, s, why)
		},
		Monitor: func(r luRun, io agent.IO) int {
			s, why := a.luStatus(r.be, r.LUSpec)
			if s != running {
				return monitorReport(io, who, s, why)
			}
			// The export outlives its backing store (a DRBD device
			// gone Secondary or down, a file removed): it then serves
			// I/O errors.
			if err := statErr(r.Path); err != nil {
				return agent.Unhealthy(io, who, "backing store missing", err.Error())
			}
			return agent.Healthy(io)
		},
	}.Run(args, io)
}

// luLookup finds the target's id and the path at the LUN ("" if none).
// found is false when the target itself is missing.
func (a *Agent) luLookup(be string, spec LUSpec) (tid int, path string, found bool, luns []int, err error) {
	if be == "tgt" {
		up, err := a.tgtdAnswers()
		if err != nil || !up {
			return 0, "", false, nil, err
		}
		ts, err := a.tgtTargets()
		if err != nil {
			return 0, "", false, nil, err
		}
		t, ok := findTarget(ts, spec.IQN)
		if !ok {
			return 0, "", false, nil, nil
		}
		for _, l := range t.LUNs {
			luns = append(luns, l.LUN)
		}
		l, _ := t.LUN(spec.LUN)
		return t.TID, l.Path, true, luns, nil
	}
	ts, err := a.ietVolumes()
	if errors.Is(err, errNoModule) {
		return 0, "", false, nil, nil
	}
	if err != nil {
		return 0, "", false, nil, err
	}
	t, ok := findIet(ts, spec.IQN)
	if !ok {
		return 0, "", false, nil, nil
	}
	for _, l := range t.LUNs {
		luns = append(luns, l.LUN)
	}
	l, _ := t.LUN(spec.LUN)
	return t.TID, l.Path, true, luns, nil
}

func (a *Agent) luStatus(be string, spec LUSpec) (state, string) {
	_, path, found, _, err := a.luLookup(be, spec)
	switch {
	case err != nil:
		return unknown, err.Error()
	case !found:
		return stopped, "target " + spec.IQN + " is not there"
	case path == spec.Path:
		return running, ""
	case path == "":
		return stopped, ""
	default:
		return stopped, fmt.Sprintf("LUN %d exports %s, not %s", spec.LUN, path, spec.Path)
	}
}

func (a *Agent) luStart(be string, spec LUSpec, io agent.IO) error {
	tid, path, found, luns, err := a.luLookup(be, spec)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("target %s does not exist: put iSCSITarget::%s before this resource", spec.IQN, spec.IQN)
	}
	if path == spec.Path {
		io.Printf("iSCSILogicalUnit: LUN %d of %s already exports %s", spec.LUN, spec.IQN, spec.Path)
		return nil
	}
	if path != "" {
		return fmt.Errorf("LUN %d of %s already exports %s: a second resource uses the same LUN number?", spec.LUN, spec.IQN, path)
	}
	st, err := os.Stat(spec.Path)
	if err != nil {
		return fmt.Errorf("backing store: %w (is the DRBD device Primary here, the file system mounted?)", err)
	}
	tidS := strconv.Itoa(tid)
	if be == "tgt" {
		if _, err := a.tgtadm("--lld", a.LLD, "--op", "new", "--mode", "logicalunit", "--tid", tidS,
			"--lun", strconv.Itoa(spec.LUN), "-b", spec.Path); err != nil {
			return err
		}
	} else {
		// As resource-agents: blockio for a block device, else fileio.
		typ := "fileio"
		if st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0 {
			typ = "blockio"
		}
		if err := a.ietadm("--op", "new", "--tid="+tidS, "--lun="+strconv.Itoa(spec.LUN),
			"--params", "Path="+spec.Path+",Type="+typ); err != nil {
			return err
		}
		if spec.LUN != 0 && !containsInt(luns, 0) {
			// Seed 000 (and IET users generally): without LUN 0 some
			// initiators do not scan the target's other LUNs.
			io.Errorf("iSCSILogicalUnit: warning: target %s has no LUN 0; some initiators will not see LUN %d until it does", spec.IQN, spec.LUN)
		}
	}
	io.Printf("iSCSILogicalUnit: LUN %d of %s exports %s", spec.LUN, spec.IQN, spec.Path)
	return nil
}

func (a *Agent) luStop(be string, spec LUSpec, io agent.IO) error {
	tid, path, found, _, err := a.luLookup(be, spec)
	if err != nil {
		return err
	}
	if !found || path == "" {
		io.Printf("iSCSILogicalUnit: LUN %d of %s is not there", spec.LUN, spec.IQN)
		return nil
	}
	if path != spec.Path {
		// Not ours: deleting it would cut another resource's disk.
		io.Errorf("iSCSILogicalUnit: LUN %d of %s exports %s, not %s; leaving it", spec.LUN, spec.IQN, path, spec.Path)
		return nil
	}
	tidS, lunS := strconv.Itoa(tid), strconv.Itoa(spec.LUN)
	if be == "iet" {
		// IET removes a LUN even while it is in use.
		return a.ietadm("--op", "delete", "--tid="+tidS, "--lun="+lunS)
	}
	// tgt refuses to delete a LUN in use and cannot close the sessions of
	// one LUN; like resource-agents, retry until it lets go.
	var lastErr error
	ok := a.waitFor(func() bool {
		_, lastErr = a.tgtadm("--lld", a.LLD, "--op", "delete", "--mode", "logicalunit", "--tid", tidS, "--lun", lunS)
		return lastErr == nil
	})
	if !ok {
		return fmt.Errorf("%w; initiators still use it: stop iSCSITarget::%s (it drops the sessions) or log them out", lastErr, spec.IQN)
	}
	io.Printf("iSCSILogicalUnit: deleted LUN %d of %s", spec.LUN, spec.IQN)
	return nil
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
