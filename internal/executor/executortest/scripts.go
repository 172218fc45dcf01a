// Package executortest has a fake of the executor's Scripts, so that tests
// of the shell fork no scripts.
package executortest

import (
	"context"
	"strings"
	"sync"

	"heartbeatd/haresources"
	"heartbeatd/internal/script"
)

// Scripts stands in for script.Runner: it keeps which resources run
// and journals every op with the environment the executor gave it.
type Scripts struct {
	mu sync.Mutex
	// Up: which resources run (by Raw); start and stop change it.
	Up      map[string]bool
	journal []string
	// Checks: the resources (by Raw) whose start checks for itself.
	Checks map[string]bool
}

// StartChecks: see script.Runner.StartChecks.
func (f *Scripts) StartChecks(res haresources.Resource) bool { return f.Checks[res.Raw] }

// RunOp journals the op; it always succeeds.
func (f *Scripts) RunOp(_ context.Context, res haresources.Resource, op string, env []string) script.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Up == nil {
		f.Up = map[string]bool{}
	}
	f.journal = append(f.journal, strings.TrimSpace(op+" "+res.Raw+" "+strings.Join(env, " ")))
	switch op {
	case "start":
		f.Up[res.Raw] = true
	case "stop":
		f.Up[res.Raw] = false
	}
	return script.Result{ExitCode: 0, Running: f.Up[res.Raw]}
}

// Ops is the journal: "OP RAW ENV...", in order.
func (f *Scripts) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.journal...)
}
