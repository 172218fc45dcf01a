package control

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// FuzzRequest sends arbitrary bytes down an admin connection and runs the
// server's own connection handler on the other end (a socket pair, so
// SO_PEERCRED and the deadlines are real). Whatever arrives:
//
//   - the client gets exactly one JSON line it can decode;
//   - the handler runs only for a first line, within the size limit, that is
//     a JSON request with a command, and gets exactly that request: nothing
//     after the first newline leaks into it;
//   - anything else is answered with code 11 and a reason;
//   - an accepted request, encoded again as Call encodes it, is accepted
//     again as the same request.
//
// A socket pair per input (two when it is accepted): about 10 s on two cores.
// fuzz-execs: 80000
func FuzzRequest(f *testing.F) {
	// What the admin commands send (heartbeatd/admin.go, outdater.go).
	for _, r := range []Request{
		{Cmd: "cl_status", Args: []string{"hbstatus"}},
		{Cmd: "cl_status", Args: []string{"rscstatus", "-m"}},
		{Cmd: "standby", Args: []string{"all"}},
		{Cmd: "takeover", Args: []string{"foreign"}},
		{Cmd: "reload"},
		{Cmd: "cleanup", Args: []string{"IPaddr::10.0.0.5/24/eth0"}},
		{Cmd: "outdate", Env: map[string]string{"resource": "r0", "peer": "pa2", "timeout": "1m0s"}},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append(b, '\n'))
	}
	for _, s := range []string{
		"{}\n", "\x00\x01garbage\n", `{"cmd":"reload"}`, `{"cmd":"reload"}` + "\n" + `{"cmd":"standby"}` + "\n",
		`{"cmd":"x","env":{}}` + "\n", `{"CMD":"x","args":null,"extra":1}` + "\n", `{"cmd":"\ud800"}` + "\n",
		`{"cmd":"x","args":["a"]}{"cmd":"y"}` + "\n", `[1,2]` + "\n", "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, got := serveOnce(t, data)
		var want Request
		line, _, found := bytes.Cut(data, []byte("\n"))
		accept := found && len(line)+1 <= MaxRequest+1 && json.Unmarshal(line, &want) == nil && want.Cmd != ""
		switch {
		case accept && got == nil:
			t.Fatalf("%q refused: %+v", data, resp)
		case !accept && got != nil:
			t.Fatalf("%q accepted as %+v", data, *got)
		case !accept && (resp.Code != 11 || resp.Stderr == ""):
			t.Fatalf("%q answered %+v, want code 11 and a reason", data, resp)
		case !accept:
			return
		case resp != Response{Stdout: "ok"}:
			t.Fatalf("%q answered %+v, not the handler's response", data, resp)
		}
		if d := cmp.Diff(want, *got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("%q reached the handler as (-first line +got)\n%s", data, d)
		}
		b, err := json.Marshal(*got)
		if err != nil {
			t.Fatalf("accepted %+v cannot be encoded again: %v", *got, err)
		}
		if _, again := serveOnce(t, append(b, '\n')); again == nil {
			t.Fatalf("%+v, encoded again as %q, refused", *got, b)
		} else if d := cmp.Diff(*got, *again, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("%+v encoded again as %q (-first +again)\n%s", *got, b, d)
		}
	})
}

// serveOnce writes data to one end of a socket pair, closes its write side
// and runs serveConn on the other end. It returns the decoded response
// (failing unless it is exactly one JSON line) and the request the handler
// got, nil if it was not called.
func serveOnce(t *testing.T, data []byte) (Response, *Request) {
	t.Helper()
	client, server := socketPair(t)
	defer client.Close()
	var got *Request
	s := &Server{
		handler: func(_ context.Context, r Request) Response {
			got = &r
			return Response{Stdout: "ok"}
		},
		AllowUID: os.Getuid(),
		Timeout:  time.Second,
		Log:      func(string, ...any) {},
	}
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// The server stops reading at the first newline or the size
		// limit and closes: the rest of the write fails, as with a real
		// client that keeps sending.
		client.Write(data)
		client.CloseWrite()
	}()
	s.serveConn(context.Background(), server)
	<-wrote
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	out, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	if bytes.IndexByte(out, '\n') != len(out)-1 {
		t.Fatalf("response %q is not one line", out)
	}
	var resp Response
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %q: %v", out, err)
	}
	return resp, got
}

func socketPair(t *testing.T) (client, server *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}
