package config

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"heartbeatd/internal/diag"
)

// Secrets never appear in what the parsers report (hardening issue 12,
// item 3): no finding, in its text or JSON form, and no device name used
// in log lines, contains an authkeys key or a fence password, nor any 6
// characters in a row of one. heartbeatd/secrets_test.go covers the paths
// above this package (reload, `heartbeatd check`, fence validation).

// secretBook hands out secrets and remembers them. They are random
// letters from a fixed seed, so that no 6 of them in a row are in any
// message by chance and a run is repeatable; the long ones repeat a short
// random block for the same reason.
type secretBook struct {
	r   *rand.Rand
	all []string
}

func newSecretBook(seed uint64) *secretBook {
	return &secretBook{r: rand.New(rand.NewPCG(seed, 12))}
}

const secretLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func (b *secretBook) letters(n int) string {
	var s strings.Builder
	for range n {
		s.WriteByte(secretLetters[b.r.IntN(len(secretLetters))])
	}
	return s.String()
}

// new returns a secret of n letters.
func (b *secretBook) new(n int) string { return b.add(b.letters(n)) }

// long returns a secret of about n bytes made of one random block.
func (b *secretBook) long(n int) string {
	block := b.letters(13)
	return b.add(strings.Repeat(block, n/len(block)+1)[:n])
}

// add records s (for secrets that carry other characters).
func (b *secretBook) add(s string) string { b.all = append(b.all, s); return s }

// leak returns 6 characters in a row of a secret that out contains,
// compared case-insensitively (a fence line's host is lower-cased before
// it is shown), or "".
func leak(out string, secrets []string) string {
	grams := map[string]bool{}
	r := []rune(strings.ToLower(out))
	for i := 0; i+6 <= len(r); i++ {
		grams[string(r[i:i+6])] = true
	}
	for _, s := range secrets {
		sr := []rune(strings.ToLower(s))
		for i := 0; i+6 <= len(sr); i++ {
			if g := string(sr[i : i+6]); grams[g] {
				return g
			}
		}
	}
	return ""
}

// reported is everything a finding list shows: each finding as check
// prints it, and the list as JSON (check --json).
func reported(l diag.List) string {
	var s strings.Builder
	for _, f := range l {
		s.WriteString(f.String() + "\n")
	}
	b, _ := json.Marshal(l)
	s.Write(b)
	return s.String()
}

func TestLeakFindsSecrets(t *testing.T) {
	b := newSecretBook(1)
	s := b.new(12)
	for _, out := range []string{s, "x " + strings.ToUpper(s[3:9]) + " y", clip("a" + s[:7])} {
		if leak(out, b.all) == "" {
			t.Errorf("leak(%q) missed secret %q", out, s)
		}
	}
	if g := leak(s[:5]+" "+s[5:10], b.all); g != "" {
		t.Errorf("leak found %q in a text without 6 letters of the secret", g)
	}
}

