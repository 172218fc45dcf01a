package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// clientEnv makes the test binary a control client (see TestMain): the
// socket path and the command, separated by a newline.
const clientEnv = "HBDT_CONTROL_CLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(clientEnv); spec != "" {
		path, cmd, _ := strings.Cut(spec, "\n")
		resp, err := Call(path, Request{Cmd: cmd}, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		json.NewEncoder(os.Stdout).Encode(resp)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var allCommands = []string{"cl_status", "status", "standby", "takeover", "cleanup", "reload", "outdate"}

// TestNonRootPeers runs the real server (root) on a socket owned by a
// temporary query group and connects from child processes running as
// temporary non-root users:
//
//   - a member of the group (supplementary, as after a login, or as its
//     primary group) may run the queries and is refused every other
//     command with "permission denied: TOOL needs root", code 1;
//   - a user outside the group is refused everything: by the socket's
//     mode at connect() (Call turns that into the same refusal), and by the
//     server itself when the mode is opened by mistake;
//   - root still runs everything.
//
// The group and users are created with groupadd/useradd, named hbdt_*, and
// removed afterwards.
func TestNonRootPeers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a group and users and runs clients under their uids")
	}
	for _, tool := range []string{"groupadd", "groupdel", "useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	sfx := strconv.Itoa(os.Getpid())
	query := addGroup(t, "hbdt_q"+sfx) // stands in for haclient
	other := addGroup(t, "hbdt_o"+sfx) // the users' own group
	member := addUser(t, "hbdt_m"+sfx, other.Name, query.Name)
	outsider := addUser(t, "hbdt_s"+sfx, other.Name, "")

	// A directory every user may enter, holding the run directory and a
	// copy of this test binary (go test's own directory is root's).
	base, err := os.MkdirTemp("", "hbdt_control")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(base, "control.test")
	copyExecutable(t, client)

	var mu sync.Mutex
	var handled []string
	var logs logLines
	path := filepath.Join(base, "run", SocketName)
	s, err := listen(path, func(_ context.Context, r Request) Response {
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, r.Cmd)
		return Response{Stdout: "ran " + r.Cmd + "\n"}
	}, query.Name)
	if err != nil {
		t.Fatal(err)
	}
	s.Log = logs.add
	ctx, cancel := context.WithCancel(context.Background())
	go s.Serve(ctx)
	t.Cleanup(func() { cancel(); s.Close() })
	if s.query == nil {
		t.Fatalf("query group not taken: %q", logs.get())
	}

	takeHandled := func() []string {
		mu.Lock()
		defer mu.Unlock()
		h := handled
		handled = nil
		return h
	}
	type cred struct {
		name string
		c    *syscall.Credential
	}
	creds := []cred{
		{"member (supplementary group)", &syscall.Credential{Uid: member.uid, Gid: other.gid, Groups: []uint32{query.gid}}},
		{"member (primary group)", &syscall.Credential{Uid: member.uid, Gid: query.gid, Groups: []uint32{}}},
	}
	for _, c := range creds {
		for _, cmd := range allCommands {
			resp := callAs(t, client, path, cmd, c.c)
			if IsQuery(cmd) {
				if resp != (Response{Stdout: "ran " + cmd + "\n"}) {
					t.Errorf("%s: %s: %+v, want it run", c.name, cmd, resp)
				}
				continue
			}
			if resp != Denied(cmd) {
				t.Errorf("%s: %s: %+v, want %+v", c.name, cmd, resp, Denied(cmd))
			}
		}
		if h := takeHandled(); strings.Join(h, " ") != "cl_status status" {
			t.Errorf("%s: handler ran %q, want only the queries", c.name, h)
		}
	}
	if !strings.Contains(strings.Join(logs.get(), "\n"), fmt.Sprintf("control socket: refused hb_standby from uid %d", member.uid)) {
		t.Errorf("no log line for the refused hb_standby:\n%s", strings.Join(logs.get(), "\n"))
	}
	if want := "permission denied: hb_standby needs root\n"; Denied("standby").Stderr != want {
		t.Errorf("hb_standby refusal %q, want %q", Denied("standby").Stderr, want)
	}

	// Outside the group: the socket's mode refuses the connection.
	outside := &syscall.Credential{Uid: outsider.uid, Gid: other.gid, Groups: []uint32{}}
	for _, cmd := range allCommands {
		if resp := callAs(t, client, path, cmd, outside); resp != Denied(cmd) {
			t.Errorf("outsider: %s: %+v, want %+v", cmd, resp, Denied(cmd))
		}
	}
	// A socket opened to everyone by mistake: the server refuses on its own.
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range allCommands {
		if resp := callAs(t, client, path, cmd, outside); resp != strangerRefusal {
			t.Errorf("outsider on a 0666 socket: %s: %+v, want %+v", cmd, resp, strangerRefusal)
		}
	}
	if h := takeHandled(); len(h) > 0 {
		t.Errorf("handler ran %q for the outsider", h)
	}
	if !strings.Contains(strings.Join(logs.get(), "\n"), fmt.Sprintf("control socket: refused connection from uid %d gid %d", outsider.uid, other.gid)) {
		t.Errorf("no log line for the outsider:\n%s", strings.Join(logs.get(), "\n"))
	}

	// Root runs everything.
	for _, cmd := range allCommands {
		if resp, err := Call(path, Request{Cmd: cmd}, 5*time.Second); err != nil || resp.Stdout != "ran "+cmd+"\n" {
			t.Errorf("root: %s: %+v %v", cmd, resp, err)
		}
	}
}

type account struct {
	Name     string
	uid, gid uint32
}

// addGroup creates a group and removes it when the test ends.
func addGroup(t *testing.T, name string) account {
	t.Helper()
	if _, err := user.LookupGroup(name); err == nil {
		t.Fatalf("group %s exists already: left by an earlier run?", name)
	}
	if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("groupdel", name).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v\n%s", name, err, out)
		}
	})
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.ParseUint(g.Gid, 10, 32)
	return account{Name: name, gid: uint32(gid)}
}

// addUser creates a system user with primary group primary and, if not
// empty, supplementary group extra; it is removed when the test ends
// (before its groups, which were registered first).
func addUser(t *testing.T, name, primary, extra string) account {
	t.Helper()
	if _, err := user.Lookup(name); err == nil {
		t.Fatalf("user %s exists already: left by an earlier run?", name)
	}
	args := []string{"--system", "--no-create-home", "--no-user-group", "--gid", primary, "--shell", "/usr/sbin/nologin"}
	if extra != "" {
		args = append(args, "--groups", extra)
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return account{Name: name, uid: uint32(uid), gid: uint32(gid)}
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// callAs runs the test binary as a control client with the credentials
// cred and returns the response it got.
func callAs(t *testing.T, client, path, cmd string, cred *syscall.Credential) Response {
	t.Helper()
	c := exec.Command(client)
	c.Dir = filepath.Dir(client)
	c.Env = []string{clientEnv + "=" + path + "\n" + cmd}
	c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("client %s as uid %d: %v\n%s", cmd, cred.Uid, err, stderr.String())
	}
	var resp Response
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("client %s as uid %d: %q: %v", cmd, cred.Uid, out, err)
	}
	return resp
}
