package reload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const baseCF = `logfile /var/log/ha-log
keepalive 100ms
deadtime 600ms
warntime 300ms
initdead 3
udpport 694
bcast eth1 eth2
auto_failback on
node n1
node n2
`

func writeSet(t *testing.T, cf, hr string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"ha.cf": cf, "haresources": hr,
		"authkeys": "auth 1\n1 sha1 secret-one\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, dir string) *Set {
	t.Helper()
	s, l := Load(dir, "n1")
	if s == nil {
		t.Fatalf("load %s: %v", dir, l)
	}
	return s
}

func TestDiffClassifiesChanges(t *testing.T) {
	old := load(t, writeSet(t, baseCF, "n1 10.0.0.5/24/eth1 svc\n"))
	for _, tc := range []struct {
		name, cf, hr string
		check        func(Change) string
	}{
		{"nothing", baseCF, "n1 10.0.0.5/24/eth1 svc\n", func(c Change) string {
			if !c.Empty() {
				return "not empty: " + c.Summary()
			}
			return ""
		}},
		{"comment and order of media", "# note\n" + strings.Replace(baseCF, "bcast eth1 eth2", "bcast eth1\nbcast eth2", 1),
			"n1   10.0.0.5/24/eth1 svc # same\n", func(c Change) string {
				if !c.Empty() {
					return "not empty: " + c.Summary()
				}
				return ""
			}},
		{"warntime", strings.Replace(baseCF, "warntime 300ms", "warntime 400ms", 1), "n1 10.0.0.5/24/eth1 svc\n",
			func(c Change) string {
				if !c.Timings || len(c.Restart) > 0 || c.Logging {
					return "want timings only: " + c.Summary()
				}
				return ""
			}},
		{"medium added", strings.Replace(baseCF, "bcast eth1 eth2", "bcast eth1 eth2 eth3", 1), "n1 10.0.0.5/24/eth1 svc\n",
			func(c Change) string {
				if len(c.MediaAdded) != 1 || c.MediaAdded[0].Interface != "eth3" || len(c.MediaRemoved) != 0 {
					return "want eth3 added: " + c.Summary()
				}
				return ""
			}},
		{"auto_failback", strings.Replace(baseCF, "auto_failback on", "auto_failback off", 1), "n1 10.0.0.5/24/eth1 svc\n",
			func(c Change) string {
				if len(c.Restart) != 1 || !strings.HasPrefix(c.Restart[0], "auto_failback changed (") || !strings.HasSuffix(c.Restart[0], "ha.cf:8)") {
					return "want auto_failback needs restart at line 8: " + strings.Join(c.Restart, "; ")
				}
				return ""
			}},
		{"haresources", baseCF, "n1 10.0.0.5/24/eth1 svc other\n", func(c Change) string {
			if !c.Groups || len(c.Restart) > 0 {
				return "want groups: " + c.Summary()
			}
			return ""
		}},
	} {
		c := Diff(old, load(t, writeSet(t, tc.cf, tc.hr)))
		if msg := tc.check(c); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}

func TestLoadRejectsWhatStartupRejects(t *testing.T) {
	dir := writeSet(t, strings.Replace(baseCF, "deadtime 600ms", "deadtime 150ms", 1), "n3 svc\n")
	s, l := Load(dir, "n1")
	if s != nil {
		t.Fatal("invalid set accepted")
	}
	text := l.Err().Error()
	for _, want := range []string{filepath.Join(dir, "ha.cf") + ":3", filepath.Join(dir, "haresources") + ":1"} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %s:\n%s", want, text)
		}
	}
}

func TestAuthkeysChange(t *testing.T) {
	a, b := writeSet(t, baseCF, ""), writeSet(t, baseCF, "")
	os.WriteFile(filepath.Join(b, "authkeys"), []byte("auth 2\n1 sha1 secret-one\n2 sha1 secret-two\n"), 0o600)
	if c := Diff(load(t, a), load(t, b)); !c.Authkeys || len(c.Restart) > 0 {
		t.Fatalf("authkeys change: %+v", c)
	}
}

// Read is Load's reading (the same findings in the same order) but keeps
// the files that could be used when another one has errors, for
// `heartbeatd check`.
func TestReadKeepsWhatLoadRefuses(t *testing.T) {
	dir := writeSet(t, baseCF, "n1 10.0.0.5/24/eth1 svc\nn3 other\n")
	if err := os.Remove(filepath.Join(dir, "authkeys")); err != nil {
		t.Fatal(err)
	}
	s, lr := Read(dir, "n1")
	ls, ll := Load(dir, "n1")
	if ls != nil || !ll.HasErrors() {
		t.Fatalf("Load = %v, %v; want refusal", ls, ll)
	}
	if got, want := lr.Err().Error(), ll.Err().Error(); got != want {
		t.Errorf("Read findings\n%s\nLoad findings\n%s", got, want)
	}
	if s == nil || s.Cfg == nil || s.Hares == nil {
		t.Fatalf("Read = %+v; want ha.cf and haresources kept", s)
	}
	for _, want := range []string{"authkeys", `node "n3" of group "other" is not a node in ha.cf`} {
		if !strings.Contains(lr.Err().Error(), want) {
			t.Errorf("findings lack %q:\n%v", want, lr.Err())
		}
	}
}
