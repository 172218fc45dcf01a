package iscsi

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"heartbeatd/internal/agent"
)

const serviceUsage = "iscsitarget [iet|tgt] {start|stop|status|monitor}"

// serviceRun is an iscsitarget command line: the back end asked for ("" =
// detect), and the one that runs it (set by prepare).
type serviceRun struct{ explicit, be string }

// Service runs the iscsitarget agent: the whole target service.
func (a *Agent) Service(args []string, io agent.IO) int {
	const who = "iscsitarget"
	return agent.Entry[serviceRun]{Name: who, Usage: serviceUsage,
		Parse: func(rargs []string) (serviceRun, error) {
			switch {
			case len(rargs) == 0:
				return serviceRun{}, nil
			case len(rargs) == 1 && (rargs[0] == "iet" || rargs[0] == "tgt"):
				return serviceRun{explicit: rargs[0]}, nil
			}
			return serviceRun{}, fmt.Errorf("unexpected arguments %q: the only argument is the back end, iet or tgt", rargs)
		},
		Prepare: func(r *serviceRun, op string, io agent.IO) (int, bool) {
			var code int
			r.be, code = a.prepare(who, r.explicit, op, io)
			return code, r.be == ""
		},
		Start: func(r serviceRun, io agent.IO) int {
			start := a.ietServiceStart
			if r.be == "tgt" {
				start = a.tgtServiceStart
			}
			return done(io, who+" ("+r.be+")", start(io))
		},
		Stop: func(r serviceRun, io agent.IO) int {
			stop := a.ietServiceStop
			if r.be == "tgt" {
				stop = a.tgtServiceStop
			}
			return done(io, who+" ("+r.be+")", stop(io))
		},
		Status: func(r serviceRun, io agent.IO) int {
			s, why := a.serviceStatus(r.be)
			return report(io, who, s, why)
		},
		Monitor: func(r serviceRun, io agent.IO) int {
			s, why := a.serviceStatus(r.be)
			if s != running {
				return monitorReport(io, who, s, why)
			}
			if bare := a.targetsWithoutLUNs(r.be); len(bare) > 0 {
				return agent.Unhealthy(io, who, "target without LUNs", "no LUN exported by "+strings.Join(bare, ", "))
			}
			return agent.Healthy(io)
		},
	}.Run(args, io)
}

func (a *Agent) serviceStatus(be string) (state, string) {
	if be == "tgt" {
		return a.tgtServiceStatus()
	}
	return a.ietServiceStatus()
}

// targetsWithoutLUNs lists the configured targets that export no disk
// (tgt: nothing besides its controller, LUN 0): a target still configured
// but serving nothing. Only called when status found every one present.
func (a *Agent) targetsWithoutLUNs(be string) []string {
	var bare []string
	if be == "tgt" {
		names, _ := a.tgtConfTargets()
		ts, _ := a.tgtTargets()
		for _, n := range names {
			if t, _ := findTarget(ts, n); len(t.LUNs) < 2 {
				bare = append(bare, n)
			}
		}
		return bare
	}
	names, _ := a.ietConf()
	ts, _ := a.ietVolumes()
	for _, n := range names {
		if t, _ := findIet(ts, n); len(t.LUNs) == 0 {
			bare = append(bare, n)
		}
	}
	return bare
}

// ---- tgt ----

