package clstatus

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// snapshotA is the state of node pa1 in the A-main capture at 01:41:22
// (its cl_status.txt, taken during the lab run): Heartbeat's node walk
// returns the nodes and links in reverse configuration order.
func snapshotA() *Snapshot {
	links := []Link{{"eth2", "up"}, {"eth1", "up"}}
	return &Snapshot{
		Version:   "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)",
		Local:     "pa1",
		Nodes:     []Node{{"pa2", "active", "normal", links}, {"pa1", "active", "normal", links}},
		RscStatus: "local",
		Params:    map[string]string{"deadtime": "5", "keepalive": "1", "auto_failback": "on"},
		Deadtime:  5000,
		Keepalive: 1000,
	}
}

// The expected texts are copied from the real cl_status output in the capture.
func TestOutputsMatchRealHeartbeat(t *testing.T) {
	cases := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"hbstatus", "-v"}, "version:\t3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)\nmanaged by:\t\"haresources\"\n\npa2\tactive\t(nodetype: normal)\n\teth2\tup\n\teth1\tup\n\npa1\tactive\t(nodetype: normal)\n\teth2\tup\n\teth1\tup\n", 0},
		{[]string{"listnodes", "-v"}, "\npa2\tactive\t(nodetype: normal)\n\teth2\tup\n\teth1\tup\n\npa1\tactive\t(nodetype: normal)\n\teth2\tup\n\teth1\tup\n", 0},
		{[]string{"listnodes"}, "pa2\npa1\n", 0},
		{[]string{"nodestatus", "pa2"}, "active\n", 0},
		{[]string{"nodestatus", "-m", "pa2"}, "The cluster node pa2 is active\n", 0},
		{[]string{"hblinkstatus", "pa2", "eth1"}, "up\n", 0},
		{[]string{"listhblinks", "-v", "pa2"}, "\teth2\tup\n\teth1\tup\n", 0},
		{[]string{"rscstatus"}, "local\n", 0},
		{[]string{"rscstatus", "-m"}, "This node is holding local resources.\n", 0},
		{[]string{"hbparameter", "-p", "deadtime"}, "5\n", 0},
		{[]string{"hbparameter", "-p", "auto_failback"}, "on\n", 0},
		{[]string{"nodetype", "pa2"}, "normal\n", 0},
		{[]string{"test"}, "Dead time: 5000\n keeplive time: 1000\n mynodeid: pa1\n rsc: local\n", 0},
		{[]string{"hbstatus"}, "Heartbeat is running on this machine.\n", 0},
	}
	for _, c := range cases {
		r := Run(c.args, snapshotA())
		if d := cmp.Diff(c.want, r.Stdout); d != "" || r.Code != c.code {
			t.Errorf("cl_status %v: code %d (want %d), stdout diff (-want +got):\n%s", c.args, r.Code, c.code, d)
		}
	}
}

func TestDeadNodeAndLinkExitCodes(t *testing.T) {
	s := snapshotA()
	s.Nodes[0].Status = "dead"
	s.Nodes[0].Links = []Link{{"eth2", "dead"}, {"eth1", "dead"}}
	if r := Run([]string{"nodestatus", "pa2"}, s); r.Stdout != "dead\n" || r.Code != NormalFail {
		t.Errorf("nodestatus dead: %+v", r)
	}
	if r := Run([]string{"hblinkstatus", "pa2", "eth1"}, s); r.Stdout != "dead\n" || r.Code != NormalFail {
		t.Errorf("hblinkstatus dead: %+v", r)
	}
}

func TestParameterErrors(t *testing.T) {
	s := snapshotA()
	for _, args := range [][]string{
		{"nodestatus"}, {"nodestatus", "nosuch"}, {"hblinkstatus", "pa2"},
		{"hbparameter"}, {"listnodes", "-x"}, {"bogus"},
	} {
		r := Run(args, s)
		if r.Code != ParameterError {
			t.Errorf("%v: code %d, want %d (%q)", args, r.Code, ParameterError, r.Stderr)
		}
		if r.Stderr == "" {
			t.Errorf("%v: no message on stderr", args)
		}
	}
	if r := Run([]string{"hbparameter", "-p", "nosuch"}, s); r.Code != NormalFail {
		t.Errorf("unset parameter: code %d", r.Code)
	}
	if r := Run([]string{"hblinkstatus", "pa2", "eth9"}, s); r.Code != UnknownError {
		t.Errorf("unknown link: code %d", r.Code)
	}
}

func TestStoppedDaemon(t *testing.T) {
	if r := StoppedResult([]string{"hbstatus"}); r.Stdout != "Heartbeat is stopped on this machine.\n" || r.Code != NormalFail {
		t.Errorf("hbstatus stopped: %+v", r)
	}
	if r := StoppedResult([]string{"rscstatus"}); r.Code != NormalFail || r.Stdout != "" {
		t.Errorf("rscstatus stopped: %+v", r)
	}
	if r := StoppedResult([]string{"bogus"}); r.Code != ParameterError {
		t.Errorf("bogus stopped: %+v", r)
	}
}

func TestPingFilter(t *testing.T) {
	s := snapshotA()
	s.Nodes = append(s.Nodes, Node{Name: "10.201.0.254", Status: "ping", Type: "ping"})
	if r := Run([]string{"listnodes", "-p"}, s); r.Stdout != "10.201.0.254\n" {
		t.Errorf("-p: %q", r.Stdout)
	}
	if r := Run([]string{"listnodes", "-n"}, s); r.Stdout != "pa2\npa1\n" {
		t.Errorf("-n: %q", r.Stdout)
	}
	if r := Run([]string{"nodestatus", "10.201.0.254"}, s); r.Code != OK {
		t.Errorf("ping node status code %d", r.Code)
	}
}
