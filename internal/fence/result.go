package fence

import (
	"fmt"
	"strings"
	"time"
)

// Outcome is how a fence operation ended.
type Outcome int

const (
	// OK: the program exited 0 (for a reset: the device reports the node
	// reset or powered off).
	OK Outcome = iota
	// Failed: the program ran and exited non-zero (Result.RC), was killed
	// by a signal it did not get from us, or could not be started.
	Failed
	// TimedOut: the deadline passed; the process group was killed.
	TimedOut
	// NotInstalled: the stonith program, the plugin or the agent is
	// missing.
	NotInstalled
	// Canceled: the context was canceled (shutdown) before the program
	// finished; the process group was killed.
	Canceled
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case TimedOut:
		return "timed out"
	case NotInstalled:
		return "not installed"
	case Canceled:
		return "canceled"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Result is what one fence operation did.
type Result struct {
	Outcome Outcome
	// RC is the exit status, -1 when the program did not exit by itself.
	RC int
	// Command is what ran, for the log, without parameter values.
	Command string
	// Stdout and Stderr are the program's output, each cut at the Runner's
	// MaxOutput (Truncated says so). cluster-glue's stonith writes its own
	// complaints to syslog (ident "stonith") when its stdin is not a
	// terminal; what its plugin writes to stderr lands here.
	Stdout, Stderr string
	Truncated      bool
	Elapsed        time.Duration
	// Err says why the program did not run or did not finish, or what its
	// exit status means; nil when Outcome is OK.
	Err error
	// stonith is true for cluster-glue's stonith, whose exit codes are the
	// S_* codes of stonith.h.
	stonith bool
}

// OK reports whether the operation succeeded.
func (r Result) OK() bool { return r.Outcome == OK }

// Output is stdout and stderr together, trimmed, for a log line.
func (r Result) Output() string {
	out := strings.TrimSpace(r.Stdout)
	if e := strings.TrimSpace(r.Stderr); e != "" {
		if out != "" {
			out += "\n"
		}
		out += e
	}
	if r.Truncated {
		out += "\n[output truncated]"
	}
	return out
}

// String renders the result for one log line, without the output:
// "stonith -t apcmaster -p (3 values) -T reset node2: failed: exit 5
// (S_RESETFAIL: reset failed) after 1.2s".
func (r Result) String() string {
	s := r.Command + ": " + r.Outcome.String()
	switch {
	case r.Outcome == Failed && r.RC > 0:
		s += fmt.Sprintf(": exit %d", r.RC)
		if m := r.meaning(); m != "" {
			s += " (" + m + ")"
		}
	case r.Err != nil:
		s += ": " + r.Err.Error()
	}
	if r.Elapsed > 0 {
		s += " after " + r.Elapsed.Round(time.Millisecond).String()
	}
	return s
}

// S_* exit codes of cluster-glue's stonith (include/stonith/stonith.h).
const (
	sBADCONFIG = 1
	sACCESS    = 2
	sINVAL     = 3
	sBADHOST   = 4
	sRESETFAIL = 5
	sTIMEOUT   = 6
	sISOFF     = 7
	sOOPS      = 8
)

var stonithCodes = map[int]string{
	sBADCONFIG: "S_BADCONFIG: bad configuration: wrong parameters or unreadable file",
	sACCESS:    "S_ACCESS: cannot reach the device, or the login was refused",
	sINVAL:     "S_INVAL: invalid argument, or the parameters were not accepted",
	sBADHOST:   "S_BADHOST: the device does not control this node",
	sRESETFAIL: "S_RESETFAIL: reset failed",
	sTIMEOUT:   "S_TIMEOUT: the device did not answer in time",
	sISOFF:     "S_ISOFF: the outlet is off",
	sOOPS:      "S_OOPS: internal error or unknown device type",
}

// fence-agents' exit codes (fencing.py EC_*).
var agentCodes = map[int]string{
	1:  "generic error",
	2:  "bad arguments, or (status) the plug is off",
	3:  "login denied",
	4:  "connection lost",
	5:  "timed out",
	6:  "timed out waiting for power on",
	7:  "timed out waiting for power off",
	8:  "cannot get the status",
	9:  "cannot get the status (HMC)",
	10: "password missing",
	11: "invalid privileges",
	12: "cannot find the virtual machine",
}

// meaning describes the exit status, or "".
func (r Result) meaning() string {
	if r.stonith {
		return stonithCodes[r.RC]
	}
	return agentCodes[r.RC]
}