// tgtConfTargets reads the configured target names; an empty list is an
// error, because a service that exports nothing is a broken config, not a
// running service.
func (a *Agent) tgtConfTargets() ([]string, error) {
	names, err := TgtConfTargets(a.TgtConf)
	if err != nil {
		return nil, fmt.Errorf("read tgt config: %w (set TGT_CONF to the targets.conf to load)", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s defines no <target> (nor do its includes): nothing to export", a.TgtConf)
	}
	return names, nil
}

func (a *Agent) tgtServiceStart(io agent.IO) error {
	names, err := a.tgtConfTargets()
	if err != nil {
		return err
	}
	up, err := a.tgtdAnswers()
	if err != nil {
		return err
	}
	if !up {
		args := a.tgtadmArgs()
		if a.TgtdPortal != "" {
			args = append(args, "--iscsi", "portal="+a.TgtdPortal)
		}
		// tgtd daemonizes: the parent exits once the child is forked.
		r, err := a.run(a.Tgtd, args...)
		if err != nil {
			return err
		}
		if r.Code != 0 {
			return fmt.Errorf("`%s %s` failed (exit %d): %s", a.Tgtd, strings.Join(args, " "), r.Code, r.Text())
		}
		if !a.waitFor(func() bool { ok, _ := a.tgtdAnswers(); return ok }) {
			return fmt.Errorf("tgtd started but does not answer on control port %d; see its log (syslog)", a.ControlPort)
		}
		io.Printf("iscsitarget: tgtd started (control port %d)", a.ControlPort)
	}
	// A stop that failed half-way leaves tgtd offline: no logins.
	if st, err := a.tgtSysState(); err != nil {
		return err
	} else if st != "ready" {
		if _, err := a.tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "ready"); err != nil {
			return err
		}
	}
	// tgt-admin -e adds only the targets tgtd does not have yet, so a
	// second start is harmless.
	adminArgs := append(a.tgtadmArgs(), "-e", "-c", a.TgtConf)
	r, err := a.run(a.TgtAdmin, adminArgs...)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("`%s %s` failed (exit %d): %s", a.TgtAdmin, strings.Join(adminArgs, " "), r.Code, r.Text())
	}
	ts, err := a.tgtTargets()
	if err != nil {
		return err
	}
	var missing []string
	for _, n := range names {
		if _, ok := findTarget(ts, n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("after `tgt-admin -e -c %s` tgtd still lacks %s; check the file (tgt-admin -p -e -c %s shows the commands it would run)",
			a.TgtConf, strings.Join(missing, ", "), a.TgtConf)
	}
	for _, n := range names {
		if t, _ := findTarget(ts, n); len(t.LUNs) < 2 {
			io.Errorf("iscsitarget: warning: target %s has no LUN besides tgt's controller (LUN 0): is its backing-store missing?", n)
		}
	}
	io.Printf("iscsitarget: exporting %s", strings.Join(names, ", "))
	return nil
}

func (a *Agent) tgtServiceStop(io agent.IO) error {
	up, err := a.tgtdAnswers()
	if err != nil {
		return err
	}
	if !up {
		io.Printf("iscsitarget: tgtd is not running")
		return nil
	}
	ts, err := a.tgtTargets()
	if err != nil {
		return err
	}
	names, confErr := a.tgtConfTargets()
	var ours []TgtTarget
	if confErr != nil {
		// Stop must not fail for want of the file (it may live on a file
		// system already released): this node gives the service up, so
		// every target goes.
		io.Errorf("iscsitarget: warning: %v; deleting every target of this tgtd", confErr)
		ours = ts
	} else {
		for _, t := range ts {
			if contains(names, t.Name) {
				ours = append(ours, t)
			}
		}
	}
	for _, t := range ours {
		if err := a.tgtDeleteTarget(t.TID); err != nil {
			return err
		}
		io.Printf("iscsitarget: deleted target %d %s", t.TID, t.Name)
	}
	ts, err = a.tgtTargets()
	if err != nil {
		return err
	}
	if len(ts) > 0 {
		var others []string
		for _, t := range ts {
			if confErr == nil && contains(names, t.Name) {
				return fmt.Errorf("target %s is still there after deleting it", t.Name)
			}
			others = append(others, t.Name)
		}
		io.Printf("iscsitarget: leaving tgtd running for targets not in %s: %s", a.TgtConf, strings.Join(others, ", "))
		return nil
	}
	// tgtd refuses to exit while it is ready or has targets.
	if _, err := a.tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline"); err != nil {
		return err
	}
	if _, err := a.tgtadm("--op", "delete", "--mode", "system"); err != nil {
		return err
	}
	if !a.waitFor(func() bool { ok, _ := a.tgtdAnswers(); return !ok }) {
		return fmt.Errorf("tgtd still answers on control port %d after `tgtadm --op delete --mode system`", a.ControlPort)
	}
	io.Printf("iscsitarget: tgtd stopped")
	return nil
}

