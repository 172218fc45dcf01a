package grouprun

import (
	"fmt"
	"sort"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/level"
)

// phase is where a job stands; each has one thing it waits for.
type phase int

const (
	// checking waits for the status run of resource idx before its start.
	checking phase = iota
	// starting waits for the start run of resource idx.
	starting
	// stopping waits for the stop run of resource idx.
	stopping
	// retryWait waits until wake to run resource idx's stop again.
	retryWait
	// verifying waits for the status run after the last failed stop.
	verifying
	// announcing waits for the announce's start run.
	announcing
	// monitoring waits for the monitor run of resource idx.
	monitoring
)

type job struct {
	Job
	g     haresources.Group
	phase phase
	idx   int // resource being worked on
	run   uint64
	tries int // stop runs of resource idx so far
	began time.Time
	wake  time.Time // retryWait only
	// rollback: this release follows a failed start of failed.
	rollback bool
	failed   string
}

// Runs schedules and carries out group jobs. Not safe for concurrent use.
type Runs struct {
	cfg     Config
	groups  map[string]haresources.Group
	queue   []*job
	running map[string]*job // by group key
	nextID  uint64
	now     time.Time
	out     []Action
}

// New returns an idle Runs.
func New(cfg Config) *Runs {
	if cfg.StopRetries == 0 {
		cfg.StopRetries = DefaultStopRetries
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.StopBudget == 0 {
		cfg.StopBudget = DefaultStopBudget
	}
	r := &Runs{cfg: cfg, running: map[string]*job{}}
	r.Reconfigure(cfg.Groups)
	return r
}

// Reconfigure replaces the groups (a reload). Jobs under way finish with
// the group they began with.
func (r *Runs) Reconfigure(groups []haresources.Group) {
	r.cfg.Groups = groups
	r.groups = make(map[string]haresources.Group, len(groups))
	for _, g := range groups {
		r.groups[g.Key] = g
	}
}

// Submit queues a job; it begins at once unless it conflicts with a job
// under way or queued before it.
func (r *Runs) Submit(now time.Time, j Job) []Action {
	r.begin(now)
	r.queue = append(r.queue, &job{Job: j})
	r.kick()
	return r.out
}

// Done hands over the executor's Result of a Run.
func (r *Runs) Done(now time.Time, res Result) []Action {
	r.begin(now)
	for _, j := range r.running {
		if j.run == res.ID && j.phase != retryWait {
			j.run = 0
			r.onResult(j, res)
			break
		}
	}
	r.kick()
	return r.out
}

// Tick runs the stop retries that are due.
func (r *Runs) Tick(now time.Time) []Action {
	r.begin(now)
	for _, k := range r.keys() {
		j := r.running[k]
		if j.phase == retryWait && !now.Before(j.wake) {
			r.logf(level.Info, "Retrying failed stop operation [%s]", j.g.Resources[j.idx].Raw)
			r.runOp(j, stopping, OpStop)
		}
	}
	return r.out
}

// NextWake is the earliest retry due, zero if none.
func (r *Runs) NextWake() time.Time {
	var w time.Time
	for _, j := range r.running {
		if j.phase == retryWait && (w.IsZero() || j.wake.Before(w)) {
			w = j.wake
		}
	}
	return w
}

// Idle: no job under way or queued.
func (r *Runs) Idle() bool { return len(r.running) == 0 && len(r.queue) == 0 }

// Busy reports the kind of the job under way for key, if any.
func (r *Runs) Busy(key string) (Kind, bool) {
	if j, ok := r.running[key]; ok {
		return j.Kind, true
	}
	return 0, false
}

func (r *Runs) begin(now time.Time) {
	r.now = now
	r.out = nil
}

func (r *Runs) emit(a Action) { r.out = append(r.out, a) }

func (r *Runs) logf(lv level.Level, format string, args ...any) {
	r.emit(Log{Level: lv, Text: fmt.Sprintf(format, args...)})
}

// keys lists the running jobs in a stable order, so that retries falling
// due together are run (and logged) the same way every time.
func (r *Runs) keys() []string {
	var ks []string
	seen := map[string]bool{}
	for _, g := range r.cfg.Groups {
		if _, ok := r.running[g.Key]; ok {
			ks = append(ks, g.Key)
			seen[g.Key] = true
		}
	}
	var rest []string
	for k := range r.running {
		if !seen[k] {
			rest = append(rest, k) // dropped by a reload while running
		}
	}
	sort.Strings(rest)
	return append(ks, rest...)
}

// kick begins every queued job that conflicts neither with one under way
// nor with one queued before it: between groups that share no resource,
// jobs run in parallel (where heartbeatd's failover beats Heartbeat's one
// child at a time); jobs on groups that share one keep the order they were
// asked in.
func (r *Runs) kick() {
	var blocked []haresources.Group
	kept := r.queue[:0]
	for _, j := range r.queue {
		g, ok := r.groups[j.Key]
		if !ok {
			// The resource manager only names groups from haresources; a
			// stale key after a reload is answered at once, so it does not
			// wait for ever. Nothing of it can be running: a stop is done.
			r.emit(Finished{Job: j.Job, OK: j.Kind == Stop})
			continue
		}
		if r.conflicts(g, blocked) {
			kept = append(kept, j)
			blocked = append(blocked, g)
			continue
		}
		j.g = g
		r.running[g.Key] = j
		r.start(j)
	}
	for i := len(kept); i < len(r.queue); i++ {
		r.queue[i] = nil
	}
	r.queue = kept
}

func (r *Runs) conflicts(g haresources.Group, blocked []haresources.Group) bool {
	for _, j := range r.running {
		if j.Key == g.Key || haresources.Shares(j.g, g) {
			return true
		}
	}
	for _, b := range blocked {
		if b.Key == g.Key || haresources.Shares(b, g) {
			return true
		}
	}
	return false
}

func (r *Runs) start(j *job) {
	switch j.Kind {
	case Start:
		r.logf(level.Info, "Acquiring resource group: %s", j.g)
		j.idx = 0
		r.check(j)
	case Stop:
		r.release(j)
	case Announce:
		j.g.Resources = []haresources.Resource{j.Resource}
		r.runOp(j, announcing, OpStart)
	case Monitor:
		j.g.Resources = j.Job.Resources
		j.idx = 0
		r.monitorNext(j)
	}
}

// check asks whether resource idx runs already (ResourceManager starts
// only the resources whose status does not say running), or ends the
// start when every resource is up. The shell may answer this status
// "stopped" without a run for an agent whose start checks for itself
// (daemon/exec.go): the start it leads to is then the same.
func (r *Runs) check(j *job) {
	if j.idx == len(j.g.Resources) {
		r.finish(j, Finished{Job: j.Job, OK: true})
		return
	}
	r.runOp(j, checking, OpStatus)
}

// release stops the group right to left.
func (r *Runs) release(j *job) {
	r.logf(level.Info, "Releasing resource group: %s", j.g)
	j.began = r.now
	j.idx = len(j.g.Resources) - 1
	j.tries = 0
	r.stopNext(j)
}

func (r *Runs) stopNext(j *job) {
	if j.idx < 0 {
		if j.rollback {
			r.finish(j, Finished{Job: j.Job, Resource: j.failed})
		} else {
			r.finish(j, Finished{Job: j.Job, OK: true})
		}
		return
	}
	j.tries = 0
	r.runOp(j, stopping, OpStop)
}

func (r *Runs) runOp(j *job, p phase, op Op) {
	r.nextID++
	j.run, j.phase = r.nextID, p
	if op == OpStop {
		j.tries++
	}
	run := Run{ID: j.run, Kind: j.Kind, Key: j.Key, Resource: j.g.Resources[j.idx], Op: op}
	switch {
	case j.Kind == Start && op == OpStart:
		run.TakeoverFrom = j.Peer
	case j.Kind == Stop:
		run.ReleaseTo = j.Peer
	}
	r.emit(run)
}

func (r *Runs) onResult(j *job, res Result) {
	token := j.g.Resources[j.idx].Raw
	switch j.phase {
	case monitoring:
		r.onMonitor(j, res, token)
	case announcing:
		// The address stays configured; only its announcement may have
		// failed, and the executor has logged that.
		r.finish(j, Finished{Job: j.Job, OK: !res.failed()})
	case checking:
		switch {
		case res.Missing || res.Incomplete:
			// Heartbeat has no timeouts and would go on to start; we
			// cannot tell whether it is already up, and starting a
			// second copy is the one thing worse than not starting it.
			r.startFailed(j, token)
		case res.Running:
			j.idx++
			r.check(j)
		default:
			r.runOp(j, starting, OpStart)
		}
	case starting:
		if res.failed() {
			r.startFailed(j, token)
			return
		}
		j.idx++
		r.check(j)
	case stopping:
		r.onStop(j, res, token)
	case verifying:
		if res.Missing || res.Incomplete || res.Running {
			r.logf(level.Crit, "Resource STOP failure. Reboot required!")
			r.finish(j, Finished{Job: j.Job, Fatal: true, Resource: r.failedName(j, token)})
			return
		}
		r.logf(level.Error, "Resource script for %s probably not LSB-compliant.", token)
		r.logf(level.Warn, "it (%s) MUST succeed on a stop when already stopped", token)
		r.logf(level.Warn, "Machine reboot narrowly avoided!")
		j.idx--
		r.stopNext(j)
	}
}

func (r *Runs) onStop(j *job, res Result, token string) {
	switch {
	case !res.failed():
		j.idx--
		r.stopNext(j)
	case res.Missing:
		// Nothing to stop with. Heartbeat ends up here too (its status
		// call runs nothing, prints nothing: stopped) and carries on;
		// treating it as a stop failure would turn a typo in haresources
		// into a reboot loop. A missing script will not appear by
		// waiting, so no retries either.
		r.logf(level.Warn, "Treating %s as stopped: it has no resource script", token)
		j.idx--
		r.stopNext(j)
	case res.Unkillable:
		// The stop is stuck in the kernel: retrying it, or asking status,
		// would hang the same way. The resource may well be active.
		r.logf(level.Crit, "Resource STOP failure. Reboot required!")
		r.finish(j, Finished{Job: j.Job, Fatal: true, Resource: r.failedName(j, token)})
	case j.tries <= r.cfg.StopRetries && r.withinBudget(j):
		j.phase, j.wake = retryWait, r.now.Add(r.cfg.RetryInterval)
	default:
		// Out of tries: status decides whether the resource is merely
		// not LSB-compliant (stopped after all) or still running.
		r.runOp(j, verifying, OpStatus)
	}
}

// failedName is the resource a fatal end names: after a failed start, the
// one whose start failed (the release is its consequence).
func (r *Runs) failedName(j *job, token string) string {
	if j.rollback {
		return j.failed
	}
	return token
}

// withinBudget: a retry begun after RetryInterval still starts inside the
// group's stop budget.
func (r *Runs) withinBudget(j *job) bool {
	if r.cfg.StopBudget < 0 {
		return true
	}
	return !r.now.Add(r.cfg.RetryInterval).After(j.began.Add(r.cfg.StopBudget))
}

func (r *Runs) startFailed(j *job, token string) {
	r.logf(level.Crit, "Giving up resources due to failure of %s", token)
	j.rollback, j.failed = true, token
	r.release(j)
}

func (r *Runs) finish(j *job, f Finished) {
	delete(r.running, j.Key)
	r.emit(f)
}
