package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startServer(t *testing.T, h Handler) (string, *Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), SocketName)
	s, err := Listen(path, h)
	if err != nil {
		t.Fatal(err)
	}
	s.AllowUID = os.Getuid()
	ctx, cancel := context.WithCancel(context.Background())
	go s.Serve(ctx)
	t.Cleanup(func() { cancel(); s.Close() })
	return path, s
}

func TestRoundTripAndMode(t *testing.T) {
	path, _ := startServer(t, func(_ context.Context, r Request) Response {
		return Response{Stdout: r.Cmd + ":" + strings.Join(r.Args, ","), Code: 3}
	})
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", st.Mode().Perm())
	}
	resp, err := Call(path, Request{Cmd: "cl_status", Args: []string{"rscstatus", "-m"}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Stdout != "cl_status:rscstatus,-m" || resp.Code != 3 {
		t.Fatalf("resp %+v", resp)
	}
}

func TestWrongUIDRefused(t *testing.T) {
	called := false
	path, s := startServer(t, func(context.Context, Request) Response { called = true; return Response{} })
	s.AllowUID = os.Getuid() + 4242
	resp, err := Call(path, Request{Cmd: "standby"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code == 0 || !strings.Contains(resp.Stderr, "permission denied") || called {
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
