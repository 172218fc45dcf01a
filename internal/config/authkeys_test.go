package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuthkeysSeed002(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/seed002.authkeys")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authkeys")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	a, l := LoadAuthkeys(path)
	if len(l) != 0 {
		t.Fatalf("findings: %v", findingStrings(l))
	}
	want := &Authkeys{Active: 2, Keys: map[int]Key{2: {Index: 2, Method: "sha1", Secret: "NoOneKnowsIt", Line: 2}}}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if k, ok := a.ActiveKey(); !ok || k.Secret != "NoOneKnowsIt" {
		t.Errorf("ActiveKey = %v, %v", k, ok)
	}
}

func TestAuthkeysLab(t *testing.T) {
	for file, want := range map[string]Key{
		"lab.authkeys":     {Index: 1, Method: "sha1", Secret: "PaLabKey-hb306-sha1", Line: 2},
		"lab-md5.authkeys": {Index: 2, Method: "md5", Secret: "PaLabKey-hb306-md5", Line: 2},
		"lab-crc.authkeys": {Index: 3, Method: "crc", Line: 2},
	} {
		f, err := os.Open("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		a, l := ParseAuthkeys(f, file)
		f.Close()
		if l.HasErrors() {
			t.Errorf("%s: %v", file, findingStrings(l))
		}
		if k, ok := a.ActiveKey(); !ok || k != want {
			t.Errorf("%s: ActiveKey = %+v, want %+v", file, k, want)
		}
	}
}

func TestAuthkeysRules(t *testing.T) {
	tests := []struct {
		name, in string
		active   int
		secret   string // secret of the active key
		want     string // substring of a finding; "" = no findings
	}{
		{"key with hash and semicolon", "auth 1\n1 sha1 ab#c;d\n", 1, "ab#c;d", ""},
		{"key starting with hash", "auth 1\n1 sha1 #secret\n", 1, "#secret", ""},
		{"comments and blanks", "# c\n\n  \t\n  auth 3\n   3   md5   k3  \n", 3, "k3", ""},
		{"trailing comment after key", "auth 1\n1 sha1 k # old key\n", 1, "k", ""},
		{"rotation several keys", "auth 2\n1 sha1 old\n2 sha1 new\n", 2, "new", ""},
		{"key index 0 and 15", "auth 15\n0 md5 a\n15 sha1 b\n", 15, "b", ""},
		{"auth after key line", "1 sha1 k\nauth 1\n", -1, "", "authkeys:2: error: Auth Key [1] not found in keyfile [authkeys]: the 'auth 1' line must come before the key line 1"},
		{"auth index with no key", "auth 3\n1 sha1 k\n", -1, "", "authkeys:1: error: Auth Key [3] not found in keyfile [authkeys]"},
		{"missing auth", "1 sha1 k\n", -1, "", "authkeys: error: Missing auth directive in keyfile [authkeys]"},
		{"empty file", "", -1, "", "authkeys: error: Missing auth directive"},
		{"auth index out of range", "auth 16\n", -1, "", `authkeys:1: error: invalid auth line: expected 'auth N' with N in 0-15 (the line is not shown`},
		{"auth garbage", "auth x\n", -1, "", `authkeys:1: error: invalid auth line: expected 'auth N'`},
		{"line starting with a", "abc\n", -1, "", `authkeys:1: error: invalid auth line: expected 'auth N'`},
		{"key index out of range", "auth 1\n16 sha1 k\n1 sha1 k\n", 1, "k", "authkeys:2: error: invalid key index 16: must be 0-15"},
		{"negative index", "auth 1\n-1 sha1 k\n1 sha1 k\n", 1, "k", "authkeys:2: error: invalid key index -1"},
		{"unknown method", "auth 1\n1 sha512 k\n", -1, "", `authkeys:2: error: unknown auth method (known: crc, md5, sha1, sha256;`},
		{"crc with key", "auth 1\n1 crc k\n", -1, "", `authkeys:2: error: auth method crc doesn't use a key`},
		{"crc warns", "auth 1\n1 crc\n", 1, "", "authkeys:2: warning: auth method crc gives no security"},
		{"sha1 without key", "auth 1\n1 sha1\n", -1, "", "authkeys:2: error: auth method sha1 requires a key"},
		{"sha256 extension", "auth 1\n1 sha256 k\n", 1, "k", "authkeys:2: warning: auth method sha256 is a heartbeatd extension: real Heartbeat nodes cannot use it"},
		{"key with blanks", "auth 1\n1 sha1 my secret\n", 1, "my", `authkeys:2: warning: text after the key is ignored: keys cannot contain blanks, so only the first word after the method is the key`},
		{"garbage line", "auth 1\n1 sha1 k\nhello world\n", 1, "k", `authkeys:3: error: invalid line: the key index is not a number`},
		{"duplicate index", "auth 1\n1 sha1 a\n1 sha1 b\n", 1, "b", "authkeys:3: warning: key 1 defined again; this line replaces line 2"},
		{"CRLF", "auth 1\r\n1 sha1 k\r\n", 1, "k", "authkeys:1: warning: line ends with CR"},
		{"binary", "auth 1\n\x00\x01\n1 sha1 k\n", 1, "k", "authkeys:2: error: line contains a NUL byte"},
		{"one MB key line", "auth 1\n1 sha1 " + strings.Repeat("k", 1<<20) + "\n", -1, "", "authkeys:2: error: line is longer than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, l := ParseAuthkeys(strings.NewReader(tt.in), "authkeys")
			if a.Active != tt.active {
				t.Errorf("Active = %d, want %d", a.Active, tt.active)
			}
			if k, ok := a.ActiveKey(); ok && k.Secret != tt.secret {
				t.Errorf("secret = %q, want %q", k.Secret, tt.secret)
			}
			if tt.want == "" {
				if len(l) != 0 {
					t.Errorf("want no findings, got %v", findingStrings(l))
				}
				return
			}
			wantFinding(t, l, tt.want)
		})
	}
}

