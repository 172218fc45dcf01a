//go:build netns

// Package deb builds the Debian package with `make deb`, runs lintian on it,
// and installs, exercises and purges it in a fresh Debian 12 chroot. The
// package is never installed on the host: CI machines carry Debian's
// heartbeat package for the interop tests, which it conflicts with.
package deb

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// requireTools fails (never skips) with the list of what is missing.
func requireTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("tests/deb needs root (debootstrap, chroot, mount)")
	}
	var missing []string
	for _, tool := range []string{"make", "dpkg-buildpackage", "dh", "lintian", "debootstrap", "chroot", "mount", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("missing tools: %s (apt-get install debhelper dpkg-dev lintian debootstrap)", strings.Join(missing, " "))
	}
}

// buildDeb runs `make deb` from the repository root into a temporary
// directory and returns the path of the package (not the -dbgsym one).
func buildDeb(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	start := time.Now()
	run(t, root, "make", "deb", "GO="+gobin, "DEB_OUT="+out)
	t.Logf("make deb: %v", time.Since(start).Round(time.Millisecond))
	debs, _ := filepath.Glob(filepath.Join(out, "heartbeatd_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb produced %v, want one heartbeatd_*.deb", debs)
	}
	return debs[0]
}

func TestDebianPackage(t *testing.T) {
	requireTools(t)
	start := time.Now()
	defer func() { t.Logf("tests/deb total: %v", time.Since(start).Round(time.Second)) }()

	deb := buildDeb(t)
	t.Run("lintian", func(t *testing.T) { checkLintian(t, deb) })
	t.Run("maintainer scripts", func(t *testing.T) { checkMaintScripts(t, deb) })
	t.Run("chroot", func(t *testing.T) { installInChroot(t, deb) })
}

// checkLintian fails on lintian errors and logs every other tag, so that the
// warnings can be reviewed from the test log.
func checkLintian(t *testing.T, deb string) {
	cmd := exec.Command("lintian", "--pedantic", "--display-info", deb)
	out, _ := cmd.CombinedOutput() // exit status reflects tags; judged below
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "E: "):
			errs = append(errs, line)
		case len(line) > 2 && line[1] == ':' && strings.Contains("WIPXO", line[:1]):
			t.Logf("lintian: %s", line)
		}
	}
	if len(errs) > 0 {
		t.Fatalf("lintian errors:\n%s", strings.Join(errs, "\n"))
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Exited() {
		t.Fatalf("lintian did not run: %s", out)
	}
}

// checkMaintScripts: an upgrade must neither stop nor restart a running
// daemon (a stop releases every group: the peer would take them over), so
// every stop in prerm is guarded by "remove" and nothing restarts.
func checkMaintScripts(t *testing.T, deb string) {
	ctl := t.TempDir()
	run(t, "", "dpkg-deb", "-e", deb, ctl)
	prerm, err := os.ReadFile(filepath.Join(ctl, "prerm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(prerm), "\n") {
		if strings.Contains(line, " stop") && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			// The stop is inside an if whose condition names remove.
			idx := strings.Index(string(prerm), line)
			cond := string(prerm)[:idx]
			cond = cond[strings.LastIndex(cond, "if "):]
			if !strings.Contains(cond, `"$1" = remove`) {
				t.Errorf("prerm stops the daemon outside remove: %q (after %q)", line, cond)
			}
		}
	}
	for _, f := range []string{"postinst", "prerm", "postrm", "preinst"} {
		b, err := os.ReadFile(filepath.Join(ctl, f))
		if err != nil {
			continue
		}
		if regexp.MustCompile(`restart|try-restart|_dh_action=restart`).Match(b) {
			t.Errorf("%s restarts the daemon:\n%s", f, b)
		}
	}
	conff, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/etc/ha.d/resource.d/IPaddr", "/etc/ha.d/resource.d/IPaddr2",
		"/etc/ha.d/resource.d/Filesystem", "/etc/init.d/heartbeatd", "/etc/logrotate.d/heartbeatd"} {
		if !strings.Contains(string(conff), want+"\n") {
			t.Errorf("%s is not a conffile:\n%s", want, conff)
		}
	}
	if strings.Contains(string(conff), "drbddisk") {
		t.Errorf("drbddisk must not be in /etc/ha.d/resource.d (drbd-utils ships it):\n%s", conff)
	}
}

