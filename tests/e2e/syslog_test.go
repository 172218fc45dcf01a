//go:build netns

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rsyslog is a private rsyslogd: its own config, pid file and imuxsock
// socket, writing every line with facility, severity, tag and message (and
// a second file in the traditional layout, which logcheck reads).
type rsyslog struct {
	t                *testing.T
	dir, sock, conf  string
	out, traditional string
	cmd              *exec.Cmd
}

func newRsyslog(t *testing.T, sock string) *rsyslog {
	t.Helper()
	if _, err := exec.LookPath("rsyslogd"); err != nil {
		t.Fatalf("rsyslogd not installed: %v", err)
	}
	dir := t.TempDir()
	r := &rsyslog{t: t, dir: dir, sock: sock, conf: filepath.Join(dir, "rsyslog.conf"),
		out: filepath.Join(dir, "out.log"), traditional: filepath.Join(dir, "trad.log")}
	conf := fmt.Sprintf(`global(workDirectory=%q)
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%q CreatePath="on")
template(name="fs" type="string" string="%%syslogfacility-text%%.%%syslogseverity-text%% %%syslogtag%%%%msg%%\n")
*.* action(type="omfile" file=%q template="fs")
*.* action(type="omfile" file=%q template="RSYSLOG_TraditionalFileFormat")
`, dir, sock, r.out, r.traditional)
	if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

func (r *rsyslog) start() {
	r.t.Helper()
	r.cmd = exec.Command("rsyslogd", "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslog.pid"))
	r.cmd.Stderr = os.Stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitFor(r.t, 5*time.Second, "rsyslog socket", func() bool {
		_, err := os.Stat(r.sock)
		return err == nil
	})
}

func (r *rsyslog) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
	r.cmd = nil
}

func (r *rsyslog) lines() string {
	b, _ := os.ReadFile(r.out)
	return string(b)
}

// devWithLog prepares a directory to be bind-mounted over /dev in the
// daemon's private mount namespace: the few device nodes a daemon needs,
// bound from the real /dev, and "log", the test rsyslog's socket. The daemon
// then logs to its real default path, /dev/log.
const devWithLog = `set -e
d=$1; shift
for f in null zero full random urandom; do : > "$d/$f"; mount --bind "/dev/$f" "$d/$f"; done
mount --rbind "$d" /dev
exec "$@"
`

func TestSyslogThroughRealRsyslog(t *testing.T) {
	c := newCluster(t, "syslog", false)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	dev := t.TempDir()
	rs := newRsyslog(t, filepath.Join(dev, "log"))
	rs.start()
	for _, n := range []*hbNode{n1, n2} {
		extra := "auto_failback on\n"
		if n == n1 {
			extra += "logfacility local0\n"
		}
		n.writeConf(c.haCF(n, fast, "bcast eth1 eth2", extra), "")
	}
	n1.startWith(nil, "unshare", "-m", "--propagation", "private", "sh", "-c", devWithLog, "sh", dev)
	n2.start()
	waitFor(t, 10*time.Second, "both nodes active", func() bool {
		return n1.nodeStatus("n2") == "active" && n2.nodeStatus("n1") == "active"
	})
	pid := n1.cmd.Process.Pid
	// The pid in the line is the daemon's own (unshare and sh exec it).
	want := fmt.Sprintf("local0.info heartbeat: [%d]: info: Configuration validated. Starting heartbeat 3.0.6", pid)
	waitFor(t, 5*time.Second, "the start line in rsyslog", func() bool { return strings.Contains(rs.lines(), want) })

	// A WARN arrives with severity warning (initdead 3 s is below 10 s).
	if !strings.Contains(rs.lines(), fmt.Sprintf("local0.warning heartbeat: [%d]: WARN: %s:6: warning: initdead", pid, filepath.Join(n1.confdir, "ha.cf"))) {
		t.Errorf("no WARN line with severity warning")
	}
	// A runtime line: cut a link.
	n2.ns.Cut("eth2")
	waitFor(t, 5*time.Second, "a link line in rsyslog", func() bool {
		return strings.Contains(rs.lines(), "local0.info heartbeat: ["+fmt.Sprint(pid)+"]: info: Link n2:eth2 dead.")
	})
	n2.ns.Heal("eth2")

	// Every heartbeat line has Heartbeat's layout, and in the traditional
	// file format the prefix that Debian's logcheck rule
	// (/etc/logcheck/ignore.d.server/heartbeat) anchors on.
	layout := regexp.MustCompile(`^local0\.(crit|err|warning|notice|info|debug) heartbeat: \[\d+\]: (CRIT|ERROR|WARN|notice|info|debug): \S`)
	for _, l := range strings.Split(strings.TrimSpace(rs.lines()), "\n") {
		if strings.Contains(l, "heartbeat:") && !layout.MatchString(l) {
			t.Errorf("line does not have Heartbeat's layout: %q", l)
		}
		sev := map[string]string{"CRIT": "crit", "ERROR": "err", "WARN": "warning", "info": "info", "notice": "notice"}
		for lvl, s := range sev {
			if strings.Contains(l, "]: "+lvl+": ") && !strings.HasPrefix(l, "local0."+s+" ") {
				t.Errorf("level %s logged with the wrong severity: %q", lvl, l)
			}
		}
	}
	logcheck := regexp.MustCompile(`^\w{3} [ :0-9]{11} [._[:alnum:]-]+ heartbeat: \[[0-9]+\]: (CRIT|ERROR|WARN|notice|info|debug): `)
	if b, err := os.ReadFile("/etc/logcheck/ignore.d.server/heartbeat"); err == nil &&
		!strings.Contains(string(b), `^\w{3} [ :0-9]{11} [._[:alnum:]-]+ heartbeat: \[[0-9]+\]: info: `) {
		t.Errorf("Debian's logcheck rule changed its prefix; update this test: %s", b)
	}
	trad, _ := os.ReadFile(rs.traditional)
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(trad)), "\n") {
		if strings.Contains(l, " heartbeat: ") {
			n++
			if !logcheck.MatchString(l) {
				t.Errorf("traditional line not in logcheck's layout: %q", l)
			}
		}
	}
	if n == 0 {
		t.Fatal("no heartbeat line in the traditional-format file")
	}

	// rsyslog stops: the daemon does not block, the peer never sees it late.
	rs.stop()
	os.Remove(rs.sock)
	before := len(rs.lines())
	for i := 0; i < 20; i++ {
		n1.reloadCmd() // log lines while syslog is gone
	}
	time.Sleep(1500 * time.Millisecond)
	if s := n2.nodeStatus("n1"); s != "active" {
		t.Fatalf("n1 is %q on n2 while rsyslog was down", s)
	}
	if n2.hasLog("Late heartbeat: Node n1") || n2.hasLog("node n1: is dead") {
		t.Fatal("n2 saw n1 late while rsyslog was down")
	}
	// rsyslog returns: messages resume.
	rs.start()
	waitFor(t, 10*time.Second, "messages after the rsyslog restart", func() bool {
		n1.reloadCmd()
		return strings.Contains(rs.lines()[before:], "local0.info heartbeat: ["+fmt.Sprint(pid)+"]: info: Reload (heartbeatd reload)")
	})
}
