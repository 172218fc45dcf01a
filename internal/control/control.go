// Package control is the daemon's admin socket: a unix stream socket in the
// run directory over which cl_status, hb_takeover, hb_standby,
// drbd-peer-outdater and `heartbeatd reload` talk to the running daemon.
//
// One connection carries one request and one response, each a single JSON
// line. Requests are untrusted input: they are size-limited and
// time-limited, and authorized per command from the peer's credentials as
// the kernel recorded them (SO_PEERCRED, SO_PEERGROUPS). Root may run
// everything; members of QueryGroup (haclient) may run the queries
// (cl_status), as Heartbeat lets its clients do; anyone else is refused
// before the request is read. The socket's mode (0660, group haclient) keeps
// strangers out already, but it is not relied on: a mis-set umask or a bind
// mount must not open the daemon to unprivileged users.
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// SocketName is the socket's file name inside the run directory.
const SocketName = "heartbeatd.sock"

// MaxRequest bounds one request line.
const MaxRequest = 64 << 10

// Request is one admin command.
type Request struct {
	Cmd  string   `json:"cmd"`
	Args []string `json:"args,omitempty"`
	// Env carries the few environment variables a command needs (e.g.
	// DRBD_RESOURCE for drbd-peer-outdater).
	Env map[string]string `json:"env,omitempty"`
}

// Response is the daemon's answer: text for the command to print and its
// exit code.
type Response struct {
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	Code   int    `json:"code"`
}

// Handler answers a request. It may block (e.g. waiting for a peer's answer);
// ctx is cancelled when the client goes away or the server shuts down.
type Handler func(ctx context.Context, req Request) Response

// Server accepts admin connections.
type Server struct {
	ln      *net.UnixListener
	handler Handler
	// AllowUID is the uid that may run every command: root for the daemon;
	// tests set their own.
	AllowUID int
	// query is the group whose members may run the queries, nil when
	// there is none (queries are then root-only too); notice says why.
	query  *queryGroup
	notice string
	// Timeout bounds one request's handling.
	Timeout time.Duration
	// Log reports rejected or malformed requests.
	Log func(format string, args ...any)
}

// Listen creates the socket at path (removing a stale one), owned by root
// and group QueryGroup with mode 0660, so that members of the group can
// connect for the queries. Without that group (or when the socket cannot be
// given to it) the socket is 0600 and every command is root-only; Serve
// logs that once.
func Listen(path string, h Handler) (*Server, error) { return listen(path, h, QueryGroup) }

func listen(path string, h Handler, group string) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another heartbeatd is running", path)
	}
	os.Remove(path)
	// Created 0600 and opened to the group only once it is the group's,
	// so that no other group ever holds it.
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &Server{ln: ln, handler: h, Timeout: 5 * time.Minute, Log: func(string, ...any) {}}
	mode := os.FileMode(0o600)
	g, err := lookupGroup(group)
	if err == nil {
		if err = os.Chown(path, -1, int(g.gid)); err == nil {
			s.query, mode = g, 0o660
		}
	}
	if err != nil {
		s.notice = fmt.Sprintf("control socket: cl_status is root-only: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return s, nil
}

// Serve accepts connections until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context) error {
	if s.notice != "" {
		s.Log("%s", s.notice)
	}
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.Log("control socket accept: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go s.serveConn(ctx, c)
	}
}

// Close stops accepting and removes the socket file.
func (s *Server) Close() error {
	path := s.ln.Addr().String()
	err := s.ln.Close()
	os.Remove(path)
	return err
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	p, err := peerCred(c)
	r := s.roleOf(p)
	if err != nil || r == stranger {
		s.Log("control socket: refused connection from uid %d gid %d pid %d (%v)", p.uid, p.gid, p.pid, err)
		writeResponse(c, strangerRefusal)
		return
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(&limited{c, MaxRequest + 1}, 4096).ReadBytes('\n')
	if err != nil {
		s.Log("control socket: bad request: %v", err)
		writeResponse(c, Response{Stderr: "bad request: " + err.Error() + "\n", Code: 11})
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil || req.Cmd == "" {
		s.Log("control socket: malformed request (%d bytes)", len(line))
		writeResponse(c, Response{Stderr: "malformed request\n", Code: 11})
		return
	}
	if r != admin && !IsQuery(req.Cmd) {
		s.Log("control socket: refused %s from uid %d pid %d: it needs root", toolName(req.Cmd), p.uid, p.pid)
		writeResponse(c, Denied(req.Cmd))
		return
	}
	hctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	resp := s.handler(hctx, req)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	writeResponse(c, resp)
}

func writeResponse(c net.Conn, r Response) {
	b, _ := json.Marshal(r)
	c.Write(append(b, '\n'))
}

type limited struct {
	c net.Conn
	n int
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("request longer than %d bytes", MaxRequest)
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.c.Read(p)
	l.n -= n
	return n, err
}

func peerCred(c *net.UnixConn) (peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peer{uid: ^uint32(0)}, err
	}
	p := peer{uid: ^uint32(0)}
	var perr error
	if err := raw.Control(func(fd uintptr) { p, perr = peerOf(int(fd)) }); err != nil {
		return peer{uid: ^uint32(0)}, err
	}
	if perr != nil {
		// Never judge a peer by half-read credentials.
		return peer{uid: ^uint32(0)}, perr
	}
	return p, nil
}

// ErrNotRunning means no daemon answers on the socket.
var ErrNotRunning = errors.New("heartbeatd is not running")

// Call sends one request and waits for the response, at most timeout. A
// socket whose mode refuses us is answered as the server would refuse the
// command (Denied), not as a daemon that is not running: a monitoring
// check run by the wrong user must not report the cluster down.
func Call(path string, req Request, timeout time.Duration) (Response, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return Denied(req.Cmd), nil
	}
	if err != nil {
		return Response{}, fmt.Errorf("%w (%s: %v)", ErrNotRunning, path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	_, werr := c.Write(append(b, '\n'))
	// A server that refuses us (wrong uid) answers and closes without
	// reading the request, so the write may fail with EPIPE after its
	// answer is already waiting: read it before reporting the write.
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		if werr != nil {
			return Response{}, fmt.Errorf("send request: %w", werr)
		}
		return Response{}, fmt.Errorf("read response: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("malformed response: %w", err)
	}
	return resp, nil
}