func (a *Agent) tgtServiceStatus() (state, string) {
	up, err := a.tgtdAnswers()
	if err != nil {
		return stopped, err.Error()
	}
	if !up {
		return stopped, "tgtd is not answering"
	}
	ts, err := a.tgtTargets()
	if err != nil {
		return unknown, err.Error()
	}
	names, err := a.tgtConfTargets()
	if err != nil {
		if len(ts) == 0 {
			return stopped, err.Error() + "; tgtd has no targets"
		}
		return unknown, err.Error() + "; tgtd has targets"
	}
	var have, miss []string
	for _, n := range names {
		if _, ok := findTarget(ts, n); ok {
			have = append(have, n)
		} else {
			miss = append(miss, n)
		}
	}
	st, _ := a.tgtSysState()
	switch {
	case len(miss) == 0 && st == "ready":
		return running, ""
	case len(have) == 0:
		return stopped, "tgtd runs without the configured targets"
	default:
		return unknown, fmt.Sprintf("partly exported (state %s; present: %s; missing: %s): stop and start the resource",
			st, strings.Join(have, ", "), strings.Join(miss, ", "))
	}
}

// waitFor polls cond up to WaitTries times.
func (a *Agent) waitFor(cond func() bool) bool {
	for i := 0; i < max(a.WaitTries, 1); i++ {
		if cond() {
			return true
		}
		a.Sleep(a.Interval)
	}
	return cond()
}

// ---- IET ----

// ietConf reads ietd.conf, explaining the seed's symlink layout: the file
// lives on the replicated file system and /etc/iet/ietd.conf points there,
// so it is missing until that file system is mounted on this node.
func (a *Agent) ietConf() ([]string, error) {
	data, err := os.ReadFile(a.IetConf)
	if err != nil {
		if dest, lerr := os.Readlink(a.IetConf); lerr == nil && errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is a symlink to %s, which does not exist: mount the file system that holds it first (in haresources, its Filesystem resource must be started before iscsitarget)", a.IetConf, dest)
		}
		return nil, fmt.Errorf("read ietd config: %w (set IET_CONF to the ietd.conf to use)", err)
	}
	names, err := IetConfTargets(a.IetConf, string(data))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s defines no Target: nothing to export", a.IetConf)
	}
	return names, nil
}

