// Package drbddisk is the built-in drbddisk resource agent: it promotes a DRBD
// resource to Primary on start and demotes it on stop, like LINBIT's
// drbd-utils scripts/drbddisk that Heartbeat v1 clusters use
// (`drbddisk::r0` in haresources, before `Filesystem::/dev/drbd0::...`).
//
// Differences from the stock script, each for data safety:
//
//   - start refuses a local disk that is Outdated, Inconsistent or Diskless
//     (FIELD-NOTES row 8): promoting it would serve stale or half-synced
//     data, and with `--force` habits admins turn that into split brain;
//   - status with no resource name asks about all resources instead of
//     printing a message that Heartbeat reads as "stopped";
//   - a resource the kernel does not know (down) counts as stopped, by its
//     error text, without the stock script's /proc/drbd parsing (DRBD 9 has
//     no per-device lines there);
//   - monitor (heartbeatd's) is "running" only when the resource is
//     Primary here (every volume, for "all"); "stopped" (exit 7) when
//     none is; "failed: not Primary" (some volumes only) or "failed: role
//     unknown" (exit 1) otherwise;
//   - an unknown state prints "may be running: status unknown": the stock
//     "cannot determine status, may be running" contains "not " before
//     "running", so Heartbeat's status glob reads it as stopped.
package drbddisk

import (
	"fmt"
	"strings"
	"time"

	"heartbeatd/internal/agent"
)

func init() { agent.Register("drbddisk", Main) }

// Main is the agent entry point: args are [RESOURCE] then start|stop|status|monitor.
func Main(args []string, io agent.IO) int {
	return New(io.Getenv).Main(args, io)
}

// Result is what one drbdadm invocation produced.
type Result = agent.CommandResult

// Runner runs a program to completion. err is set only when it could not be
// run at all (not found, not executable).
type Runner func(name string, args ...string) (Result, error)

// Agent holds the drbddisk settings; New gives the production ones.
type Agent struct {
	// Drbdadm is the drbdadm program: $DRBDADM, else "drbdadm" in PATH.
	Drbdadm string
	Run     Runner
	Sleep   func(time.Duration)
	// StartTries and StopTries are the stock script's 6 and 3: start retries
	// "in case heartbeat deadtime was smaller than drbd ping time" (the
	// peer may still be seen as connected Primary for a few seconds).
	StartTries, StopTries int
	// Interval is the pause between tries (1 s in the stock script).
	Interval time.Duration
}

// New returns an Agent with the stock script's retry counts and interval.
func New(getenv func(string) string) *Agent {
	drbdadm := "drbdadm"
	if getenv != nil && getenv("DRBDADM") != "" {
		drbdadm = getenv("DRBDADM")
	}
	return &Agent{
		Drbdadm:    drbdadm,
		Run:        agent.RunCommand,
		Sleep:      time.Sleep,
		StartTries: 6,
		StopTries:  3,
		Interval:   time.Second,
	}
}

// Main runs one operation.
func (a *Agent) Main(args []string, io agent.IO) int {
	return agent.Entry[string]{Name: "drbddisk", Usage: "drbddisk [resource] {start|stop|status|monitor}",
		Parse: parseResource, Start: a.start, Stop: a.stop, Status: a.status, Monitor: a.monitor}.Run(args, io)
}

// parseResource: one DRBD resource name, or none for all of them.
func parseResource(rargs []string) (string, error) {
	switch len(rargs) {
	case 0:
		return "all", nil
	case 1:
		if res := rargs[0]; res != "" && !strings.HasPrefix(res, "-") {
			return res, nil
		}
		return "", fmt.Errorf("bad resource name %q", rargs[0])
	}
	return "", fmt.Errorf("too many arguments %q: want one resource name", rargs)
}

// drbdadm runs one drbdadm subcommand and logs a failure's output.
func (a *Agent) drbdadm(io agent.IO, args ...string) (Result, error) {
	r, err := a.Run(a.Drbdadm, args...)
	if err != nil {
		return r, fmt.Errorf("run %s: %w", a.Drbdadm, err)
	}
	return r, nil
}

