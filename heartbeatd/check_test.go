package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/fence"
)

// confdir copies files (name -> source path) into a temp dir; authkeys gets
// mode 0600 as an admin would give it.
func confdir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if name == "authkeys" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Seed 002's three files (testdata/seed002, copied verbatim from the seed
// article) must pass as either node, and so must the shipped examples.
func TestCheckAcceptsSeed002AndExamples(t *testing.T) {
	sets := map[string]map[string]string{
		"seed002":  {"ha.cf": "testdata/seed002/ha.cf", "authkeys": "testdata/seed002/authkeys", "haresources": "testdata/seed002/haresources"},
		"examples": {"ha.cf": "../ha.cf.example", "authkeys": "../authkeys.example", "haresources": "../haresources.example"},
	}
	for name, files := range sets {
		dir := confdir(t, files)
		for _, node := range []string{"node1", "node2"} {
			var out bytes.Buffer
			if code := check(&out, dir, node, false); code != 0 {
				t.Errorf("%s as %s: exit %d:\n%s", name, node, code, out.String())
			}
			if strings.Contains(out.String(), ": error:") {
				t.Errorf("%s as %s: error findings:\n%s", name, node, out.String())
			}
			if !strings.Contains(out.String(), "configuration OK for node "+node) {
				t.Errorf("%s as %s: no OK line:\n%s", name, node, out.String())
			}
		}
	}
}

