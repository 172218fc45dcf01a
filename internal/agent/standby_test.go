package agent

import (
	"bytes"
	"strings"
	"testing"
)

// The paths of a standby helper that run no agent (the others replace the
// process's environment and stdin: internal/script tests them in helper
// processes).
func TestServeStandbyWithoutARequest(t *testing.T) {
	for _, c := range []struct {
		in, stderr string
		code       int
	}{
		{"", "", OK}, // the daemon closed the pipe: nothing to do
		{"{not json", "bad request", BadArgs},
		{strings.Repeat(" ", MaxRequest+1), "more than", BadArgs},
	} {
		var errb bytes.Buffer
		if code := ServeStandby(strings.NewReader(c.in), &errb); code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%.20q: exit %d, stderr %q; want %d, %q", c.in, code, errb.String(), c.code, c.stderr)
		}
	}
	if _, err := (Request{Agent: "IPaddr", Args: []string{strings.Repeat("x", MaxRequest)}}).Encode(); err == nil {
		t.Error("an oversized request was encoded: it could block on a full pipe")
	}
}