// logOutput copies a drbdadm failure's text to stderr, line by line.
func logOutput(io agent.IO, what string, r Result) {
	for _, l := range lines(r.Stdout + r.Stderr) {
		io.Errorf("%s: %s", what, l)
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (a *Agent) start(res string, io agent.IO) int {
	if code := a.checkDisk(res, io); code != agent.OK {
		return code
	}
	tries := max(a.StartTries, 1)
	for try := 1; ; try++ {
		r, err := a.drbdadm(io, "primary", res)
		if err != nil {
			io.Errorf("drbddisk: %v", err)
			return agent.NotInstalled
		}
		if r.Code == 0 {
			io.Printf("drbddisk: %s is Primary", res)
			return agent.OK
		}
		logOutput(io, fmt.Sprintf("drbdadm primary %s (try %d of %d, exit %d)", res, try, tries, r.Code), r)
		if try >= tries {
			break
		}
		a.Sleep(a.Interval)
	}
	io.Errorf("drbddisk: could not make %s Primary after %d tries; if the peer is still Primary, stop it there first (a single-primary resource refuses a second Primary)", res, tries)
	return agent.Failed
}

// refusedDisk explains, per local disk state, why start will not promote.
var refusedDisk = map[string]string{
	"Outdated": "it is known to miss writes made on the peer; promoting it would serve stale data. " +
		"Start the resource on the peer, or reconnect and let it resync. Only if the peer's data is lost for good, " +
		"promote by hand with `drbdadm primary --force %s`",
	"Inconsistent": "it is being (or was never) synchronised and holds no usable data. " +
		"Wait until `drbdadm dstate %s` shows UpToDate, or start the resource on the peer",
	"Diskless":     "it has no local disk attached. Attach it (`drbdadm attach %s`) or start the resource on the peer",
	"Failed":       "its local disk has failed. Replace or re-attach it (`drbdadm attach %s`), or start the resource on the peer",
	"Attaching":    "its local disk is still attaching. Retry when `drbdadm dstate %s` shows UpToDate",
	"Negotiating":  "its local disk state is still being negotiated. Retry when `drbdadm dstate %s` shows UpToDate",
	"Unconfigured": "it is not configured in the kernel. Bring it up with `drbdadm up %s`",
}

// checkDisk refuses to start on a local disk whose data must not be served.
// `drbdadm dstate` prints one "local/peer[/peer...]" line per volume.
func (a *Agent) checkDisk(res string, io agent.IO) int {
	r, err := a.drbdadm(io, "dstate", res)
	if err != nil {
		io.Errorf("drbddisk: %v", err)
		return agent.NotInstalled
	}
	if r.Code != 0 {
		logOutput(io, fmt.Sprintf("drbdadm dstate %s (exit %d)", res, r.Code), r)
		io.Errorf("drbddisk: cannot read the disk state of %s; is it up (`drbdadm up %s`)?", res, res)
		return agent.Failed
	}
	states := lines(r.Stdout)
	if len(states) == 0 {
		io.Errorf("drbddisk: `drbdadm dstate %s` printed nothing; refusing to promote a disk of unknown state", res)
		return agent.Failed
	}
	for _, s := range states {
		local, _, _ := strings.Cut(s, "/")
		if why, bad := refusedDisk[local]; bad {
			io.Errorf("drbddisk: refusing to make %s Primary: local disk is %s: %s", res, local, fmt.Sprintf(why, res))
			return agent.Failed
		}
		if local != "UpToDate" && local != "Consistent" {
			// Consistent is left to the kernel: with fencing it asks the
			// fence-peer handler to outdate the peer before promoting.
			io.Errorf("drbddisk: refusing to make %s Primary: unrecognised local disk state %q", res, local)
			return agent.Failed
		}
	}
	return agent.OK
}

func (a *Agent) stop(res string, io agent.IO) int {
	tries := max(a.StopTries, 1)
	for try := 1; ; try++ {
		r, err := a.drbdadm(io, "secondary", res)
		if err != nil {
			io.Errorf("drbddisk: %v", err)
			return agent.NotInstalled
		}
		if r.Code == 0 {
			io.Printf("drbddisk: %s is Secondary", res)
			return agent.OK
		}
		logOutput(io, fmt.Sprintf("drbdadm secondary %s (try %d of %d, exit %d)", res, try, tries, r.Code), r)
		// A resource that is down cannot be Primary: stop has nothing to
		// do, and saying so avoids Heartbeat's reboot on a failed stop.
		if roles, known := a.roles(res); known && !anyPrimary(roles) {
			io.Printf("drbddisk: %s is not Primary (%s)", res, strings.Join(roles, ", "))
			return agent.OK
		}
		if try >= tries {
			break
		}
		a.Sleep(a.Interval)
	}
	io.Errorf("drbddisk: could not make %s Secondary after %d tries; if the device is held open, stop what uses it first (unmount the Filesystem on it)", res, tries)
	return agent.Failed
}

func anyPrimary(roles []string) bool {
	for _, r := range roles {
		if r == "Primary" {
			return true
		}
	}
	return false
}

// status prints fixed text only: Heartbeat greps stdout for "running" and
// "not running", so no drbdadm output may reach it.
func (a *Agent) status(res string, io agent.IO) int {
	roles, known := a.rolesLogged(res, io)
	switch {
	case known && anyPrimary(roles):
		io.Printf("running (Primary)")
		return agent.StatusRunning
	case known:
		io.Printf("stopped (%s)", strings.Join(roles, ", "))
		return agent.StatusStopped
	default:
		// Unknown counts as running so that, after a failed stop,
		// Heartbeat recovers (by reboot) instead of letting the peer
		// promote a device that may still be Primary here. Not the stock
		// "cannot determine status, may be running": Heartbeat's glob
		// *[Nn][Oo][Tt]\ *[Rr]unning* matches "cannot ... running" and
		// reads it as stopped.
		io.Printf("may be running: status unknown")
		return agent.StatusUnknown
	}
}

// monitor is healthy only when every volume of the resource is Primary
// here: a resource demoted or taken down under the running service (by
// hand, or by DRBD itself) leaves the file system above it without a
// writable device. None Primary is absent; an unreadable role is a failure,
// not health.
func (a *Agent) monitor(res string, io agent.IO) int {
	roles, known := a.rolesLogged(res, io)
	switch {
	case !known:
		return agent.Unhealthy(io, "drbddisk", "role unknown", "cannot read the role of "+res)
	case !anyPrimary(roles):
		return agent.Absent(io)
	}
	for _, r := range roles {
		if r != "Primary" {
			return agent.Unhealthy(io, "drbddisk", "not Primary", fmt.Sprintf("%s: roles %s", res, strings.Join(roles, ", ")))
		}
	}
	return agent.Healthy(io)
}

func (a *Agent) roles(res string) ([]string, bool) {
	return a.rolesLogged(res, agent.IO{Stdout: discard{}, Stderr: discard{}})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// rolesLogged returns each resource's local role ("Primary", "Secondary" or
// "Unconfigured"); known is false when any of them cannot be determined.
func (a *Agent) rolesLogged(res string, io agent.IO) (roles []string, known bool) {
	r, err := a.drbdadm(io, "role", res)
	if err != nil {
		io.Errorf("drbddisk: %v", err)
		return nil, false
	}
	if r.Code != 0 {
		if res != "all" && notConfigured(r.Stderr) {
			io.Errorf("drbddisk: %s is not configured in the kernel (down)", res)
			return []string{"Unconfigured"}, true
		}
		logOutput(io, fmt.Sprintf("drbdadm role %s (exit %d)", res, r.Code), r)
		return nil, false
	}
	ls := lines(r.Stdout)
	if len(ls) == 0 {
		io.Errorf("drbddisk: `drbdadm role %s` printed nothing", res)
		return nil, false
	}
	for _, l := range ls {
		// 8.4 prints "Local/Peer", 9 only "Local".
		local, _, _ := strings.Cut(l, "/")
		switch local {
		case "Primary", "Secondary", "Unconfigured":
			roles = append(roles, local)
		default:
			io.Errorf("drbddisk: unexpected role %q from `drbdadm role %s`", l, res)
			return nil, false
		}
	}
	return roles, true
}

// notConfigured recognises drbdsetup's answers for a resource the kernel
// does not know: 8.4 "Device minor not allocated" (ERR_MINOR_INVALID), 9
// "Unknown resource" (ERR_RES_NOT_KNOWN) or "No such resource".
func notConfigured(stderr string) bool {
	return strings.Contains(stderr, "Device minor not allocated") ||
		strings.Contains(stderr, "Unknown resource") ||
		strings.Contains(stderr, "No such resource")
}
