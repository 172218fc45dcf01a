package grouprun

// monitorNext runs the monitor op of resource idx, or ends the job
// healthy once every listed resource answered running.
func (r *Runs) monitorNext(j *job) {
	if j.idx >= len(j.g.Resources) {
		r.finish(j, Finished{Job: j.Job, OK: true})
		return
	}
	r.runOp(j, monitoring, OpMonitor)
}

// onMonitor judges one monitor run as a status run is judged: only
// "running" is healthy. A script that is missing, could not be run or
// timed out is a failure too: a check that cannot answer says nothing
// good about the resource, and a monitor that hangs (an NFS mount gone
// stale) is exactly the failure an admin wants to hear about.
func (r *Runs) onMonitor(j *job, res Result, token string) {
	if res.Running && !res.Missing && !res.Incomplete {
		j.idx++
		r.monitorNext(j)
		return
	}
	out := res.Output
	switch {
	case res.Missing:
		out = "no resource script"
	case res.Incomplete:
		out = "the monitor did not complete (timed out or could not run)"
	case out == "":
		out = "not running"
	}
	r.finish(j, Finished{Job: j.Job, Resource: token, Output: out})
}
