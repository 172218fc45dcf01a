// Package diag holds the findings that configuration checks report: one
// problem, where it is (file and line), and how bad it is. Every parser in the
// project reports through this type so that `heartbeatd check` can print them
// in one format an admin (and an editor's quickfix list) understands.
package diag

import (
	"fmt"
	"strings"
)

// Severity says whether a finding stops the daemon from starting.
type Severity int

const (
	Warning Severity = iota
	Error
	// Note says what the daemon will do with a line whose effect an admin
	// may not expect (a Heartbeat client that heartbeatd has built in).
	Note
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Note:
		return "note"
	}
	return "warning"
}

// MarshalText makes Severity print as a word in JSON output.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Finding is one problem in one file. Line is 1-based; 0 means the finding is
// about the file as a whole (missing, bad permissions).
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String renders "FILE:LINE: error|warning: message" (LINE omitted when 0).
func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Severity, f.Message)
	}
	return fmt.Sprintf("%s: %s: %s", f.File, f.Severity, f.Message)
}

// List collects findings.
type List []Finding

// Errorf appends an error finding.
func (l *List) Errorf(file string, line int, format string, args ...any) {
	*l = append(*l, Finding{File: file, Line: line, Severity: Error, Message: fmt.Sprintf(format, args...)})
}

// Warnf appends a warning finding.
func (l *List) Warnf(file string, line int, format string, args ...any) {
	*l = append(*l, Finding{File: file, Line: line, Severity: Warning, Message: fmt.Sprintf(format, args...)})
}

// Notef appends a note: not a problem, what a line will do.
func (l *List) Notef(file string, line int, format string, args ...any) {
	*l = append(*l, Finding{File: file, Line: line, Severity: Note, Message: fmt.Sprintf(format, args...)})
}

// HasErrors reports whether any finding is an error.
func (l List) HasErrors() bool {
	for _, f := range l {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns nil when there is no error finding, else an error listing them.
func (l List) Err() error {
	var lines []string
	for _, f := range l {
		if f.Severity == Error {
			lines = append(lines, f.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}