// wantFiles are the paths `dpkg -L heartbeatd` must list, and (apart from
// directories shared with other packages) what a purge must remove.
var wantFiles = []string{
	"/usr/sbin/heartbeatd",
	"/usr/sbin/cl_status", "/usr/sbin/hb_takeover", "/usr/sbin/hb_standby", "/usr/sbin/drbd-peer-outdater",
	"/usr/bin/cl_status", "/usr/share/heartbeat/hb_standby", "/usr/share/heartbeat/hb_takeover",
	"/usr/lib/heartbeat/drbd-peer-outdater", "/usr/libexec/heartbeat/drbd-peer-outdater",
	"/etc/ha.d/resource.d/IPaddr", "/etc/ha.d/resource.d/IPaddr2", "/etc/ha.d/resource.d/Filesystem",
	"/usr/lib/heartbeatd/resource.d/drbddisk",
	"/usr/share/man/man8/heartbeatd.8.gz", "/usr/share/man/man8/drbd-peer-outdater.8.gz",
	"/usr/share/man/man5/ha.cf.5.gz", "/usr/share/man/man5/haresources.5.gz", "/usr/share/man/man5/authkeys.5.gz",
	"/usr/share/man/man1/cl_status.1.gz", "/usr/share/man/man1/hb_standby.1.gz", "/usr/share/man/man1/hb_takeover.1.gz",
	"/lib/systemd/system/heartbeatd.service", "/etc/init.d/heartbeatd", "/etc/logrotate.d/heartbeatd",
	"/usr/share/doc/heartbeatd/ha.cf.example", "/usr/share/doc/heartbeatd/authkeys.example",
	"/usr/share/doc/heartbeatd/haresources.example", "/usr/share/doc/heartbeatd/copyright",
}

