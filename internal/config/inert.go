package config

import (
	"path/filepath"

	"heartbeatd/internal/diag"
)

// inertDirective is a directive heartbeatd reads and checks but whose effect
// it does not carry out yet.
type inertDirective struct {
	name string
	// missing says what does not happen, for the finding.
	missing string
	// applies picks the lines concerned; nil means every line.
	applies func(Directive) bool
}

// notActedOn is the one list of directives that are accepted but not acted
// on. `heartbeatd check` reports every line using one (NotActedOn), so that
// "configuration OK" never hides that the daemon will ignore a line the
// admin relies on. When the daemon learns a directive, delete its entry.
var notActedOn = []inertDirective{
	{name: "respawn", missing: "the command is not started (heartbeatd runs no API clients; " +
		"the services of dopd and ipfail are built in)", applies: notBuiltIn},
	{name: "failfast", missing: "the command is not started (heartbeatd runs no API clients)", applies: notBuiltIn},
}

// notBuiltIn is true for a respawn or failfast line that runs neither dopd
// nor ipfail, whose services heartbeatd has built in.
func notBuiltIn(d Directive) bool {
	if len(d.Args) < 2 {
		return true
	}
	b := filepath.Base(d.Args[1])
	return b != "dopd" && b != "ipfail"
}

// NotActedOn returns one warning for every line of c whose directive
// heartbeatd accepts but does not act on in this version.
func (c *Config) NotActedOn() diag.List {
	var l diag.List
	for _, d := range c.Directives {
		for _, in := range notActedOn {
			if in.name == d.Name && (in.applies == nil || in.applies(d)) {
				l.Warnf(c.File, d.Line, "%s: accepted but not acted on by this version: %s", d.Name, in.missing)
			}
		}
	}
	return l
}
