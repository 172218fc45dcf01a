package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/config"
	"heartbeatd/internal/fence"
	"heartbeatd/internal/level"
	"heartbeatd/internal/reload"
)

// Secrets never appear in what reports on the configuration (hardening
// issue 12, item 3): reload.Read and Load (the daemon's reader, whose
// findings it logs), `heartbeatd check` as text and as JSON, fence device
// validation, what a reload says it changed, and the fencing log lines.
// Nothing shows an authkeys key or a fence password, nor any 6 characters
// in a row of one. internal/config/secrets_test.go covers the parsers
// line by line.

// secretBook hands out secrets: random letters from a fixed seed, so that
// no 6 of them in a row are in any message by chance and a run is
// repeatable.
type secretBook struct {
	r   *rand.Rand
	all []string
}

func (b *secretBook) letters(n int) string {
	const abc = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var s strings.Builder
	for range n {
		s.WriteByte(abc[b.r.IntN(len(abc))])
	}
	return s.String()
}

func (b *secretBook) new(n int) string {
	s := b.letters(n)
	b.all = append(b.all, s)
	return s
}

// long is a secret of n bytes repeating one random block.
func (b *secretBook) long(n int) string {
	block := b.letters(13)
	s := strings.Repeat(block, n/len(block)+1)[:n]
	b.all = append(b.all, s)
	return s
}

// leak returns 6 characters in a row of a secret that out contains,
// compared case-insensitively (a fence line's host is lower-cased), or "".
func (b *secretBook) leak(out string) string {
	grams := map[string]bool{}
	r := []rune(strings.ToLower(out))
	for i := 0; i+6 <= len(r); i++ {
		grams[string(r[i:i+6])] = true
	}
	for _, s := range b.all {
		sr := []rune(strings.ToLower(s))
		for i := 0; i+6 <= len(sr); i++ {
			if g := string(sr[i : i+6]); grams[g] {
				return g
			}
		}
	}
	return ""
}

func (b *secretBook) assertHidden(t *testing.T, what, out string) {
	t.Helper()
	if g := b.leak(out); g != "" {
		t.Errorf("%s shows %q of a secret:\n%s", what, g, out)
	}
}

const secretsHACF = "logfacility local0\nkeepalive 2\ndeadtime 30\nwarntime 10\ninitdead 120\nbcast eth0\nnode node1\nnode node2\n"

// writeConf writes a configuration directory: ha.cf, authkeys (0600) and
// seed 002's haresources.
func writeConf(t *testing.T, dir, hacf, authkeys string) {
	t.Helper()
	hr, err := os.ReadFile("testdata/seed002/haresources")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"ha.cf": hacf, "authkeys": authkeys, "haresources": string(hr)} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o600)
	}
}