// No finding quotes a key, whatever is wrong with the file: findings reach
// syslog, the journal and check's output (also as JSON). Every malformed
// line below holds the secret somewhere a parser might echo.
func TestAuthkeysFindingsNeverQuoteAKey(t *testing.T) {
	const secret = "Zq7SecretKeyMaterial"
	for _, in := range []string{
		"auth 1\n1 " + secret + "\n",                 // key where the method goes
		"auth 1\n1 crc " + secret + "\n",             // crc with a key
		"auth 1\n1 sha1 " + secret + " more words\n", // key with blanks
		"auth 1\n" + secret + " sha1 k\n",            // key where the index goes
		"auth " + secret + "\n1 sha1 k\n",            // key on the auth line
		"auth 1 sha1 " + secret + "\n",               // both on one line
		"a" + secret + "\n",                          // a line starting with a
		"auth 1\n" + secret + "\n",                   // a lone word
		"auth 1\n1 sha9 " + secret + "\n",            // unknown method
		"auth 1\n99 sha1 " + secret + "\n",           // index out of range
		"auth 1\r\n1 sha1 " + secret + "\r\n",        // CRLF
	} {
		_, l := ParseAuthkeys(strings.NewReader(in), "authkeys")
		if len(l) == 0 {
			t.Errorf("%q: no finding (the case tests nothing)", in)
		}
		for _, f := range l {
			if strings.Contains(f.String(), secret) || strings.Contains(f.String(), secret[:8]) {
				t.Errorf("%q: finding quotes the key: %s", in, f)
			}
		}
	}
}

func TestLoadAuthkeysPermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authkeys")
	if err := os.WriteFile(path, []byte("auth 1\n1 sha1 k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode os.FileMode
		bad  bool
	}{{0o600, false}, {0o400, false}, {0o620, true}, {0o602, true}, {0o610, true}, {0o601, true}, {0o644, true}, {0o640, true}, {0o604, true}} {
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, l := LoadAuthkeys(path)
		want := path + ": error: Bad permissions on keyfile [" + path + "], 600 recommended: it is"
		got := strings.Join(findingStrings(l), "\n")
		if tt.bad != strings.Contains(got, want) {
			t.Errorf("mode %o: findings %q, want bad permissions = %v", tt.mode, got, tt.bad)
		}
	}
	// Owned by another user: refused (only root can give a file away).
	if os.Geteuid() == 0 {
		os.Chmod(path, 0o600)
		if err := os.Chown(path, 4242, -1); err != nil {
			t.Fatal(err)
		}
		_, l := LoadAuthkeys(path)
		wantFinding(t, l, "is owned by uid 4242, not by uid 0")
		os.Chown(path, 0, -1)
	}
	_, l := LoadAuthkeys(filepath.Join(dir, "missing"))
	wantFinding(t, l, filepath.Join(dir, "missing")+": error: Cannot open keyfile [")
	_, l = LoadAuthkeys(dir)
	wantFinding(t, l, "error: keyfile is not a regular file")
}

func TestLoadAndLocalNodeName(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/seed002.ha.cf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ha.cf"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	// Without nodeinfo the name is uname -n, lower-cased.
	name, err := LocalNodeName(dir)
	host, _ := os.Hostname()
	if err != nil || name != strings.ToLower(host) {
		t.Errorf("LocalNodeName without nodeinfo = %q, %v; want %q", name, err, strings.ToLower(host))
	}
	// nodeinfo's first line wins, lower-cased and trimmed.
	if err := os.WriteFile(filepath.Join(dir, "nodeinfo"), []byte(" Node2 \r\nignored\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, err = LocalNodeName(dir); err != nil || name != "node2" {
		t.Errorf("LocalNodeName = %q, %v; want node2", name, err)
	}
	// An empty first line falls back to uname -n, as in Heartbeat.
	if err := os.WriteFile(filepath.Join(dir, "nodeinfo"), []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, err = LocalNodeName(dir); err != nil || name != strings.ToLower(host) {
		t.Errorf("LocalNodeName with empty nodeinfo = %q, %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nodeinfo"), []byte("a b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = LocalNodeName(dir); err == nil {
		t.Errorf("LocalNodeName accepted a name with a blank")
	}

	cfg, l := Load(dir, "node2")
	if l.HasErrors() || cfg == nil || cfg.File != filepath.Join(dir, "ha.cf") {
		t.Fatalf("Load: %v", findingStrings(l))
	}
	_, l = Load(dir, "node3")
	wantFinding(t, l, filepath.Join(dir, "ha.cf")+": error: Current node [node3] not in configuration!")

	empty := t.TempDir()
	cfg, l = Load(empty, "node1")
	if cfg != nil {
		t.Errorf("Load of a missing file returned a config")
	}
	wantFinding(t, l, filepath.Join(empty, "ha.cf")+": error: cannot open config file")

	// An empty ha.cf: both "nothing defined" errors, pointing at the file.
	if err := os.WriteFile(filepath.Join(empty, "ha.cf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = Load(empty, "node1")
	wantFinding(t, l, filepath.Join(empty, "ha.cf")+": error: no node directive")
	wantFinding(t, l, filepath.Join(empty, "ha.cf")+": error: no communication media")
}
