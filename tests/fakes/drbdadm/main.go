// Command drbdadm is a test double for DRBD's drbdadm (drbd-utils), used only
// by heartbeatd's tests; it is never installed. It answers the subcommands the
// drbddisk agent and the peer outdater use with the text and exit codes of the
// real tool, keeping each resource's kernel state in a JSON file.
//
// Environment:
//
//	FAKE_DRBD_STATE    path of the JSON state file (required; see State)
//	FAKE_DRBD_VERSION  "8.4" or "9" (default "9"): selects output formats
//
// Facts taken from drbd-utils (user/v84/drbdsetup.c, user/v9/drbdsetup.c,
// user/v84/drbdadm_main.c, user/shared/shared_main.[ch]):
//
//   - `role`: 8.4 prints "Primary/Secondary" (local/peer, peer "Unknown"
//     while disconnected); 9 prints only the local role.
//   - `dstate`: "UpToDate/DUnknown" (local/peer) in both.
//   - drbdsetup's state-change errors print "OBJ: State change failed: (N)
//     TEXT" and exit 17 for SS_NO_UP_TO_DATE_DISK, 5 for
//     SS_LOWER_THAN_OUTDATED, 11 for the others; kernel errors print "OBJ:
//     Failure: (N) TEXT" and exit 10. OBJ is the minor in 8.4 and the
//     resource name in 9.
//   - drbdadm repeats a failing drbdsetup's code after "Command '...'
//     terminated with exit code N"; its own usage/config errors exit 1
//     (E_USAGE), with "'r9' not defined in your config (for this host)." or
//     "no resources defined!".
//   - `outdate` hides drbdsetup's stderr, returns 17 (primary) and 5
//     (inconsistent) as they are, and otherwise falls back to `drbdmeta
//     outdate`, which fails with 20 on an attached device.
package main

import (
	"fmt"
	"os"
	"strings"
)

const (
	exitUsage = 1  // E_USAGE
	exitExec  = 20 // E_EXEC_ERROR
)

// result is one invocation's output.
type result struct {
	stdout, stderr strings.Builder
	code           int
}

func (r *result) out(format string, args ...any) { fmt.Fprintf(&r.stdout, format+"\n", args...) }
func (r *result) err(format string, args ...any) { fmt.Fprintf(&r.stderr, format+"\n", args...) }

func main() {
	path := os.Getenv("FAKE_DRBD_STATE")
	if path == "" {
		fmt.Fprintln(os.Stderr, "fake drbdadm: FAKE_DRBD_STATE is not set")
		os.Exit(exitExec)
	}
	ls, err := openState(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake drbdadm:", err)
		os.Exit(exitExec)
	}
	r := run(&ls.State, versionFromEnv(os.Getenv("FAKE_DRBD_VERSION")), os.Args[1:])
	if err := ls.save(); err != nil {
		fmt.Fprintln(os.Stderr, "fake drbdadm: save state:", err)
		os.Exit(exitExec)
	}
	os.Stdout.WriteString(r.stdout.String())
	os.Stderr.WriteString(r.stderr.String())
	os.Exit(r.code)
}

// version is the kernel module generation whose output is imitated.
type version int

const (
	v84 version = 84
	v9  version = 9
)

func parseVersion(s string) (version, bool) {
	switch s {
	case "", "9", "9.0", "9.1", "9.2":
		return v9, true
	case "8.4", "84", "8":
		return v84, true
	}
	return 0, false
}

func versionFromEnv(s string) version {
	v, ok := parseVersion(s)
	if !ok {
		return v9
	}
	return v
}

