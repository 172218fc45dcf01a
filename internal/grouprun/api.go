// Package grouprun is the pure part of running haresources groups: which
// script op comes next, what a failed, missing or timed-out script means,
// and which groups may run at the same time. It is the policy Heartbeat's
// ResourceManager script applies around each resource script (status
// before start, release of a half-started group, stop retries, "Reboot
// required!"), taken out of the executor so that a fake clock, the
// scenario files and the simulator reach it.
//
// The executor in the shell runs exactly one script op per Run action and
// reports it with a Result; Runs decides everything else. No I/O, no
// goroutines, no clock: time enters as now.
package grouprun

import (
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/level"
)

// Op is a resource script's action word.
type Op string

// The script ops Heartbeat's resource-script contract knows.
const (
	OpStart  Op = "start"
	OpStop   Op = "stop"
	OpStatus Op = "status"
	// OpMonitor is heartbeatd's periodic health check of a running
	// resource (ha.cf monitor_interval). The executor runs the built-in
	// agents' own monitor op, which checks more than presence, and
	// status for any other script; either is judged like status.
	OpMonitor Op = "monitor"
)

// Kind is what a job does to its group.
type Kind int

const (
	// Start acquires the group left to right.
	Start Kind = iota
	// Stop releases it right to left.
	Stop
	// Announce runs the start of one address resource of a group held
	// here again, for its gratuitous ARP burst after a heal. It is queued
	// like the group's start and stop, so it never overlaps them.
	Announce
	// Monitor runs the monitor op of the listed resources of a group held
	// here, left to right, and ends at the first that is not healthy. It
	// is queued like the other jobs, so it never overlaps a start or stop.
	Monitor
)

func (k Kind) String() string {
	switch k {
	case Start:
		return "start"
	case Stop:
		return "stop"
	case Monitor:
		return "monitor"
	}
	return "announce"
}

// Job is one group operation asked for by the resource manager (or, for
// Announce, by the node's re-announcement).
type Job struct {
	Kind Kind
	Key  string
	// Peer is the dead peer a start takes over from (HA_TAKEOVER_FROM) or
	// the live peer a stop hands over to (HA_RELEASE_TO); empty otherwise.
	Peer string
	// Resource is the address resource an Announce starts.
	Resource haresources.Resource
	// Resources are the ones a Monitor checks, in group order.
	Resources []haresources.Resource
}

// Config sets the policy.
type Config struct {
	Groups []haresources.Group
	// StopRetries is how many times a failed stop is retried
	// (HA_STOPRETRYMAX): 0 means DefaultStopRetries.
	StopRetries int
	// RetryInterval separates stop retries (ResourceManager's "sleep 1").
	RetryInterval time.Duration
	// StopBudget bounds the retries of one group's release: no retry is
	// begun that would start later than StopBudget after the release
	// began. 0 means DefaultStopBudget; negative, no bound beyond
	// StopRetries.
	StopBudget time.Duration
}

// Defaults for Config's zero values.
const (
	DefaultStopRetries   = 10 // HA_STOPRETRYMAX
	DefaultRetryInterval = time.Second
	// DefaultStopBudget keeps one group's release inside systemd's
	// TimeoutStopSec (15 min in our unit) even when every stop times out:
	// a last retry begun at 4 min runs at most script_timeout (5 min) plus
	// the kill and reap graces (10 s), and the status after it as long
	// again: 4 + 5.2 + 5.2 < 15 min. Heartbeat's 10 retries of a script
	// that times out would take about an hour.
	DefaultStopBudget = 4 * time.Minute
)

// Action is one output of Runs.
type Action interface{ isAction() }

// Run asks the executor for one script op: `SCRIPT ARGS… Op`. It answers
// with a Result carrying the same ID.
type Run struct {
	ID       uint64
	Kind     Kind // of the job the op belongs to
	Key      string
	Resource haresources.Resource
	Op       Op
	// TakeoverFrom and ReleaseTo go into the script's environment
	// (HA_TAKEOVER_FROM, HA_RELEASE_TO) for this run only.
	TakeoverFrom, ReleaseTo string
}

// Finished reports a job's end. For Start and Stop: OK false means the
// group did not start (and was released again unless Fatal) or did not
// stop; Fatal means a resource may still be running after every stop try
// (a failed stop, or the release after a failed start). Resource names the
// resource that failed, as written in haresources.
type Finished struct {
	Job      Job
	OK       bool
	Fatal    bool
	Resource string
	// Output is what the failed monitor op said (its first line), for the
	// "failed its monitor check" line.
	Output string
}

// Log is a line for the log, under the ResourceManager tag Heartbeat's
// own lines carry.
type Log struct {
	Level level.Level
	Text  string
}

func (Run) isAction()      {}
func (Finished) isAction() {}
func (Log) isAction()      {}

// Result is the executor's report of one Run.
type Result struct {
	ID uint64
	// Exit is the script's exit status; -1 when it did not run to
	// completion.
	Exit int
	// Running is Heartbeat's verdict on a status run's output.
	Running bool
	// Missing: no script to run (the resolver found none).
	Missing bool
	// Incomplete: the script did not run to completion (it could not be
	// started, or timed out and was killed). The executor has logged why.
	Incomplete bool
	// Unkillable: the script outlived SIGKILL (stuck in the kernel: a hung
	// umount, DRBD with I/O suspended). Implies Incomplete. A stop that
	// ends so is a stop failure at once: a retry or a status run would
	// hang the same way.
	Unkillable bool
	// Output is the op's first line of output, trimmed (for a monitor's
	// log line; the executor has logged the whole output already).
	Output string
}

// failed: the run counts as a failure for start or stop.
func (r Result) failed() bool { return r.Missing || r.Incomplete || r.Exit != 0 }
