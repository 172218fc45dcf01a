package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"heartbeatd/haresources"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/executor/executortest"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/node"
	"heartbeatd/internal/script"
)

// The executor passes the node's peer names to the scripts (only for the
// run the node named them for) and reports each run with its ID.
func TestExecutorPassesPeersAndReportsResults(t *testing.T) {
	fs := &executortest.Scripts{}
	e := &Executor{Scripts: fs, Done: make(chan node.Event, 4)}
	res := haresources.Resource{Script: "IPaddr", Args: []string{"10.0.0.1"}, Raw: "10.0.0.1"}
	e.Run(grouprun.Run{ID: 7, Kind: grouprun.Start, Resource: res, Op: grouprun.OpStart, TakeoverFrom: "n2"})
	if d := (<-e.Done).(node.ScriptDone); d.ID != 7 || d.Exit != 0 || !d.Running || d.Missing || d.Incomplete {
		t.Errorf("start reported %+v", d)
	}
	e.Run(grouprun.Run{ID: 8, Kind: grouprun.Stop, Resource: res, Op: grouprun.OpStop, ReleaseTo: "n2"})
	<-e.Done
	e.Run(grouprun.Run{ID: 9, Kind: grouprun.Start, Resource: res, Op: grouprun.OpStatus})
	if d := (<-e.Done).(node.ScriptDone); d.ID != 9 || d.Running {
		t.Errorf("status reported %+v", d)
	}
	want := []string{"start 10.0.0.1 HA_TAKEOVER_FROM=n2", "stop 10.0.0.1 HA_RELEASE_TO=n2", "status 10.0.0.1"}
	if got := fs.Ops(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ops %q, want %q", got, want)
	}
}

// The status before a start is answered "stopped" without a run when the
// resource's start checks for itself; every other status runs: before
// the start of a resource that does not, and after a failed stop (a Stop
// job's status decides between a retry and a reboot).
func TestExecutorLeavesOutStatusBeforeSelfCheckingStart(t *testing.T) {
	fs := &executortest.Scripts{Checks: map[string]bool{"10.0.0.1": true}, Up: map[string]bool{"10.0.0.1": true}}
	e := &Executor{Scripts: fs, Done: make(chan node.Event, 4)}
	ip := haresources.Resource{Script: "IPaddr", Args: []string{"10.0.0.1"}, Raw: "10.0.0.1"}
	db := haresources.Resource{Script: "mysql", Raw: "mysql"}
	e.Run(grouprun.Run{ID: 1, Kind: grouprun.Start, Resource: ip, Op: grouprun.OpStatus})
	// Answered before run returns: the loop reads it without sleeping.
	select {
	case ev := <-e.Done:
		if d := ev.(node.ScriptDone); d.ID != 1 || d.Running || d.Exit != 0 || d.Missing || d.Incomplete {
			t.Errorf("left-out status reported %+v, want a clean stopped", d)
		}
	default:
		t.Fatal("the left-out status was not answered before run returned")
	}
	e.Run(grouprun.Run{ID: 2, Kind: grouprun.Start, Resource: db, Op: grouprun.OpStatus})
	<-e.Done
	e.Run(grouprun.Run{ID: 3, Kind: grouprun.Stop, Resource: ip, Op: grouprun.OpStatus})
	if d := (<-e.Done).(node.ScriptDone); d.ID != 3 || !d.Running {
		t.Errorf("a stop's status must run: %+v", d)
	}
	want := []string{"status mysql", "status 10.0.0.1"}
	if got := fs.Ops(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ops %q, want %q", got, want)
	}
}

// A script that cannot be found or run is reported as such, so the node
// can tell "missing" (a typo: stopped) from "did not finish" (unknown).
func TestExecutorReportsMissingAndIncomplete(t *testing.T) {
	r := &script.Runner{Dirs: []string{t.TempDir()}}
	e := &Executor{Scripts: r, Done: make(chan node.Event, 1)}
	e.Run(grouprun.Run{ID: 1, Resource: haresources.Resource{Script: "nosuch", Raw: "nosuch"}, Op: grouprun.OpStop})
	if d := (<-e.Done).(node.ScriptDone); !d.Missing || !d.Incomplete || d.Exit != -1 {
		t.Errorf("missing script reported %+v", d)
	}
}

// drbdadm outdate runs for the peer with the resource as its one argument;
// its exit status and output go back to the node.
func TestExecutorRunsDrbdadmOutdate(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "drbdadm")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\"\nexit 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Executor{Drbdadm: fake, Clock: clock.Real{}, Done: make(chan node.Event, 1)}
	e.Outdate(node.RunOutdate{Origin: "n2", Resource: "r0"})
	d := (<-e.Done).(node.CommandDone)
	if d.Origin != "n2" || d.Resource != "r0" || d.Exit != 5 || strings.TrimSpace(d.Output) != "outdate r0" {
		t.Errorf("reported %+v", d)
	}
}
