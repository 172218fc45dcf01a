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
