package script

import (
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		output string
		want   bool
	}{
		// What the stock IPaddr wrapper prints (two blanks: $rsc_type is empty).
		{"INFO:  Running OK\n", true},
		{"INFO:  Resource is stopped\n", false},
		{"INFO: Running OK", true},
		{"INFO: Resource is stopped", false},
		// The lab's padummy script.
		{"running", true},
		{"stopped", false},
		{"not running", false},
		{"NOT Running", false},
		{"Not running", false},
		{"nOt  running", false}, // "not " then anything, then running
		{"OK", true},
		{"ok", false},        // OK is case-sensitive
		{"RUNNING", false},   // only R/r is bracketed
		{"is Running", true}, // capital R
		{"", false},
		{"\n\n", false},
		// Unsure must read as running (see status.go): bare and as drbddisk
		// prints it, where Heartbeat's glob would see the "not " of "cannot".
		{"may be running", true},
		{"cannot determine status, may be running (Unknown)", true},
		{"MAY BE RUNNING", true},
		// Heartbeat's glob quirks, kept.
		{"cannot tell, running", false}, // "not " inside "cannot"
		{"nothing running", true},       // "not" without a blank after it
		{"not\nrunning", true},          // the blank must be a space: no "not " here
		{"running\nnot ", true},         // "not " after running does not count
		{"apache is running (pid 42)\n", true},
		{"apache is not running\n", false},
		{"status: OK\nbut not running", false},
		{"noT running", false},
		{"runnin", false},
		{"a\x00b OK", true},
		{"not\x00 running", false}, // NULs vanish in command substitution
		{"Running\x00", true},
	}
	for _, tt := range tests {
		if got := Status(tt.output); got != tt.want {
			t.Errorf("Status(%q) = %v, want %v", tt.output, got, tt.want)
		}
	}
}

// The verdict over a stream must not depend on how it was cut into writes.
func TestStatusMatcherChunking(t *testing.T) {
	inputs := []string{
		"xx not yy running zz",
		"INFO:  Running OK\n",
		"cannot determine status, may be running (Unknown)",
		"aaaa OK",
		"Resource is stopped",
	}
	for _, in := range inputs {
		want := Status(in)
		for size := 1; size <= len(in); size++ {
			var m statusMatcher
			for i := 0; i < len(in); i += size {
				end := min(i+size, len(in))
				m.Write([]byte(in[i:end]))
			}
			if got := m.Running(); got != want {
				t.Errorf("%q in chunks of %d: %v, want %v", in, size, got, want)
			}
		}
	}
}

// A verdict word far past any line-length cap still counts.
func TestStatusLongOutput(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	if !Status(long + " running") {
		t.Error("running after 1 MiB not seen")
	}
	if Status(long + " not " + long + " running") {
		t.Error("not ... running 1 MiB apart not seen")
	}
}

// statusGlob is a direct, slow transcription of the shell case statement,
// plus our "may be running" rule, used to cross-check the streaming matcher.
func statusGlob(s string) bool {
	s = strings.ReplaceAll(s, "\x00", "")
	lower := []byte(s)
	for i, c := range lower {
		lower[i] = lowerASCII(c)
	}
	if strings.Contains(string(lower), mayBeRunning) {
		return true
	}
	for i := 0; i+4 <= len(s); i++ {
		if strings.EqualFold(s[i:i+3], "not") && s[i+3] == ' ' {
			rest := s[i+4:]
			if strings.Contains(rest, "Running") || strings.Contains(rest, "running") {
				return false
			}
		}
	}
	return strings.Contains(s, "Running") || strings.Contains(s, "running") || strings.Contains(s, "OK")
}

func FuzzStatus(f *testing.F) {
	for _, s := range []string{
		"INFO:  Running OK\n", "INFO:  Resource is stopped\n", "running", "stopped",
		"not running", "NOT Running", "cannot determine status, may be running (Unknown)",
		"running (Primary)", "stopped (Secondary)", "", "OK", "nOt\x00 ruNning",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Status(s), statusGlob(s); got != want {
			t.Fatalf("Status(%q) = %v, glob says %v", s, got, want)
		}
	})
}