// run executes one drbdadm command line against st.
func run(st *State, ver version, args []string) *result {
	r := &result{}
	st.Calls = append(st.Calls, strings.Join(args, " "))

	var cmd string
	var names []string
	force := false
	for _, a := range args {
		switch {
		case a == "--":
		case a == "--force" || a == "--overwrite-data-of-peer":
			force = true
		case strings.HasPrefix(a, "-"):
			// Other options (-v, --config ...) change nothing here.
		case cmd == "":
			cmd = a
		default:
			names = append(names, a)
		}
	}
	handler, known := commands[cmd]
	if cmd == "" {
		r.err("USAGE: drbdadm COMMAND [OPTION...] {all|RESOURCE...}")
		r.err("No command specified")
		r.code = exitUsage
		return r
	}
	if !known {
		r.err("drbdadm: Unknown command '%s'", cmd)
		r.code = exitUsage
		return r
	}
	if len(names) == 0 {
		r.err("USAGE: drbdadm %s [OPTION...] {all|RESOURCE...}", cmd)
		r.err("No resource names specified")
		r.code = exitUsage
		return r
	}
	if len(st.Resources) == 0 {
		r.err("no resources defined!")
		r.code = exitUsage
		return r
	}
	var targets []string
	for _, n := range names {
		if n == "all" {
			targets = st.names()
			break
		}
		if _, ok := st.Resources[n]; !ok {
			r.err("'%s' not defined in your config (for this host).", n)
			r.code = exitUsage
			return r
		}
		targets = append(targets, n)
	}
	for _, name := range targets {
		c := &call{st: st, ver: ver, r: r, cmd: cmd, name: name, res: st.Resources[name], force: force}
		code := c.injected()
		if code < 0 {
			code = handler(c)
		}
		// drbdadm returns the worst code of all resources it walked.
		if code > r.code {
			r.code = code
		}
		if code >= exitExec {
			break
		}
	}
	return r
}

// call is one subcommand applied to one resource.
type call struct {
	st    *State
	ver   version
	r     *result
	cmd   string
	name  string
	res   *Resource
	force bool
}

// injected applies a configured Failure, returning -1 when there is none.
func (c *call) injected() int {
	key := c.cmd + " " + c.name
	f := c.st.Fail[key]
	if f == nil {
		key = c.cmd
		f = c.st.Fail[key]
	}
	if f == nil {
		return -1
	}
	if f.Stdout != "" {
		c.r.stdout.WriteString(f.Stdout)
	}
	if f.Stderr != "" {
		c.r.stderr.WriteString(f.Stderr)
	}
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(c.st.Fail, key)
		}
	}
	return f.Exit
}

// obj is how drbdsetup names the object in its messages.
func (c *call) obj() string {
	if c.ver == v84 {
		return fmt.Sprint(c.res.Minor)
	}
	return c.name
}

// setupArgs is the drbdsetup command line drbdadm reports on failure.
func (c *call) setupArgs(sub string) string {
	if c.ver == v84 {
		return fmt.Sprintf("drbdsetup-84 %s %d", sub, c.res.Minor)
	}
	return fmt.Sprintf("drbdsetup %s %s", sub, c.name)
}

func (c *call) failed(sub string, code int) int {
	c.r.err("Command '%s' terminated with exit code %d", c.setupArgs(sub), code)
	return code
}

// notUp reports a command on a resource that is not configured in the
// kernel, as each version's drbdsetup does.
func (c *call) notUp(sub string) int {
	if c.ver == v84 {
		c.r.err("%d: Failure: (127) Device minor not allocated", c.res.Minor)
		c.r.err("additional info from kernel:")
		c.r.err("unknown minor")
	} else {
		switch sub {
		case "role":
			c.r.err("%s: Unknown resource", c.name)
		case "dstate":
			c.r.err("%d: No such device", c.res.Minor)
		case "cstate":
			c.r.err("%s: No such connection", c.name)
		default:
			c.r.err("%s: Failure: (158) Unknown resource", c.name)
		}
	}
	return c.failed(sub, 10)
}

// stateChangeFailed prints drbdsetup's SS_* refusal with its exit code.
func (c *call) stateChangeFailed(sub string, ss int, text string) int {
	c.r.err("%s: State change failed: (%d) %s", c.obj(), ss, text)
	code := 11
	switch ss {
	case -2: // SS_NO_UP_TO_DATE_DISK
		code = 17
	case -16: // SS_LOWER_THAN_OUTDATED
		code = 5
	case -4: // SS_NO_LOCAL_DISK
		code = 16
	}
	return c.failed(sub, code)
}

var connectedStates = map[string]bool{
	"Connected": true, "StartingSyncS": true, "StartingSyncT": true,
	"WFBitMapS": true, "WFBitMapT": true, "WFSyncUUID": true,
	"SyncSource": true, "SyncTarget": true, "PausedSyncS": true, "PausedSyncT": true,
	"VerifyS": true, "VerifyT": true, "Ahead": true, "Behind": true,
}

func (c *call) connected() bool { return connectedStates[c.res.CState] }

// peerRole and peerDisk are what the local node knows of its peer: nothing
// while disconnected.
func (c *call) peerRole() string {
	if !c.connected() {
		return "Unknown"
	}
	return c.res.PeerRole
}

