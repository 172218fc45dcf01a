// Package control is the daemon's admin socket: a root-only unix stream socket
// in the run directory over which cl_status, hb_takeover, hb_standby,
// drbd-peer-outdater and `heartbeatd reload` talk to the running daemon.
//
// One connection carries one request and one response, each a single JSON
// line. Requests are untrusted input: they are size-limited, time-limited and
// accepted only from uid 0 (checked with SO_PEERCRED, not just by the
// socket's file mode, since a mis-set umask or a bind mount must not open the
// daemon to unprivileged users).
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
	// AllowUID lets tests accept a non-root peer; the daemon leaves it at 0.
	AllowUID int
	// Timeout bounds one request's handling.
	Timeout time.Duration
	// Log reports rejected or malformed requests.
	Log func(format string, args ...any)
}

// Listen creates the socket at path (removing a stale one) with mode 0600.
func Listen(path string, h Handler) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another heartbeatd is running", path)
	}
	os.Remove(path)
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{ln: ln, handler: h, Timeout: 5 * time.Minute, Log: func(string, ...any) {}}, nil
}

// Serve accepts connections until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context) error {
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
	if uid, err := peerUID(c); err != nil || uid != s.AllowUID {
		s.Log("control socket: refused connection from uid %d (%v)", uid, err)
		writeResponse(c, Response{Stderr: "permission denied: heartbeatd admin commands need root\n", Code: 1})
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

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

// ErrNotRunning means no daemon answers on the socket.
var ErrNotRunning = errors.New("heartbeatd is not running")

// Call sends one request and waits for the response, at most timeout.
func Call(path string, req Request, timeout time.Duration) (Response, error) {
	c, err := net.DialTimeout("unix", path, time.Second)
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
