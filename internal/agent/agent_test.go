package agent

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEntryRunParsesThenDispatches(t *testing.T) {
	var ran []string
	e := Entry[string]{Name: "Demo", Usage: "Demo NAME {start|stop|status}",
		Parse: func(a []string) (string, error) {
			if len(a) != 1 {
				return "", errors.New("want one NAME")
			}
			return a[0], nil
		},
		Start:  func(s string, _ IO) int { ran = append(ran, "start "+s); return OK },
		Stop:   func(s string, _ IO) int { ran = append(ran, "stop "+s); return Failed },
		Status: func(s string, io IO) int { io.Printf("running"); return StatusRunning },
	}
	var out, errb bytes.Buffer
	io := IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if c := e.Run([]string{"x", "start"}, io); c != OK {
		t.Errorf("start: %d", c)
	}
	if c := e.Run([]string{"x", "stop"}, io); c != Failed {
		t.Errorf("stop: %d", c)
	}
	if c := e.Run([]string{"x", "status"}, io); c != StatusRunning || out.String() != "running\n" {
		t.Errorf("status: %d %q", c, out.String())
	}
	if strings.Join(ran, ",") != "start x,stop x" {
		t.Errorf("ran %q", ran)
	}
	for _, bad := range [][]string{{"x", "y", "start"}, {"x", "restart"}, nil} {
		errb.Reset()
		if c := e.Run(bad, io); c != BadArgs || !strings.Contains(errb.String(), "ERROR: usage: Demo NAME") || !strings.HasPrefix(errb.String(), "ERROR: Demo: ") {
			t.Errorf("%q: %d %q", bad, c, errb.String())
		}
	}
}

func TestEntryMonitorAndPrepare(t *testing.T) {
	var out, errb bytes.Buffer
	io := IO{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	var prepared []string
	e := Entry[string]{Name: "Demo", Usage: "Demo NAME {start|stop|status|monitor}",
		Parse: func(a []string) (string, error) {
			if len(a) != 1 {
				return "", errors.New("Demo " + strings.Join(a, " ") + ": want one NAME")
			}
			return a[0], nil
		},
		Prepare: func(s *string, op string, io IO) (int, bool) {
			prepared = append(prepared, op+" "+*s)
			if *s == "refused" {
				return NotInstalled, true
			}
			*s += "+"
			return OK, false
		},
		Start:   func(s string, _ IO) int { return OK },
		Stop:    func(s string, _ IO) int { return OK },
		Status:  func(s string, io IO) int { io.Printf("running"); return StatusRunning },
		Monitor: func(s string, io IO) int { return Unhealthy(io, "Demo", "sick "+s, "detail of "+s) },
	}
	if c := e.Run([]string{"x", "monitor"}, io); c != Failed || out.String() != "failed: sick x+\n" || errb.String() != "ERROR: Demo: sick x+: detail of x+\n" {
		t.Errorf("monitor: %d %q %q", c, out.String(), errb.String())
	}
	if c := e.Run([]string{"refused", "start"}, io); c != NotInstalled {
		t.Errorf("prepare's verdict: %d", c)
	}
	if strings.Join(prepared, ",") != "monitor x,start refused" {
		t.Errorf("prepared %q", prepared)
	}
	// An error that names the agent already is not prefixed twice.
	errb.Reset()
	if c := e.Run([]string{"a", "b", "stop"}, io); c != BadArgs || !strings.HasPrefix(errb.String(), "ERROR: Demo a b: want one NAME\n") {
		t.Errorf("bad args: %d %q", c, errb.String())
	}
	// Without Monitor, monitor is not an operation.
	e.Monitor = nil
	if c := e.Run([]string{"x", "monitor"}, io); c != BadArgs {
		t.Errorf("monitor without Monitor: %d", c)
	}
}

// A failure reason can never read as health to the status rule.
func TestUnhealthyNeverSaysRunning(t *testing.T) {
	for _, reason := range []string{"not running", "Running late", "OK-ish", "link down"} {
		var out, errb bytes.Buffer
		Unhealthy(IO{Stdout: &out, Stderr: &errb}, "Demo", reason, "")
		got := out.String()
		if strings.Contains(strings.ToLower(got), "running") || strings.Contains(got, "OK") || !strings.HasPrefix(got, "failed: ") {
			t.Errorf("%q printed %q", reason, got)
		}
	}
	var out bytes.Buffer
	if c := Absent(IO{Stdout: &out}); c != NotRunning || out.String() != "stopped\n" {
		t.Errorf("Absent: %d %q", c, out.String())
	}
	out.Reset()
	if c := Healthy(IO{Stdout: &out}); c != OK || out.String() != "running\n" {
		t.Errorf("Healthy: %d %q", c, out.String())
	}
}