func (c *call) peerDisk() string {
	if !c.connected() {
		return "DUnknown"
	}
	return c.res.PeerDisk
}

var commands = map[string]func(*call) int{
	"role": func(c *call) int {
		if !c.res.Up {
			return c.notUp("role")
		}
		if c.ver == v84 {
			c.r.out("%s/%s", c.res.Role, c.peerRole())
		} else {
			c.r.out("%s", c.res.Role)
		}
		return 0
	},
	"dstate": func(c *call) int {
		if !c.res.Up {
			return c.notUp("dstate")
		}
		c.r.out("%s/%s", c.res.Disk, c.peerDisk())
		return 0
	},
	"cstate": func(c *call) int {
		if !c.res.Up {
			return c.notUp("cstate")
		}
		c.r.out("%s", c.res.CState)
		return 0
	},
	"sh-minor": func(c *call) int {
		c.r.out("%d", c.res.Minor)
		return 0
	},
	"sh-dev": func(c *call) int {
		c.r.out("/dev/drbd%d", c.res.Minor)
		return 0
	},
	"primary":   primary,
	"secondary": secondary,
	"outdate":   outdate,
	"up": func(c *call) int {
		if c.res.Up {
			return 0
		}
		c.res.Up = true
		c.res.Role = "Secondary"
		if c.res.CState == "" || c.res.CState == "StandAlone" {
			c.res.CState = "Connecting"
			if c.ver == v84 {
				c.res.CState = "WFConnection"
			}
		}
		return 0
	},
	"down": func(c *call) int {
		if !c.res.Up {
			return 0
		}
		if c.res.Open {
			return c.stateChangeFailed("down", -12, "Device is held open by someone")
		}
		c.res.Up = false
		c.res.Role = "Secondary"
		c.res.CState = "StandAlone"
		return 0
	},
}

// primary follows the order of the kernel's is_valid_state checks that
// matter for a two-node setup.
func primary(c *call) int {
	res := c.res
	if !res.Up {
		return c.notUp("primary")
	}
	if res.Role == "Primary" {
		return 0 // SS_NOTHING_TO_DO
	}
	if !res.TwoPrimaries && c.connected() && res.PeerRole == "Primary" {
		return c.stateChangeFailed("primary", -1, "Multiple primaries not allowed by config")
	}
	goodData := res.Disk == "UpToDate" ||
		(res.Disk == "Diskless" && c.connected() && res.PeerDisk == "UpToDate")
	if !goodData {
		forceable := res.Disk == "Outdated" || res.Disk == "Inconsistent" || res.Disk == "Consistent"
		if !(c.force && forceable) {
			return c.stateChangeFailed("primary", -2, "Need access to UpToDate data")
		}
		// --force declares the local data good: it becomes UpToDate.
		res.Disk = "UpToDate"
	}
	res.Role = "Primary"
	return 0
}

func secondary(c *call) int {
	if !c.res.Up {
		return c.notUp("secondary")
	}
	if c.res.Role == "Secondary" {
		return 0
	}
	if c.res.Open {
		return c.stateChangeFailed("secondary", -12, "Device is held open by someone")
	}
	c.res.Role = "Secondary"
	return 0
}

// outdate is adm_outdate: drbdsetup outdate with stderr hidden, then drbdmeta
// outdate for anything but 17 and 5.
func outdate(c *call) int {
	res := c.res
	// drbdsetup outdate on a resource that is down fails with 10 and on a
	// connected one with 11 (SS_CONNECTED_OUTDATES); both go on to drbdmeta.
	if res.Up {
		switch {
		case res.Disk == "Outdated":
			return 0
		case res.Role == "Primary":
			return 17 // SS_NO_UP_TO_DATE_DISK: a primary cannot be outdated
		case res.Disk == "Inconsistent" || res.Disk == "Diskless" || res.Disk == "Failed":
			return 5 // SS_LOWER_THAN_OUTDATED
		case c.connected():
		default:
			res.Disk = "Outdated"
			return 0
		}
	}
	// drbdmeta works on the backing device's metadata only while detached.
	if res.Up {
		c.r.err("Device '%d' is configured!", res.Minor)
		c.r.err("Command 'drbdmeta %d v08 /dev/fake internal outdate' terminated with exit code 20", res.Minor)
		return exitExec
	}
	if res.Disk == "Inconsistent" {
		return 5
	}
	res.Disk = "Outdated"
	return 0
}
