package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// noGroup names a group that does not exist: the server is root-only
// (here: AllowUID-only).
const noGroup = "hbdt_no_such_group"

func startServer(t *testing.T, h Handler) (string, *Server) {
	t.Helper()
	return startServerGroup(t, h, noGroup, nil)
}

// startServerGroup serves h on a new socket whose query group is group;
// log, if not nil, receives the server's log lines.
func startServerGroup(t *testing.T, h Handler, group string, log func(string, ...any)) (string, *Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), SocketName)
	s, err := listen(path, h, group)
	if err != nil {
		t.Fatal(err)
	}
	s.AllowUID = os.Getuid()
	if log != nil {
		s.Log = log
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.Serve(ctx)
	t.Cleanup(func() { cancel(); s.Close() })
	return path, s
}

func TestRoundTripAndMode(t *testing.T) {
	var logs logLines
	path, _ := startServerGroup(t, func(_ context.Context, r Request) Response {
		return Response{Stdout: r.Cmd + ":" + strings.Join(r.Args, ","), Code: 3}
	}, noGroup, logs.add)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600 without the query group", st.Mode().Perm())
	}
	resp, err := Call(path, Request{Cmd: "cl_status", Args: []string{"rscstatus", "-m"}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Stdout != "cl_status:rscstatus,-m" || resp.Code != 3 {
		t.Fatalf("resp %+v", resp)
	}
	// Without the group, one line says that status queries are root-only.
	Call(path, Request{Cmd: "cl_status"}, 5*time.Second)
	want := []string{"control socket: cl_status is root-only: group " + noGroup + " does not exist"}
	if got := logs.get(); !slices.Equal(got, want) {
		t.Fatalf("log %q, want %q", got, want)
	}
}

// TestGroupSocketMode: with the query group, the socket is the group's and
// mode 0660. The test's own primary group stands in for haclient, so that
// it runs without root.
func TestGroupSocketMode(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("own group has no name: %v", err)
	}
	var logs logLines
	path, s := startServerGroup(t, func(context.Context, Request) Response { return Response{Stdout: "ok"} }, g.Name, logs.add)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o660 || int(sys.Gid) != os.Getgid() || int(sys.Uid) != os.Geteuid() {
		t.Fatalf("socket mode %v uid %d gid %d, want 0660 %d:%d", st.Mode().Perm(), sys.Uid, sys.Gid, os.Geteuid(), os.Getgid())
	}
	if s.query == nil || s.query.name != g.Name {
		t.Fatalf("query group %+v, want %s", s.query, g.Name)
	}
	if resp, err := Call(path, Request{Cmd: "standby"}, 5*time.Second); err != nil || resp.Stdout != "ok" {
		t.Fatalf("admin standby: %+v %v", resp, err)
	}
	if l := logs.get(); len(l) != 0 {
		t.Fatalf("log %q, want nothing", l)
	}
}

// TestAuthorization judges peers by the credentials the kernel gives:
// AllowUID runs everything, the query group's members (primary or
// supplementary) only the queries, everyone else nothing.
func TestAuthorization(t *testing.T) {
	s := &Server{AllowUID: 0, query: &queryGroup{name: "haclient", gid: 107}}
	for _, c := range []struct {
		name string
		p    peer
		want role
	}{
		{"root", peer{uid: 0, gid: 0}, admin},
		{"root without the group", peer{uid: 0, gid: 5, groups: []uint32{6}}, admin},
		{"primary group", peer{uid: 1000, gid: 107}, reader},
		{"supplementary group", peer{uid: 1000, gid: 1000, groups: []uint32{24, 107}}, reader},
		{"other groups", peer{uid: 1000, gid: 1000, groups: []uint32{0, 24}}, stranger},
		{"root's group is not root", peer{uid: 1000, gid: 0}, stranger},
		{"unread credentials", peer{uid: ^uint32(0), gid: ^uint32(0)}, stranger},
	} {
		if got := s.roleOf(c.p); got != c.want {
			t.Errorf("%s: role %d, want %d", c.name, got, c.want)
		}
	}
	// Without the group (it does not exist), only root.
	s.query = nil
	if got := s.roleOf(peer{uid: 1000, gid: 107}); got != stranger {
		t.Errorf("no query group: role %d, want stranger", got)
	}
	for _, q := range queries {
		if !IsQuery(q) {
			t.Errorf("IsQuery(%q) false", q)
		}
	}
	for cmd, want := range map[string]string{
		"cl_status": "permission denied: cl_status needs root or group haclient\n",
		"status":    "permission denied: heartbeatd status needs root or group haclient\n",
		"standby":   "permission denied: hb_standby needs root\n",
		"takeover":  "permission denied: hb_takeover needs root\n",
		"cleanup":   "permission denied: heartbeatd cleanup needs root\n",
		"reload":    "permission denied: heartbeatd reload needs root\n",
		"outdate":   "permission denied: drbd-peer-outdater needs root\n",
		"x\nfake":   "permission denied: command \"x\\nfake\" needs root\n",
	} {
		if r := Denied(cmd); r.Stderr != want || r.Code != CodeDenied || r.Stdout != "" {
			t.Errorf("Denied(%q) = %+v, want %q", cmd, r, want)
		}
	}
}

// TestPeerCredentials reads our own credentials back through a socket pair.
func TestPeerCredentials(t *testing.T) {
	client, server := socketPair(t)
	defer client.Close()
	defer server.Close()
	p, err := peerCred(server)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, g := range groups {
		want = append(want, uint32(g))
	}
	slices.Sort(want)
	slices.Sort(p.groups)
	if int(p.uid) != os.Geteuid() || int(p.gid) != os.Getegid() || int(p.pid) != os.Getpid() || !slices.Equal(p.groups, want) {
		t.Fatalf("peer %+v, want uid %d gid %d pid %d groups %v", p, os.Geteuid(), os.Getegid(), os.Getpid(), want)
	}
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func TestWrongUIDRefused(t *testing.T) {
	called := false
	path, s := startServer(t, func(context.Context, Request) Response { called = true; return Response{} })
	s.AllowUID = os.Getuid() + 4242
	resp, err := Call(path, Request{Cmd: "standby"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp != strangerRefusal || called {
		t.Fatalf("non-root request not refused: %+v called=%v", resp, called)
	}
}

func TestMalformedAndOversizedRequests(t *testing.T) {
	path, _ := startServer(t, func(context.Context, Request) Response { return Response{Stdout: "ok"} })
	for name, payload := range map[string]string{
		"junk":     "\x00\x01garbage\n",
		"no cmd":   "{}\n",
		"oversize": `{"cmd":"x","args":["` + strings.Repeat("A", MaxRequest+10) + `"]}` + "\n",
	} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(payload))
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		c.Close()
		if !strings.Contains(string(buf[:n]), `"code":11`) {
			t.Errorf("%s: response %q, want a parameter error", name, buf[:n])
		}
	}
	// The server still works afterwards.
	if resp, err := Call(path, Request{Cmd: "x"}, 5*time.Second); err != nil || resp.Stdout != "ok" {
		t.Fatalf("server broken after bad input: %+v %v", resp, err)
	}
}

func TestSecondDaemonRefusedAndNotRunning(t *testing.T) {
	path, _ := startServer(t, func(context.Context, Request) Response { return Response{} })
	if _, err := Listen(path, nil); err == nil || !strings.Contains(err.Error(), "another heartbeatd") {
		t.Fatalf("second Listen: %v", err)
	}
	_, err := Call(filepath.Join(t.TempDir(), "none.sock"), Request{Cmd: "x"}, time.Second)
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("err = %v, want ErrNotRunning", err)
	}
}