func (a *Agent) ietServiceStart(io agent.IO) error {
	names, err := a.ietConf()
	if err != nil {
		return err
	}
	if statErr(a.IetProc) != nil {
		r, err := a.run(a.Modprobe, "iscsi_trgt")
		if err != nil {
			return err
		}
		if r.Code != 0 || statErr(a.IetProc) != nil {
			return fmt.Errorf("`%s iscsi_trgt` (exit %d) did not make %s appear: is the IET kernel module (iscsitarget-dkms) built for this kernel? %s",
				a.Modprobe, r.Code, a.IetProc, r.Text())
		}
	}
	if a.ietdPid() == 0 {
		// ietd forks; the parent's exit status says whether it could.
		r, err := a.run(a.Ietd, "-c", a.IetConf)
		if err != nil {
			return err
		}
		if r.Code != 0 {
			return fmt.Errorf("`%s -c %s` failed (exit %d): %s", a.Ietd, a.IetConf, r.Code, r.Text())
		}
		if !a.waitFor(func() bool { return a.ietdPid() != 0 }) {
			return fmt.Errorf("ietd did not come up (no live process in %s); see syslog", a.IetdPidfile)
		}
		io.Printf("iscsitarget: ietd started")
	}
	// ietd loads the config as it starts; wait for the targets to appear.
	var missing []string
	ok := a.waitFor(func() bool {
		ts, err := a.ietVolumes()
		if err != nil {
			return false
		}
		missing = missing[:0]
		for _, n := range names {
			if _, ok := findIet(ts, n); !ok {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0
	})
	if !ok {
		return fmt.Errorf("ietd runs but the kernel lacks %s; ietd reads %s only when it starts: stop and start the resource",
			strings.Join(missing, ", "), a.IetConf)
	}
	io.Printf("iscsitarget: exporting %s", strings.Join(names, ", "))
	return nil
}

func (a *Agent) ietServiceStop(io agent.IO) error {
	pid := a.ietdPid()
	ts, err := a.ietVolumes()
	if errors.Is(err, errNoModule) {
		ts, err = nil, nil
	}
	if err != nil {
		return err
	}
	if len(ts) > 0 {
		if pid == 0 {
			return fmt.Errorf("the IET kernel module still exports %d target(s) but ietd is not running, so ietadm cannot delete them; start ietd (ietd -c %s) and stop again, or unload iscsi_trgt", len(ts), a.IetConf)
		}
		// "--op delete" with no tid stops all activity; per-target
		// deletion is the fallback for ietd versions that refuse it.
		if err := a.ietadm("--op", "delete"); err != nil {
			io.Errorf("iscsitarget: %v; deleting target by target", err)
			for _, t := range ts {
				if err := a.ietadm("--op", "delete", "--tid="+strconv.Itoa(t.TID)); err != nil {
					return err
				}
			}
		}
		if ts, err = a.ietVolumes(); err != nil {
			return err
		}
		if len(ts) > 0 {
			// Keep ietd: without it nothing can delete them, and the
			// kernel would go on serving their sessions.
			return fmt.Errorf("IET still exports %s after ietadm --op delete", ts[0].Name)
		}
	}
	if pid == 0 {
		io.Printf("iscsitarget: ietd is not running")
		return nil
	}
	if err := a.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill ietd %d: %w", pid, err)
	}
	if !a.waitFor(func() bool { return a.ietdPid() == 0 }) {
		if err := a.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill -9 ietd %d: %w", pid, err)
		}
		if !a.waitFor(func() bool { return a.ietdPid() == 0 }) {
			return fmt.Errorf("ietd %d survives SIGKILL", pid)
		}
	}
	io.Printf("iscsitarget: ietd stopped")
	return nil
}

func (a *Agent) ietServiceStatus() (state, string) {
	pid := a.ietdPid()
	ts, err := a.ietVolumes()
	if errors.Is(err, errNoModule) {
		if pid != 0 {
			return unknown, "ietd runs but " + err.Error()
		}
		return stopped, err.Error()
	}
	if err != nil {
		return unknown, err.Error()
	}
	names, err := a.ietConf()
	if err != nil {
		if len(ts) == 0 {
			return stopped, err.Error()
		}
		return unknown, err.Error() + "; the kernel exports targets"
	}
	var have, miss []string
	for _, n := range names {
		if _, ok := findIet(ts, n); ok {
			have = append(have, n)
		} else {
			miss = append(miss, n)
		}
	}
	switch {
	case pid != 0 && len(miss) == 0:
		return running, ""
	case len(ts) == 0:
		if pid != 0 {
			return stopped, "ietd runs without targets"
		}
		return stopped, ""
	case pid == 0:
		// The kernel serves established sessions without ietd.
		return unknown, "ietd is not running but the kernel still exports targets"
	default:
		return unknown, fmt.Sprintf("partly exported (present: %s; missing: %s)", strings.Join(have, ", "), strings.Join(miss, ", "))
	}
}