func TestCheckRejectsWithFileAndLine(t *testing.T) {
	dir := confdir(t, map[string]string{"ha.cf": "testdata/seed002/ha.cf", "authkeys": "testdata/seed002/authkeys", "haresources": "testdata/seed002/haresources"})
	cases := []struct {
		name, file, body, want string
	}{
		{"unknown haresources node", "haresources", "node3 10.0.0.5\n", "haresources:1: error:"},
		{"local node not listed", "", "", "ha.cf"},
		{"authkeys readable", "authkeys", "auth 2\n2 sha1 NoOneKnowsIt\n", "Bad permissions on keyfile"},
		{"deadtime too small", "ha.cf", "keepalive 2\ndeadtime 3\nbcast eth0\nnode node1 node2\n", "ha.cf:2: error:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			for _, f := range []string{"ha.cf", "authkeys", "haresources"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				mode := os.FileMode(0o600)
				if f == c.file {
					b = []byte(c.body)
					if f == "authkeys" {
						mode = 0o644
					}
				}
				os.WriteFile(filepath.Join(d, f), b, mode)
			}
			node := "node1"
			if c.name == "local node not listed" {
				node = "node9"
			}
			var out bytes.Buffer
			if code := check(&out, d, node, false); code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out.String())
			}
			if !strings.Contains(out.String(), c.want) {
				t.Fatalf("output lacks %q:\n%s", c.want, out.String())
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	dir := confdir(t, map[string]string{"ha.cf": "testdata/seed002/ha.cf", "authkeys": "testdata/seed002/authkeys", "haresources": "testdata/seed002/haresources"})
	var out bytes.Buffer
	if code := check(&out, dir, "node2", true); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	var v struct {
		Node     string `json:"node"`
		OK       bool   `json:"ok"`
		Findings []struct {
			File, Severity, Message string
			Line                    int
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if v.Node != "node2" || !v.OK {
		t.Fatalf("%+v", v)
	}
	for _, f := range v.Findings {
		if f.Severity != "warning" || f.File == "" {
			t.Errorf("finding %+v", f)
		}
	}
}

// checkWith runs check as node1 on seed 002 with extra lines appended to
// ha.cf and haresources replaced when hr is not "".
func checkWith(t *testing.T, extra, hr string, asJSON bool) (string, int) {
	t.Helper()
	dir := confdir(t, map[string]string{"ha.cf": "testdata/seed002/ha.cf", "authkeys": "testdata/seed002/authkeys", "haresources": "testdata/seed002/haresources"})
	f, err := os.OpenFile(filepath.Join(dir, "ha.cf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(extra)
	f.Close()
	if hr != "" {
		os.WriteFile(filepath.Join(dir, "haresources"), []byte(hr), 0o644)
	}
	var out bytes.Buffer
	code := check(&out, dir, "node1", asJSON)
	return out.String(), code
}

// A line heartbeatd accepts but does not act on is never hidden behind a
// plain "configuration OK": it gets a warning naming it, and the verdict
// says how many there are. seed 002's ha.cf has 9 lines.
func TestCheckNotActedOn(t *testing.T) {
	out, code := checkWith(t, "respawn hacluster /usr/local/sbin/monitor\nfailfast hacluster /usr/local/sbin/monitor\n", "", false)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"/ha.cf:10: warning: respawn: accepted but not acted on by this version",
		"/ha.cf:11: warning: failfast: accepted but not acted on by this version",
		"configuration OK for node node1, but 2 line(s) are accepted and not acted on by this version",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "configuration OK for node node1\n") {
		t.Errorf("plain OK line despite ignored directives:\n%s", out)
	}
	out, _ = checkWith(t, "ping_group gw 10.0.0.1\nrespawn hacluster /usr/local/sbin/monitor\n", "", true)
	var v struct {
		OK         bool `json:"ok"`
		NotActedOn int  `json:"not_acted_on"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || !v.OK || v.NotActedOn != 1 {
		t.Errorf("JSON: %+v, %v\n%s", v, err, out)
	}
}

// ipfail is built in: its respawn line is acted on, check says what it
// does, and warns where it cannot work (no ping nodes, auto_failback
// legacy, which makes Heartbeat's ipfail exit).
func TestCheckIpfail(t *testing.T) {
	const ipfail = "respawn hacluster /usr/libexec/heartbeat/ipfail\n"
	cases := []struct {
		name, extra string
		want        []string
	}{
		{"works", "auto_failback off\nping 10.0.0.254\n" + ipfail, []string{
			"/ha.cf:12: note: ipfail: built in (the program is not started): the node that reaches fewer of the 1 ping node(s) gives its resources to the other, like hb_standby, 4s after",
			"configuration OK for node node1\n"}},
		{"no ping nodes", "auto_failback off\n" + ipfail, []string{"/ha.cf:11: warning: ipfail: no ping or ping_group line"}},
		{"legacy", "ping 10.0.0.254\n" + ipfail, []string{"/ha.cf:11: warning: ipfail: auto_failback legacy is incompatible"}},
		{"native directive", "auto_failback on\nping_group gw 10.0.0.1 10.0.0.2\nipfail yes\n", []string{"/ha.cf:12: note: ipfail: built in"}},
		{"turned off", "auto_failback on\n" + ipfail + "ipfail no\n", []string{"/ha.cf:11: note: respawn ipfail: not started, and the built-in ipfail is off"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := checkWith(t, c.extra, "", false)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "not acted on") {
				t.Errorf("ipfail reported as not acted on:\n%s", out)
			}
		})
	}
}

// drbddisk resources with neither fencing nor dopd draw Heartbeat's own
// warning; dopd counts only with its apiauth line, as Heartbeat needs it.
func TestCheckDRBDProtection(t *testing.T) {
	const unprotected = "/haresources:1: warning: shared disks are not protected: drbddisk::iscsi.config, drbddisk::iscsi.target.0 are DRBD disks"
	const noAPIAuth = "/ha.cf:10: warning: dopd is respawned but there is no 'apiauth dopd' line"
	dopd := "respawn hacluster /usr/lib/heartbeat/dopd\n"
	cases := []struct {
		name, extra, hr string
		want, notWant   []string
	}{
		{"seed 002", "", "", []string{unprotected}, nil},
		{"dopd", dopd + "apiauth dopd gid=haclient uid=hacluster\n", "", nil, []string{unprotected, noAPIAuth, "respawn: accepted but not acted on"}},
		{"dopd without apiauth", dopd, "", []string{noAPIAuth, unprotected}, nil},
		{"no drbddisk", "", "node1 10.0.0.5\n", nil, []string{"shared disks"}},
		{"fence device for the other node only", "stonith_host node2 null node1\n", "", []string{unprotected}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, _ := checkWith(t, c.extra, c.hr, false)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

// check asks the real plugins and agents what they take: the parameter
// count of a stonith_host line, the keys of a fence_agent line. Lines of
// the other node are left to that node's check.
func TestCheckFenceDevices(t *testing.T) {
	if _, err := os.Stat(fence.DefaultStonith); err != nil {
		t.Skipf("cluster-glue is not installed (tests/install-deps.sh): %v", err)
	}
	if _, err := os.Stat(filepath.Join(fence.DefaultAgentDir, "fence_dummy")); err != nil {
		t.Skipf("fence-agents is not installed (tests/install-deps.sh): %v", err)
	}
	out, code := checkWith(t, "stonith_host node1 apcmaster 10.0.0.3 apc\n"+ // 10
		"stonith_host node2 apcmaster 10.0.0.4\n"+ // 11: node2's
		"fence_agent * dummy status_file=/tmp/hbd-status bogus=1\n"+ // 12
		"stonith_host * hbdnosuchplugin x\n", // 13
		"", false)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"/ha.cf:10: error: stonith_host: plugin apcmaster takes 3 parameters, in this order: ipaddr login password; the line gives 2",
		"/ha.cf:12: error: fence_agent: fence_dummy has no parameter bogus",
		"/ha.cf:13: error: stonith_host: stonith plugin hbdnosuchplugin is not installed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "/ha.cf:11: error") || strings.Contains(out, "shared disks are not protected") ||
		strings.Contains(out, "stonith_host: accepted but not acted on") {
		t.Errorf("node2's line checked, or devices not seen:\n%s", out)
	}
	out, code = checkWith(t, "stonith_host node1 apcmaster 10.0.0.3 apc s3cret\nfence_agent node1 dummy status_file=/tmp/hbd-status\n", "", false)
	if code != 0 || strings.Contains(out, ": error:") || strings.Contains(out, "s3cret") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// A plugin that hangs makes check slow for at most the probe timeout.
func TestCheckDoesNotHang(t *testing.T) {
	if _, err := os.Stat(fence.DefaultStonith); err != nil {
		t.Skipf("cluster-glue is not installed (tests/install-deps.sh): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a stonith plugin needs root")
	}
	name := fmt.Sprintf("hbdhang-%d", os.Getpid())
	path := filepath.Join(fence.DefaultPluginDir, "external", name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\nsleep 1000\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	os.Chmod(path, 0o755)
	saved := fenceRunner.Timeout
	fenceRunner.Timeout = time.Second
	t.Cleanup(func() { fenceRunner.Timeout = saved })

	start := time.Now()
	out, _ := checkWith(t, "stonith_host * external/"+name+" x\n", "", false)
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("check took %v", took)
	}
	if want := "/ha.cf:10: warning: stonith_host: could not ask external/" + name + " for its parameters: stonith -t external/" + name + " -n: timed out"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
