package control

import (
	"context"
	"strings"
)

// CodeTimeout is the exit code of a call the daemon did not answer in
// time: cl_status's own code for it.
const CodeTimeout = 12

// Pending is one request handed to the daemon's main loop, with the way back.
type Pending struct {
	Req   Request
	reply chan Response
}

// Reply answers the call; it never blocks.
func (c Pending) Reply(r Response) { c.reply <- r }

// Loop hands requests from the server's connection goroutines to the one
// goroutine that may touch the daemon's state, and keeps the calls that
// goroutine answers later (a standby waits for the resource manager).
// Only C is safe from other goroutines; the rest belongs to the loop.
type Loop struct {
	C       chan Pending
	pending map[uint64]Pending
	last    uint64
}

// NewLoop returns a Loop with an unbuffered C: a request waits until the
// loop takes it.
func NewLoop() *Loop { return &Loop{C: make(chan Pending), pending: map[uint64]Pending{}} }

// Handle is a Server's Handler: it hands req to the loop and waits for the
// reply, or for ctx (the server's per-connection time limit).
func (l *Loop) Handle(ctx context.Context, req Request) Response {
	call := Pending{Req: req, reply: make(chan Response, 1)}
	select {
	case l.C <- call:
	case <-ctx.Done():
		return Response{Stderr: "heartbeatd is busy\n", Code: CodeTimeout}
	}
	select {
	case r := <-call.reply:
		return r
	case <-ctx.Done():
		return Response{Stderr: "no answer from heartbeatd in time\n", Code: CodeTimeout}
	}
}

// Park keeps c until Answer is called with the ID it returns.
func (l *Loop) Park(c Pending) uint64 {
	l.last++
	l.pending[l.last] = c
	return l.last
}

// Answer replies to the parked call id; an unknown id is ignored.
func (l *Loop) Answer(id uint64, r Response) {
	if c, ok := l.pending[id]; ok {
		delete(l.pending, id)
		c.Reply(r)
	}
}

// Text is the response for a text answer: on stdout when ok, else on
// stderr with code 1 (or code, when not 0); a newline ends it.
func Text(ok bool, code int, text string) Response {
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if ok {
		return Response{Stdout: text}
	}
	if code == 0 {
		code = 1
	}
	return Response{Stderr: text, Code: code}
}