func TestAuthkeysFindingsHideSecrets(t *testing.T) {
	b := newSecretBook(2)
	s := b.new
	cases := []struct {
		name, text string
		mode       os.FileMode
		want       string // a finding that proves the path ran; "" for none
	}{
		{"valid sha1", "auth 1\n1 sha1 " + s(16) + "\n", 0o600, ""},
		{"rotation md5 and sha1", "auth 2\n1 md5 " + s(12) + "\n2 sha1 " + s(20) + "\n", 0o600, ""},
		{"sha256", "auth 4\n4 sha256 " + s(32) + "\n", 0o600, "sha256 is a heartbeatd extension"},
		{"invalid method", "auth 1\n1 sha512 " + s(16) + "\n", 0o600, "unknown auth method"},
		{"key in the method's place", "auth 1\n1 " + s(16) + "\n", 0o600, "unknown auth method"},
		{"key in the index's place", "auth 1\n" + s(16) + " sha1\n", 0o600, "invalid line"},
		{"key alone on a line", "auth 1\n" + s(18) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid line"},
		{"key alone, starting with a", "auth 1\na" + s(15) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid auth line"},
		{"index out of range", "auth 1\n16 sha1 " + s(16) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid key index 16"},
		{"negative index", "auth 1\n-3 md5 " + s(16) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid key index -3"},
		{"index not a number", "auth 1\nx7 sha1 " + s(16) + "\n1 sha1 " + s(10) + "\n", 0o600, "not a number"},
		{"duplicate index", "auth 2\n2 sha1 " + s(16) + "\n2 sha1 " + s(16) + "\n", 0o600, "key 2 defined again"},
		{"crc with a key", "auth 3\n3 crc " + s(16) + "\n", 0o600, "crc doesn't use a key"},
		{"auth with garbage", "auth " + s(10) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid auth line"},
		{"auth with trailing text", "auth 1 " + s(14) + "\n1 sha1 " + s(10) + "\n", 0o600, "text after 'auth 1' is ignored"},
		{"auth repeated", "auth 1\nauth 2\n1 sha1 " + s(14) + "\n2 md5 " + s(14) + "\n", 0o600, "auth given again"},
		{"missing auth", "1 sha1 " + s(16) + "\n", 0o600, "Missing auth directive"},
		{"auth after the key", "1 sha1 " + s(16) + "\nauth 1\n", 0o600, "must come before the key line"},
		{"auth of a missing key", "auth 3\n1 sha1 " + s(16) + "\n", 0o600, "Auth Key [3] not found"},
		{"secret with blanks", "auth 1\n1 sha1 " + s(12) + " " + s(12) + "\t" + s(12) + "\n", 0o600, "text after the key is ignored"},
		{"secret with blanks, md5", "auth 1\n1 md5  " + s(9) + "  " + s(11) + "\n", 0o600, "text after the key is ignored"},
		{"secret with odd characters", "auth 1\n1 sha1 " + b.add(b.letters(8)+`"\#;<&>'é€`+b.letters(8)) + "\n", 0o600, ""},
		{"very long secret", "auth 1\n1 sha1 " + b.long(20000) + "\n", 0o600, ""},
		{"line longer than the limit", "auth 1\n1 sha1 " + b.long(maxLineLen+100) + "\n", 0o600, "longer than"},
		{"control character", "auth 1\n1 sha1 " + s(10) + "\x01" + s(10) + "\n", 0o600, "control character"},
		{"NUL byte", "auth 1\n1 sha1 " + s(10) + "\x00" + s(10) + "\n", 0o600, "NUL byte"},
		{"invalid UTF-8", "auth 1\n1 sha1 " + s(10) + "\xff\xfe" + s(10) + "\n", 0o600, "not valid UTF-8"},
		{"CRLF", "auth 1\r\n1 sha1 " + s(16) + "\r\n", 0o600, "CR"},
		{"readable by the group", "auth 1\n1 sha1 " + s(16) + "\n", 0o640, "Bad permissions"},
		{"readable by everyone", "auth 1\n1 sha1 " + s(16) + "\n", 0o644, "Bad permissions"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "authkeys"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			_, l := LoadAuthkeys(path)
			out := reported(l)
			if g := leak(out, b.all); g != "" {
				t.Errorf("findings show %q of a secret:\n%s", g, out)
			}
			if c.want != "" && !strings.Contains(out, c.want) {
				t.Errorf("no finding %q:\n%s", c.want, out)
			}
			if c.want == "" && l.HasErrors() {
				t.Errorf("unexpected errors:\n%s", out)
			}
			_, l = ParseAuthkeys(strings.NewReader(c.text), "authkeys")
			if g := leak(reported(l), b.all); g != "" {
				t.Errorf("ParseAuthkeys findings show %q of a secret:\n%s", g, reported(l))
			}
		})
	}
	// Owned by another user: root can set that up.
	if os.Geteuid() == 0 {
		path := filepath.Join(dir, "authkeys-owner")
		os.WriteFile(path, []byte("auth 1\n1 sha1 "+s(16)+"\n"), 0o600)
		if err := os.Chown(path, 65534, -1); err != nil {
			t.Fatal(err)
		}
		_, l := LoadAuthkeys(path)
		out := reported(l)
		if g := leak(out, b.all); g != "" || !strings.Contains(out, "is owned by uid 65534") {
			t.Errorf("owner finding (leak %q):\n%s", g, out)
		}
	}
}

// fenceLines are ha.cf lines holding passwords, well-formed and not; every
// password comes from b.
func fenceLines(b *secretBook) []string {
	s := b.new
	return []string{
		// Well-formed lines whose parameters hold passwords.
		"stonith_host node1 apcmaster 10.0.0.3 apc " + s(14),
		"stonith_host * baytech 10.0.0.5 admin passwd=" + s(14),
		"stonith_host node2 external/ipmi node1 10.0.0.4 admin " + s(14) + " lanplus",
		"stonith_host node1 apcmaster 10.0.0.3 apc " + s(10) + " " + s(10), // password with a blank
		"stonith_host node1 apcmaster 10.0.0.3 apc " + b.long(3000),
		"fence_agent node1 ipmilan ip=10.0.0.6 username=admin password=" + s(14) + " lanplus=1",
		"fence_agent * fence_ipmilan ip=10.0.0.6 username=admin passwd=" + s(14),
		// Malformed lines, where a password lands where a name should be.
		"stonith_host nodex apcmaster 10.0.0.3 apc " + s(14),           // host of no node
		"stonith_host node1 passwd=" + s(14),                           // TYPE forgotten
		"stonith_host password=" + s(14) + " apcmaster 10.0.0.3 apc x", // HOST forgotten
		"stonith_host node1 apc:master 10.0.0.3 apc " + s(14),          // bad TYPE
		"stonith_host " + strings.Repeat("h", 120) + " apcmaster 10.0.0.3 apc " + s(14),
		"stonith apcmaster passwd=" + s(14), // CONFIGFILE holding a password
		"stonith password=" + s(14) + " /etc/ha.d/stonith.cfg",
		"fence_agent node1 password=" + s(14) + " ipmilan", // agent after its parameters
		"fence_agent password=" + s(14) + " ipmilan ip=10.0.0.6",
		"fence_agent node1 ipmilan ip=10.0.0.7 " + s(14), // not key=value
		"fence_agent node1 ipmilan ip=10.0.0.7 password=" + s(10) + " " + s(10),
		"fence_agent node1 ipmilan password=" + s(14) + " password=" + s(14), // twice
		"fence_agent node1 ipmilan passwd=" + s(14) + " passwd=" + s(14),
		"fence_agent node1 ipmilan action=reboot password=" + s(14),
		"fence_agent node1 ipmilan pass/wd=" + s(14),
		"fence_agent node1 ipmilan =" + s(14),
		"fence_agent node1 ipmilan " + s(8) + "/x=" + s(14),
		"fence_agent node1 ipmilan password=" + b.long(3000),
		"fence_agent node1 ipmi%lan password=" + s(14),
		// Scripts' environment may carry credentials too.
		"env DB_PASSWORD=" + s(14),
		"env DB_PASSWORD=" + s(10) + " " + s(10),
		// Whole lines the reader refuses.
		"stonith_host node1 apcmaster 10.0.0.3 apc " + s(10) + "\x01" + s(10),
		"fence_agent node1 ipmilan password=" + b.long(maxLineLen+100),
	}
}

const secretsBase = "logfacility daemon\nkeepalive 1\ndeadtime 10\nbcast eth0\nnode node1 node2\n"

func TestHACFFindingsHideSecrets(t *testing.T) {
	b := newSecretBook(3)
	lines := fenceLines(b)
	dir := t.TempDir()
	// Each line alone (a line's findings must not depend on the others)
	// and all of them together (the whole-file checks).
	for i, line := range append(lines, strings.Join(lines, "\n")) {
		if err := os.WriteFile(filepath.Join(dir, "ha.cf"), []byte(secretsBase+line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, local := range []string{"node1", "node2", "node3"} {
			cfg, l := Load(dir, local)
			if cfg != nil {
				l = append(l, cfg.NotActedOn()...)
			}
			out := reported(l)
			if cfg != nil {
				// Device names go into the fencing log lines.
				for _, d := range cfg.FenceDevices {
					out += d.String() + "\n"
				}
			}
			if g := leak(out, b.all); g != "" {
				t.Errorf("line %d as %s: findings show %q of a secret:\n%s", i+1, local, g, out)
			}
		}
	}
}
