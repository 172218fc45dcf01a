package level

import "testing"

func TestParseAndSeverity(t *testing.T) {
	for in, want := range map[string]Level{"CRIT": Crit, "critical": Crit, "ERROR": Error, "err": Error,
		"WARN": Warn, "warning": Warn, "notice": Notice, "info": Info, "debug": Debug, "bogus": Info} {
		if got := Parse(in); got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
	if Crit.Severity() != 2 || Warn.Severity() != 4 || Info.Severity() != 6 || Debug.Severity() != 7 {
		t.Error("syslog severities")
	}
}