// reports runs everything that reports on confdir as local: the shared
// reader, the daemon's loader and check in both formats.
func reports(t *testing.T, confdir, local string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_, l := reload.Read(confdir, local)
	b, _ := json.Marshal(l)
	out["reload.Read"] = fmt.Sprint(l) + string(b)
	_, l = reload.Load(confdir, local)
	out["reload.Load"] = fmt.Sprint(l)
	var text, js bytes.Buffer
	check(&text, confdir, local, false)
	check(&js, confdir, local, true)
	out["check"] = text.String()
	out["check --json"] = js.String()
	// JSON escapes some characters; the decoded messages count as well.
	var v struct {
		Findings []struct{ Message string } `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &v); err != nil {
		t.Fatalf("check --json: %v\n%s", err, js.String())
	}
	for _, f := range v.Findings {
		out["check --json, decoded"] += f.Message + "\n"
	}
	return out
}

func TestAuthkeysSecretsNeverShown(t *testing.T) {
	b := &secretBook{r: rand.New(rand.NewPCG(4, 12))}
	s := b.new
	cases := []struct {
		name, text string
		mode       os.FileMode
		want       string // a finding that proves the path ran; "" for a clean check
	}{
		{"valid", "auth 1\n1 sha1 " + s(16) + "\n", 0o600, ""},
		{"rotation", "auth 2\n1 md5 " + s(12) + "\n2 sha1 " + s(20) + "\n", 0o600, ""},
		{"invalid method", "auth 1\n1 sha512 " + s(16) + "\n", 0o600, "unknown auth method"},
		{"key in the method's place", "auth 1\n1 " + s(16) + "\n", 0o600, "unknown auth method"},
		{"bad index", "auth 1\n16 sha1 " + s(16) + "\nx1 md5 " + s(16) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid key index 16"},
		{"duplicate index", "auth 2\n2 sha1 " + s(16) + "\n2 sha1 " + s(16) + "\n", 0o600, "key 2 defined again"},
		{"crc with a key", "auth 3\n3 crc " + s(16) + "\n", 0o600, "crc doesn't use a key"},
		{"garbage lines", "auth 1\n" + s(18) + "\na" + s(12) + " " + s(9) + "\nauth " + s(8) + "\n1 sha1 " + s(10) + "\n", 0o600, "invalid line"},
		{"secret with blanks", "auth 1\n1 sha1 " + s(12) + " " + s(12) + "\n", 0o600, "text after the key is ignored"},
		{"very long secret", "auth 1\n1 sha1 " + b.long(30000) + "\n", 0o600, ""},
		{"line over the limit", "auth 1\n1 sha1 " + b.long(70000) + "\n", 0o600, "longer than"},
		{"control character", "auth 1\n1 sha1 " + s(10) + "\x02" + s(10) + "\n", 0o600, "control character"},
		{"missing auth", "1 sha1 " + s(16) + "\n", 0o600, "Missing auth directive"},
		{"readable by everyone", "auth 1\n1 sha1 " + s(16) + "\n", 0o644, "Bad permissions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeConf(t, dir, secretsHACF, c.text)
			os.Chmod(filepath.Join(dir, "authkeys"), c.mode)
			for what, out := range reports(t, dir, "node1") {
				b.assertHidden(t, what, out)
				if c.want != "" && what == "check" && !strings.Contains(out, c.want) {
					t.Errorf("check lacks %q:\n%s", c.want, out)
				}
				if c.want == "" && what == "check" && strings.Contains(out, ": error:") {
					t.Errorf("check has errors:\n%s", out)
				}
			}
		})
	}
}

// fenceLines are ha.cf device lines holding passwords, well-formed and
// not; files are stonith CONFIGFILEs to create (path -> contents).
func fenceLines(b *secretBook, dir string) (lines []string, files map[string]string) {
	s := b.new
	good := filepath.Join(dir, "apc.cfg")
	short := filepath.Join(dir, "short.cfg")
	files = map[string]string{good: "# apc\n10.0.0.3 apc " + s(14) + "\n", short: "10.0.0.3 " + s(14) + "\n"}
	lines = []string{
		"stonith_host node1 apcmaster 10.0.0.3 apc " + s(14),
		"stonith_host node1 apcmaster 10.0.0.3 " + s(14),                 // too few
		"stonith_host node1 apcmaster 10.0.0.3 apc " + s(9) + " " + s(9), // blank in it: too many
		"stonith_host * apcmaster 10.0.0.3 apc passwd=" + s(14),
		"stonith_host node1 external/ipmi node2 10.0.0.4 admin " + s(14) + " lan",
		"stonith_host node1 hbdtnosuchplugin 10.0.0.3 apc " + s(14),
		"stonith_host node1 apcmaster 10.0.0.3 apc " + b.long(3000),
		"stonith_host node1 passwd=" + s(14),
		"stonith_host password=" + s(14) + " apcmaster 10.0.0.3 apc x",
		"stonith apcmaster " + good, // readable by everyone: a warning
		"stonith apcmaster " + short,
		"stonith apcmaster passwd=" + s(14),
		"stonith apcmaster 10.0.0.3 apc " + s(14), // parameters instead of a file
		"stonith apcmaster /nonexistent/hbdt.cfg",
		"fence_agent node1 ipmilan ip=10.0.0.6 username=admin password=" + s(14) + " lanplus=1",
		"fence_agent node1 dummy passwrd=" + s(14),
		"fence_agent node1 virsh password=" + s(14),
		"fence_agent node1 hbdtnosuchagent password=" + s(14),
		"fence_agent node1 password=" + s(14) + " ipmilan",
		"fence_agent password=" + s(14) + " ipmilan ip=10.0.0.6",
		"fence_agent node1 ipmilan ip=10.0.0.7 " + s(14),
		"fence_agent node1 ipmilan ip=10.0.0.7 password=" + s(10) + " " + s(10),
		"fence_agent node1 ipmilan password=" + s(14) + " password=" + s(14),
		"fence_agent node1 ipmilan action=reboot password=" + s(14),
		"fence_agent node1 ipmilan pass/wd=" + s(14),
		"fence_agent node1 ipmilan password=" + b.long(3000),
		"env DB_PASSWORD=" + s(10) + " " + s(10),
	}
	return lines, files
}

func TestFenceSecretsNeverShown(t *testing.T) {
	b := &secretBook{r: rand.New(rand.NewPCG(5, 12))}
	dir := t.TempDir()
	lines, files := fenceLines(b, dir)
	for p, text := range files {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "conf")
	os.Mkdir(conf, 0o755)
	writeConf(t, conf, secretsHACF+strings.Join(lines, "\n")+"\n", "auth 1\n1 sha1 "+b.new(16)+"\n")
	for _, local := range []string{"node1", "node2"} {
		for what, out := range reports(t, conf, local) {
			b.assertHidden(t, what+" as "+local, out)
		}
	}
	// Every device validated, whichever node uses it (check validates
	// only the local node's).
	set, _ := reload.Read(conf, "node1")
	if set.Cfg == nil {
		t.Fatal("ha.cf not read")
	}
	if len(set.Cfg.FenceDevices) < 12 {
		t.Fatalf("only %d devices parsed", len(set.Cfg.FenceDevices))
	}
	r := &fence.Runner{Timeout: 30 * time.Second}
	var all strings.Builder
	for _, d := range set.Cfg.FenceDevices {
		all.WriteString(d.String() + "\n")
		for _, f := range r.Validate(context.Background(), set.Cfg.File, d) {
			all.WriteString(f.String() + "\n")
		}
	}
	b.assertHidden(t, "fence validation", all.String())
}

// What a reload reports: the change summary, the restart list, and the
// refusal to drop the peer's key.
func TestReloadSecretsNeverShown(t *testing.T) {
	b := &secretBook{r: rand.New(rand.NewPCG(6, 12))}
	s := b.new
	load := func(authkeys, fenceLine string) *reload.Set {
		dir := t.TempDir()
		writeConf(t, dir, secretsHACF+fenceLine+"\n", authkeys)
		set, l := reload.Load(dir, "node1")
		if set == nil {
			t.Fatalf("load: %v", l)
		}
		return set
	}
	old := load("auth 1\n1 sha1 "+s(16)+"\n", "stonith_host node1 apcmaster 10.0.0.3 apc "+s(14))
	next := load("auth 2\n2 md5 "+s(16)+"\n", "stonith_host node1 apcmaster 10.0.0.3 apc "+s(14))
	c := reload.Diff(old, next)
	if !c.Authkeys || len(c.Restart) == 0 {
		t.Fatalf("diff found no change: %+v", c)
	}
	out := c.Summary() + "\n" + strings.Join(c.Restart, "\n") + "\n"
	ro, err := old.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	rn, err := next.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if err := reload.KeepsKey(ro, rn, 1, "node2"); err == nil {
		t.Fatal("KeepsKey accepted dropping the peer's key")
	} else {
		out += err.Error()
	}
	b.assertHidden(t, "reload report", out)
}

// The fencing log lines, with a plugin and an agent that fail and print
// everything they were given (as a verbose agent does).
func TestFencingLogSecretsNeverShown(t *testing.T) {
	b := &secretBook{r: rand.New(rand.NewPCG(7, 12))}
	dir := t.TempDir()
	stonith := filepath.Join(dir, "stonith")
	plugins := filepath.Join(dir, "plugins")
	os.MkdirAll(filepath.Join(plugins, "stonith2"), 0o755)
	os.WriteFile(filepath.Join(plugins, "stonith2", "apcmaster.so"), nil, 0o644)
	os.WriteFile(stonith, []byte("#!/bin/sh\necho \"$@\"; echo \"$@\" >&2; exit 5\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "fence_hbdtecho"), []byte(`#!/bin/sh
case "$*" in *metadata*)
	echo '<resource-agent name="fence_hbdtecho"><parameters><parameter name="password"/><parameter name="plug"/></parameters>'
	echo '<actions><action name="reboot"/><action name="monitor"/></actions></resource-agent>'
	exit 0;;
esac
in=$(cat); echo "$in"; echo "$in" >&2; exit 1
`), 0o755)
	hacf := secretsHACF +
		"stonith_host node1 apcmaster 10.0.0.3 apc " + b.new(14) + "\n" +
		"fence_agent node1 hbdtecho password=" + b.new(14) + "\n" +
		"stonith apcmaster 10.0.0.3 apc " + b.new(14) + "\n" // parameters where the file belongs
	cfg, l := config.ParseHACF(strings.NewReader(hacf), "ha.cf")
	if l.HasErrors() {
		t.Fatal(l)
	}
	var logs strings.Builder
	f := &fence.Fencer{
		Runner:  &fence.Runner{Stonith: stonith, PluginDir: plugins, AgentDir: dir, Timeout: 10 * time.Second},
		Devices: cfg.FenceDevicesFor("node1"),
		Log:     func(_ level.Level, s string) { logs.WriteString(s + "\n") },
	}
	if len(f.Devices) != 3 {
		t.Fatalf("devices %v", f.Devices)
	}
	if f.ResetNode(context.Background(), "node2") {
		t.Fatal("a failing device reset the node")
	}
	f.Watch(context.Background(), nil, 0)
	if !strings.Contains(logs.String(), "Reset of node node2 with [fence_agent node1 fence_hbdtecho] failed") ||
		!strings.Contains(logs.String(), "Reset of node node2 with [stonith * apcmaster] failed") {
		t.Fatalf("no failure logged:\n%s", logs.String())
	}
	b.assertHidden(t, "fencing log", logs.String())
}
