package clstatus

import (
	"strconv"
	"testing"
	"time"

	"heartbeatd/internal/config"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// A ping node built from a running membership table: listed first (ha.cf
// puts ping lines after the node lines, and the walk is reversed), of
// type ping, status ping while it answers and dead after deadping, with
// its one link named after itself.
func TestBuildShowsPingNode(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 1, 40, 45, 0, time.UTC)
	mem, err := membership.New(membership.Config{Local: "pa1", Nodes: []string{"pa1"}, Links: []string{"eth1"},
		Keepalive: time.Second, Deadtime: 5 * time.Second, Warntime: 3 * time.Second, Initdead: 10 * time.Second,
		MaxRexmitDelay: 250 * time.Millisecond, Generation: 1, HopFudge: 1,
		PingNames: []string{"10.201.0.254"}, Deadping: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mem.Step(t0, membership.Start{})
	reply := wire.New("NS_st")
	for _, kv := range [][2]string{{"st", "ping"}, {"info", "ping"}, {"src", "10.201.0.254"}, {"ts", strconv.FormatInt(t0.Unix(), 16)}} {
		reply.Set(kv[0], kv[1])
	}
	mem.Step(t0.Add(100*time.Millisecond), membership.Received{Msg: reply, Link: "10.201.0.254"})
	r := rm.New(rm.Config{Local: "pa1", Peer: "pa2"})
	s := Build("3.0.6", "pa1", &config.Config{}, mem, r, t0)

	for _, c := range []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"listnodes"}, "10.201.0.254\npa1\n", OK},
		{[]string{"listnodes", "-p"}, "10.201.0.254\n", OK},
		{[]string{"listnodes", "-n"}, "pa1\n", OK},
		{[]string{"nodetype", "10.201.0.254"}, "ping\n", OK},
		{[]string{"nodetype", "pa1"}, "normal\n", OK},
		{[]string{"nodestatus", "10.201.0.254"}, "ping\n", OK},
		{[]string{"listhblinks", "10.201.0.254"}, "\t10.201.0.254\n", OK},
		{[]string{"hblinkstatus", "10.201.0.254", "10.201.0.254"}, "up\n", OK},
	} {
		if res := Run(c.args, s); res.Stdout != c.out || res.Code != c.code {
			t.Errorf("%v: code %d %q, want %d %q", c.args, res.Code, res.Stdout, c.code, c.out)
		}
	}

	now := t0.Add(100 * time.Millisecond)
	for i := 0; i < 100 && now.Before(t0.Add(6*time.Second)); i++ {
		now = mem.NextWake()
		mem.Step(now, membership.Tick{})
	}
	s = Build("3.0.6", "pa1", &config.Config{}, mem, r, now)
	if res := Run([]string{"nodestatus", "10.201.0.254"}, s); res.Stdout != "dead\n" || res.Code != 1 {
		t.Errorf("after deadping: nodestatus code %d %q", res.Code, res.Stdout)
	}
	if res := Run([]string{"hblinkstatus", "10.201.0.254", "10.201.0.254"}, s); res.Stdout != "dead\n" {
		t.Errorf("after deadping: hblinkstatus %q", res.Stdout)
	}
}
