package control

import (
	"context"
	"testing"
	"time"
)

func TestLoopHandsCallsOverAndAnswersParkedOnes(t *testing.T) {
	l := NewLoop()
	got := make(chan Response)
	go func() { got <- l.Handle(context.Background(), Request{Cmd: "standby"}) }()
	c := <-l.C
	if c.Req.Cmd != "standby" {
		t.Fatalf("loop got %+v", c.Req)
	}
	id := l.Park(c)
	l.Answer(id+1, Text(true, 0, "wrong one")) // ignored
	l.Answer(id, Text(false, 0, "refused"))
	if r := <-got; r.Code != 1 || r.Stderr != "refused\n" || r.Stdout != "" {
		t.Errorf("reply %+v", r)
	}
	l.Answer(id, Text(true, 0, "again")) // answered already: ignored, no block
}

func TestLoopHandleGivesUpWithItsContext(t *testing.T) {
	l := NewLoop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if r := l.Handle(ctx, Request{Cmd: "cl_status"}); r.Code != CodeTimeout {
		t.Errorf("nobody took the call: %+v", r)
	}
}
