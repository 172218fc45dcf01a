package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"heartbeatd/internal/diag"
)

// addSeeds adds every testdata file matching pattern to the corpus.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files for %s: %v", pattern, err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkFindingLines asserts that every finding names the file and a line
// that exists in the input (0 = the file as a whole).
func checkFindingLines(t *testing.T, l diag.List, file string, data []byte) {
	t.Helper()
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, fd := range l {
		if fd.File != file || fd.Line < 0 || fd.Line > lines {
			t.Fatalf("finding outside the file (%d lines): %s", lines, fd)
		}
		if fd.Message == "" {
			t.Fatalf("finding without message: %s", fd)
		}
	}
}

func FuzzParseHACF(f *testing.F) {
	addSeeds(f, "*.ha.cf")
	f.Add([]byte(minimal + "udpport 700\nmcast eth1 239.0.0.1 694 1 0\nucast eth2 10.0.0.2\nserial /dev/ttyS0\nbaud 9600\n"))
	f.Add([]byte("keepalive 500ms\ndeadtime 0.5\ninitdead 2s\nnode A,B\ncrm on\n\x00\r\n"))
	f.Add([]byte(minimal + "stonith_host A external/ipmi b 10.0.0.2  x,y # c\nstonith null /etc/f g\n" +
		"fence_agent * ipmilan ip=1 a-b=2\nfence_delay 0\nfence_policy heartbeat\nfence_timeout 1ms\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, l := ParseHACF(bytes.NewReader(data), "ha.cf")
		if cfg == nil {
			t.Fatal("nil config")
		}
		checkFindingLines(t, l, "ha.cf", data)
		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 0
		for _, d := range cfg.Directives {
			if d.Line < prev || d.Line < 1 || d.Line > lines {
				t.Fatalf("directive %v out of order or range", d)
			}
			prev = d.Line
		}
		seen := map[string]bool{}
		for _, n := range cfg.Nodes {
			if n != strings.ToLower(n) || seen[n] || n == "" {
				t.Fatalf("node %q not lower-cased, empty or duplicate", n)
			}
			seen[n] = true
		}
		if l.HasErrors() {
			return
		}
		// A config without errors is one the daemon may run with.
		if len(cfg.Media) == 0 || len(cfg.Nodes) == 0 {
			t.Fatal("accepted config without media or nodes")
		}
		if cfg.Keepalive <= 0 || cfg.Deadtime <= 2*cfg.Keepalive || cfg.Initdead < cfg.Deadtime || cfg.Warntime <= 0 || cfg.Deadping <= 0 {
			t.Fatalf("accepted bad timing: %v %v %v %v %v", cfg.Keepalive, cfg.Deadtime, cfg.Warntime, cfg.Initdead, cfg.Deadping)
		}
		for _, d := range cfg.FenceDevices {
			if d.Line < 1 || d.Line > lines || d.Host == "" || d.Type == "" || d.Host != strings.ToLower(d.Host) {
				t.Fatalf("fence device %+v out of range, or without host or type", d)
			}
			if d.Kind == FenceAgent && (!strings.HasPrefix(d.Type, "fence_") || strings.Contains(d.Type, "/")) ||
				d.Kind != FenceAgent && strings.Contains(d.Type, "..") {
				t.Fatalf("fence device type %q", d.Type)
			}
			for _, a := range d.Args {
				if a.Key == "" || a.Key == "action" {
					t.Fatalf("fence_agent key %q", a.Key)
				}
			}
		}
		if cfg.FenceTimeout <= 0 || cfg.FenceDelay < 0 || cfg.FenceDelayMax < 0 || cfg.FenceCheckInterval < 0 ||
			cfg.FencePolicy != FencePolicyHeartbeat && cfg.FencePolicy != FencePolicyHolder {
			t.Fatalf("accepted bad fencing: %q %v %v %v %v", cfg.FencePolicy, cfg.FenceTimeout, cfg.FenceDelay, cfg.FenceDelayMax, cfg.FenceCheckInterval)
		}
		for _, m := range cfg.Media {
			if m.Line < 1 || m.Line > lines {
				t.Fatalf("medium %+v out of range", m)
			}
			if m.Kind != "serial" && (m.Port < 1 || m.Port > 65535 || m.Interface == "") {
				t.Fatalf("medium %+v without port or interface", m)
			}
		}
	})
}

func FuzzParseAuthkeys(f *testing.F) {
	addSeeds(f, "*.authkeys")
	f.Add([]byte("auth 1\n1 sha1 a#b;c\n2 md5 x y\n3 crc\nauth 2\n"))
	f.Add([]byte("2 sha1 k\nauth 2\n\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, l := ParseAuthkeys(bytes.NewReader(data), "authkeys")
		if a == nil {
			t.Fatal("nil authkeys")
		}
		checkFindingLines(t, l, "authkeys", data)
		for i, k := range a.Keys {
			if i != k.Index || i < 0 || i > MaxAuthIndex || strings.ContainsAny(k.Secret, " \t") {
				t.Fatalf("bad key %d: %+v", i, k)
			}
			if (k.Method == MethodCRC) != (k.Secret == "") {
				t.Fatalf("key %+v: crc must have no secret, others must have one", k)
			}
		}
		if a.Active >= 0 {
			if _, ok := a.Keys[a.Active]; !ok {
				t.Fatalf("active index %d has no key", a.Active)
			}
		}
		if !l.HasErrors() && a.Active < 0 {
			t.Fatal("no error but no signing key")
		}
	})
}
