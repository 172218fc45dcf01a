package fence

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

// Validate runs the real stonith program and the real agents' metadata:
// one device per row, with the findings it must produce (substrings, in
// order) or none.
func TestValidate(t *testing.T) {
	if _, err := os.Stat(DefaultStonith); err != nil {
		t.Skipf("cluster-glue's stonith is not installed: %v", err)
	}
	for _, agent := range []string{"fence_dummy", "fence_virsh"} {
		if _, err := os.Stat(filepath.Join(DefaultAgentDir, agent)); err != nil {
			t.Skipf("fence-agents is not installed: %v", err)
		}
	}
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	good := write("good", "# apc\n10.0.0.3 apc s3cret\n", 0o600)
	short := write("short", "\n#x\n10.0.0.3 apc\n", 0o600)
	open := write("open", "10.0.0.3 apc s3cret\n", 0o644)
	empty := write("empty", "# nothing\n\n", 0o600)

	host := func(typ, params string) config.FenceDevice {
		return config.FenceDevice{Host: "*", Kind: config.FenceStonithParams, Type: typ, Params: params, Directive: "stonith_host", Line: 4}
	}
	file := func(typ, path string) config.FenceDevice {
		return config.FenceDevice{Host: "*", Kind: config.FenceStonithFile, Type: typ, File: path, Directive: "stonith", Line: 4}
	}
	agent := func(name string, kv ...string) config.FenceDevice {
		d := config.FenceDevice{Host: "*", Kind: config.FenceAgent, Type: name, Directive: "fence_agent", Line: 4}
		for _, s := range kv {
			k, v, _ := strings.Cut(s, "=")
			d.Args = append(d.Args, config.FenceArg{Key: k, Value: v})
		}
		return d
	}
	cases := []struct {
		name string
		dev  config.FenceDevice
		want []string
	}{
		{"apcmaster complete", host("apcmaster", "10.0.0.3 apc s3cret"), nil},
		{"apcmaster short", host("apcmaster", "10.0.0.3 s3cret"),
			[]string{"ha.cf:4: error: stonith_host: plugin apcmaster takes 3 parameters, in this order: ipaddr login password; the line gives 2"}},
		{"apcmaster long", host("apcmaster", "10.0.0.3 apc s3cret extra"),
			[]string{"ha.cf:4: warning: stonith_host: plugin apcmaster takes 3 parameters (ipaddr login password) and the line gives 4: the last one, password, gets the rest"}},
		{"ssh hostlist takes the rest", host("external/ssh", "node1 node2 node3"), nil},
		{"missing plugin", host("hbdnosuch", "a"), []string{"ha.cf:4: error: stonith_host: stonith plugin hbdnosuch is not installed"}},
		{"missing external plugin", host("external/hbdnosuch", "a"), []string{"ha.cf:4: error: stonith_host: stonith plugin external/hbdnosuch is not installed"}},
		{"file good", file("apcmaster", good), nil},
		{"file short", file("apcmaster", short), []string{"ha.cf:4: error: stonith: plugin apcmaster takes 3 parameters, in this order: ipaddr login password; the first line of " + short + " gives 2"}},
		{"file readable by all", file("apcmaster", open), []string{"ha.cf:4: warning: stonith: CONFIGFILE " + open + " is readable by every user"}},
		{"file without parameters", file("apcmaster", empty), []string{"ha.cf:4: error: stonith: CONFIGFILE " + empty + " has no parameter line"}},
		{"file missing", file("apcmaster", filepath.Join(dir, "nope")), []string{"ha.cf:4: error: stonith: cannot read CONFIGFILE:"}},
		{"file relative", file("apcmaster", "nonexistent-hbd-file"),
			[]string{"ha.cf:4: warning: stonith: CONFIGFILE nonexistent-hbd-file is not an absolute path", "ha.cf:4: error: stonith: cannot read CONFIGFILE"}},
		{"dummy clean, dash spelling", agent("fence_dummy", "status-file=/tmp/x", "type=file"), nil},
		{"dummy unknown key", agent("fence_dummy", "passwrd=s3cret"),
			[]string{"ha.cf:4: error: fence_agent: fence_dummy has no parameter passwrd (`fence_dummy -o metadata` lists them); the agent would ignore it"}},
		// plug is required, but heartbeatd fills it with the node's name.
		{"virsh missing required", agent("fence_virsh", "password=s3cret"),
			[]string{"ha.cf:4: error: fence_agent: fence_virsh needs parameter ip (or ipaddr)", "ha.cf:4: error: fence_agent: fence_virsh needs parameter username (or login)"}},
		{"virsh old spellings", agent("fence_virsh", "ipaddr=10.0.0.1", "login=root", "identity_file=/root/.ssh/id"),
			[]string{"ha.cf:4: warning: fence_agent: fence_virsh parameter ipaddr is deprecated; write ip", "ha.cf:4: warning: fence_agent: fence_virsh parameter login is deprecated; write username"}},
		{"virsh complete", agent("fence_virsh", "ip=10.0.0.1", "username=root", "identity_file=/root/.ssh/id"), nil},
		{"missing agent", agent("fence_hbdnosuch"), []string{"ha.cf:4: error: fence_agent: fence agent fence_hbdnosuch is not installed"}},
	}
	r := Runner{Timeout: 30 * time.Second}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := r.Validate(timeout(t, 30*time.Second), "ha.cf", c.dev)
			if len(l) != len(c.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(l), len(c.want), strings.Join(strs(l), "\n"))
			}
			for i, f := range l {
				if !strings.HasPrefix(f.String(), c.want[i]) {
					t.Errorf("finding %d:\n got %s\nwant %s...", i, f, c.want[i])
				}
				if strings.Contains(f.String(), "s3cret") {
					t.Errorf("finding quotes a password: %s", f)
				}
			}
		})
	}
}

func strs(l diag.List) []string {
	var out []string
	for _, f := range l {
		out = append(out, f.String())
	}
	return out
}
