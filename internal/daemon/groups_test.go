package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/script"
)

// rendezvous is a resource script: "start" records itself, then waits (at
// most 5 s) for the other named resource to have started too. Two groups
// started one after the other would make the first one time out and fail.
const rendezvous = `#!/bin/sh
dir=%DIR%
me=$1; other=$2; op=$3
case "$op" in
start)
	echo "begin $me" >> $dir/journal
	touch $dir/started.$me
	if [ "$other" != none ]; then
		i=0
		while [ ! -e $dir/started.$other ]; do
			i=$((i+1)); [ $i -gt 100 ] && { echo "end $me timeout" >> $dir/journal; exit 1; }
			sleep 0.05
		done
	fi
	echo "end $me" >> $dir/journal ;;
stop) rm -f $dir/started.$me ;;
status) [ -e $dir/started.$me ] && echo running || echo stopped ;;
esac
`

func execFixture(t *testing.T, groups ...haresources.Group) (*groupExec, string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rv"), []byte(strings.ReplaceAll(rendezvous, "%DIR%", dir)), 0o755)
	m := map[string]haresources.Group{}
	for _, g := range groups {
		m[g.Key] = g
	}
	r := &script.Runner{Dirs: []string{dir}, Timeout: 20 * time.Second}
	return newGroupExec(r, m), dir
}

func rvGroup(key, me, other string) haresources.Group {
	return haresources.Group{Node: "n1", Key: key, Resources: []haresources.Resource{
		{Script: "rv", Args: []string{me, other}, Raw: "rv::" + me + "::" + other}}}
}

func waitDone(t *testing.T, e *groupExec, n int) map[string]bool {
	t.Helper()
	ok := map[string]bool{}
	for i := 0; i < n; i++ {
		select {
		case r := <-e.done:
			e.finished(r.key)
			e.kick()
			ok[r.key] = r.OK
		case <-time.After(30 * time.Second):
			t.Fatal("group operations did not finish")
		}
	}
	return ok
}

// Groups that share nothing start together: each waits for the other.
func TestGroupsWithoutSharedResourcesStartInParallel(t *testing.T) {
	a, b := rvGroup("A", "a", "b"), rvGroup("B", "b", "a")
	e, dir := execFixture(t, a, b)
	e.submit("A", "start", "")
	e.submit("B", "start", "")
	ok := waitDone(t, e, 2)
	if !ok["A"] || !ok["B"] {
		j, _ := os.ReadFile(filepath.Join(dir, "journal"))
		t.Fatalf("parallel start failed (A=%v B=%v); journal:\n%s", ok["A"], ok["B"], j)
	}
}

// Groups that share a resource (here the same IP address) never run at the
// same time, and keep the order in which they were asked for.
func TestGroupsSharingAResourceAreSerialised(t *testing.T) {
	ip := haresources.Resource{Script: "IPaddr", Args: []string{"10.0.0.5/24"}, Raw: "10.0.0.5/24"}
	a, b := rvGroup("A", "a", "none"), rvGroup("B", "b", "none")
	a.Resources = append(a.Resources, ip)
	b.Resources = append(b.Resources, ip)
	if !haresources.Shares(a, b) {
		t.Fatal("fixture: groups should share the address")
	}
	e, dir := execFixture(t, a, b)
	// IPaddr is not in the fixture dir: give it a trivial script.
	os.WriteFile(filepath.Join(dir, "IPaddr"), []byte("#!/bin/sh\necho stopped\n"), 0o755)
	e.submit("A", "start", "")
	e.submit("B", "start", "")
	if len(e.running) != 1 || !e.running["A"] {
		t.Fatalf("running %v, want only A while B shares its address", e.running)
	}
	waitDone(t, e, 2)
	j, _ := os.ReadFile(filepath.Join(dir, "journal"))
	if got := strings.Fields(string(j)); strings.Join(got, " ") != "begin a end a begin b end b" {
		t.Fatalf("journal %q, want A fully before B", j)
	}
}

// A takeover start tells the scripts whom it takes over from
// (HA_TAKEOVER_FROM), and only the start runs: status and stop do not get
// it, and a normal start does not either.
func TestTakeoverStartNamesDeadPeerToScripts(t *testing.T) {
	dir := t.TempDir()
	rec := "#!/bin/sh\necho \"$1 ${HA_TAKEOVER_FROM:-none}\" >> " + dir + "/env\ncase $1 in status) echo stopped;; esac\n"
	os.WriteFile(filepath.Join(dir, "rec"), []byte(rec), 0o755)
	g := haresources.Group{Node: "n1", Key: "G", Resources: []haresources.Resource{{Script: "rec", Raw: "rec"}}}
	e := newGroupExec(&script.Runner{Dirs: []string{dir}, Timeout: 20 * time.Second}, map[string]haresources.Group{"G": g})
	e.submit("G", "start", "n2")
	waitDone(t, e, 1)
	e.submit("G", "stop", "")
	waitDone(t, e, 1)
	e.submit("G", "start", "")
	waitDone(t, e, 1)
	got, _ := os.ReadFile(filepath.Join(dir, "env"))
	want := "status none\nstart n2\nstop none\nstatus none\nstart none\n"
	if string(got) != want {
		t.Fatalf("script runs (op, HA_TAKEOVER_FROM):\n%s\nwant:\n%s", got, want)
	}
}