func installInChroot(t *testing.T, deb string) {
	start := time.Now()
	c := newChroot(t)
	copyFile(t, deb, c.path("/tmp/heartbeatd.deb"), 0o644)

	// The package's dependencies come from the mirror, as apt would fetch
	// them on a real machine; logrotate (Recommends) to check our file.
	deps := packageDeps(t, deb)
	t0 := time.Now()
	c.sh(t, "apt-get update -q && apt-get install -y -q --no-install-recommends "+strings.Join(deps, " ")+" logrotate")
	t.Logf("apt-get install %s logrotate: %v", strings.Join(deps, " "), time.Since(t0).Round(time.Millisecond))

	// No ha.cf yet: the init script's start fails, which must not make the
	// installation fail (a fresh machine has no cluster configuration).
	out := c.sh(t, "dpkg -i /tmp/heartbeatd.deb 2>&1; dpkg-query -W -f='${Status}' heartbeatd")
	if !strings.HasSuffix(out, "install ok installed") {
		t.Fatalf("dpkg -i did not leave the package installed:\n%s", out)
	}
	t.Logf("dpkg -i:\n%s", out)

	list := c.sh(t, "dpkg -L heartbeatd")
	listed := map[string]bool{}
	for _, l := range strings.Split(list, "\n") {
		listed[l] = true
	}
	for _, f := range wantFiles {
		if !listed[f] {
			t.Errorf("dpkg -L heartbeatd does not list %s", f)
		}
		if _, err := os.Lstat(c.path(f)); err != nil {
			t.Errorf("%s is not installed: %v", f, err)
		}
	}

	// The multi-call names work through every link.
	if out := c.sh(t, "heartbeatd version"); !strings.Contains(out, "Heartbeat 3.0.6 compatible") {
		t.Errorf("heartbeatd version: %q", out)
	}
	for _, cl := range []string{"/usr/sbin/cl_status", "/usr/bin/cl_status"} {
		out, err := c.try(cl + " hbstatus")
		if code := exitCode(err); code != 1 || out != "Heartbeat is stopped on this machine.\n" {
			t.Errorf("%s hbstatus without a daemon: exit %d, %q; want 1 and Heartbeat's stopped line", cl, code, out)
		}
	}
	for _, sb := range []string{"/usr/sbin/hb_standby", "/usr/share/heartbeat/hb_standby", "/usr/share/heartbeat/hb_takeover"} {
		out, err := c.try(sb + " bogus")
		if exitCode(err) != 1 || !strings.Contains(out, "wrong resources(bogus)") {
			t.Errorf("%s bogus: exit %d, %q", sb, exitCode(err), out)
		}
	}
	out, err := c.try("DRBD_RESOURCE=r0 /usr/lib/heartbeat/drbd-peer-outdater -t 1")
	if exitCode(err) != 5 {
		t.Errorf("drbd-peer-outdater without a daemon: exit %d (%q), want 5 (peer unreachable)", exitCode(err), out)
	}

	// Accounts.
	if out := c.sh(t, "getent group haclient"); !strings.HasPrefix(out, "haclient:") {
		t.Errorf("getent group haclient: %q", out)
	}
	pw := strings.Split(strings.TrimSpace(c.sh(t, "getent passwd hacluster")), ":")
	if len(pw) != 7 || pw[5] != "/var/lib/heartbeat" || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("hacluster account: %v", pw)
	}
	if gid := strings.TrimSpace(c.sh(t, "id -gn hacluster")); gid != "haclient" {
		t.Errorf("hacluster's group is %q, want haclient", gid)
	}

	// The shipped examples form a valid configuration.
	out = c.sh(t, `set -e
		d=/tmp/ha.d; mkdir -p $d
		cp /usr/share/doc/heartbeatd/ha.cf.example $d/ha.cf
		cp /usr/share/doc/heartbeatd/haresources.example $d/haresources
		cp /usr/share/doc/heartbeatd/authkeys.example $d/authkeys
		chmod 600 $d/authkeys
		ln -s /etc/ha.d/resource.d $d/resource.d
		heartbeatd check --confdir $d --node node1`)
	if !strings.Contains(out, "configuration OK for node node1") {
		t.Errorf("heartbeatd check on the shipped examples:\n%s", out)
	}
	t.Logf("heartbeatd check on the examples:\n%s", out)

	// The logrotate file parses and names the logs.
	out = c.sh(t, "logrotate -d /etc/logrotate.d/heartbeatd 2>&1")
	if !strings.Contains(out, "/var/log/ha-log") || strings.Contains(out, "error:") {
		t.Errorf("logrotate -d:\n%s", out)
	}

	// The node identity written by a daemon run survives even a purge.
	c.sh(t, "mkdir -p /var/lib/heartbeat /run/heartbeatd && printf '%15d\\n' 1700000000 > /var/lib/heartbeat/hb_generation && head -c16 /dev/urandom > /var/lib/heartbeat/hb_uuid && touch /run/heartbeatd/heartbeatd.pid")
	out = c.sh(t, "dpkg --purge heartbeatd 2>&1")
	t.Logf("dpkg --purge:\n%s", out)
	if st, _ := c.try("dpkg-query -W -f='${Status}' heartbeatd"); strings.Contains(st, "installed") || strings.Contains(st, "config-files") {
		t.Errorf("after purge the package is still %q", st)
	}
	for _, f := range wantFiles {
		if _, err := os.Lstat(c.path(f)); err == nil {
			t.Errorf("%s is left after purge", f)
		}
	}
	for _, f := range []string{"/run/heartbeatd", "/etc/rc2.d/S01heartbeatd", "/usr/lib/heartbeatd"} {
		if _, err := os.Lstat(c.path(f)); err == nil {
			t.Errorf("%s is left after purge", f)
		}
	}
	if links, _ := filepath.Glob(c.path("/etc/rc?.d/*heartbeatd")); len(links) > 0 {
		t.Errorf("init links left after purge: %v", links)
	}
	for _, f := range []string{"/var/lib/heartbeat/hb_generation", "/var/lib/heartbeat/hb_uuid"} {
		if _, err := os.Stat(c.path(f)); err != nil {
			t.Errorf("%s must survive a purge (node identity): %v", f, err)
		}
	}
	t.Logf("chroot phase: %v", time.Since(start).Round(time.Second))
}

// packageDeps returns the package names of Pre-Depends and Depends (the
// first alternative of each, without version constraints).
func packageDeps(t *testing.T, deb string) []string {
	var names []string
	for _, field := range []string{"Pre-Depends", "Depends"} {
		v := strings.TrimSpace(run(t, "", "dpkg-deb", "-f", deb, field))
		for _, dep := range strings.Split(v, ",") {
			alt := strings.TrimSpace(strings.Split(dep, "|")[0])
			if name := strings.Fields(alt); len(name) > 0 {
				names = append(names, strings.SplitN(name[0], ":", 2)[0])
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("the package declares no dependencies; expected at least adduser and iproute2")
	}
	return names
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
