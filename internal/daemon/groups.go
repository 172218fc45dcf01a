package daemon

import (
	"context"
	"errors"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/agent"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/script"
)

// groupExec runs the resource manager's group operations. Inside a group the
// order is strict (script does that); between groups, operations run in
// parallel when the groups share no resource, which is where heartbeatd's
// failover beats Heartbeat's one-child-at-a-time ResourceManager. Operations
// on groups that share something keep the order in which rm asked for them.
type groupExec struct {
	runner  *script.Runner
	groups  map[string]haresources.Group
	running map[string]bool
	queue   []groupJob
	done    chan groupResult
}

// groupJob is one queued group operation; peer is rm.StartGroup's
// TakeoverFrom for a start, rm.StopGroup's KeptBy for a stop.
// An opAnnounce job runs the start of one address resource (res) of a
// group held here again, for its gratuitous ARP burst: queued like the
// group's start and stop, it never overlaps them.
type groupJob struct {
	key, op, peer string
	res           haresources.Resource
}

// opAnnounce is the re-announcement's op (node.Announce).
const opAnnounce = "announce"

type groupResult struct {
	key string
	rm.GroupDone
}

func newGroupExec(r *script.Runner, groups map[string]haresources.Group) *groupExec {
	return &groupExec{runner: r, groups: groups, running: map[string]bool{}, done: make(chan groupResult, 16)}
}

func (e *groupExec) submit(key, op, peer string) {
	e.queue = append(e.queue, groupJob{key: key, op: op, peer: peer})
	e.kick()
}

func (e *groupExec) submitAnnounce(key string, res haresources.Resource) {
	e.queue = append(e.queue, groupJob{key: key, op: opAnnounce, res: res})
	e.kick()
}

func (e *groupExec) finished(key string) { delete(e.running, key) }

// kick starts every queued job that conflicts neither with a running one nor
// with an earlier queued one.
func (e *groupExec) kick() {
	var blocked []haresources.Group
	kept := e.queue[:0]
	for _, j := range e.queue {
		g, ok := e.groups[j.key]
		if !ok {
			// rm only names groups from haresources; a stale key after a
			// reload is answered as done so rm does not wait for ever.
			go func(j groupJob) {
				e.done <- groupResult{j.key, rm.GroupDone{Key: j.key, Op: j.op, OK: j.op == "stop"}}
			}(j)
			continue
		}
		if e.conflicts(g, blocked) {
			kept = append(kept, j)
			blocked = append(blocked, g)
			continue
		}
		e.running[j.key] = true
		go e.run(g, j)
	}
	e.queue = kept
}

func (e *groupExec) conflicts(g haresources.Group, blocked []haresources.Group) bool {
	for k := range e.running {
		if k == g.Key || haresources.Shares(e.groups[k], g) {
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

func (e *groupExec) run(g haresources.Group, j groupJob) {
	op := j.op
	res := rm.GroupDone{Key: g.Key, Op: op, OK: true}
	var err error
	if op == opAnnounce {
		ctx, cancel := clock.WithTimeout(context.Background(), e.runner.Clock, time.Minute)
		// Failures are logged by the runner; the address stays
		// configured, only the announcement may have failed.
		e.runner.Run(ctx, j.res, "start")
		cancel()
		e.done <- groupResult{g.Key, res}
		return
	}
	if op == "start" {
		var env []string
		if j.peer != "" {
			env = append(env, agent.EnvTakeoverFrom+"="+j.peer)
		}
		err = e.runner.StartGroup(context.Background(), g, env...)
	} else {
		var env []string
		if j.peer != "" {
			env = append(env, agent.EnvReleaseTo+"="+j.peer)
		}
		err = e.runner.StopGroup(context.Background(), g, env...)
	}
	if err != nil {
		res.OK = false
		var stopF *script.StopFailure
		var startF *script.StartFailure
		switch {
		case errors.As(err, &stopF):
			res.Fatal, res.Resource = true, stopF.Resource
		case errors.As(err, &startF):
			res.Resource = startF.Resource
			if startF.Release != nil {
				// The group could not even be released after its failed
				// start: treat it like a failed stop, it may be half up.
				res.Fatal = true
			}
		}
	}
	e.done <- groupResult{g.Key, res}
}
