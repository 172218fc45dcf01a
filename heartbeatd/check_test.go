package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
