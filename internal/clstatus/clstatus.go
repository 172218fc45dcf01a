// Package clstatus answers cl_status sub-commands from a snapshot of the
// daemon's state, with Heartbeat 3.0.6's exact output and exit codes: scripts
// written for Heartbeat (monitoring checks, `cl_status rscstatus` in cron
// jobs, Nagios plugins) parse this text and test these codes.
//
// It is pure: the daemon builds a Snapshot inside its main loop and the text is
// produced here, so the formats are tested without sockets.
package clstatus

import (
	"fmt"
	"strings"
	"time"
)

// Exit codes of cl_status.
const (
	OK             = 0
	NormalFail     = 1
	ParameterError = 11
	Timeout        = 12
	UnknownError   = 13
)

// Link is one heartbeat link of a node as cl_status shows it.
type Link struct {
	Name   string
	Status string // up | dead
}

// Node is one cluster node.
type Node struct {
	Name   string
	Status string // active | up | init | dead | ping
	Type   string // normal | ping
	Links  []Link
}

// Snapshot is what cl_status may ask about.
type Snapshot struct {
	Version   string // hbversion parameter
	Local     string
	Nodes     []Node // in the order Heartbeat's node walk returns them
	RscStatus string // none | local | foreign | all | transition
	// FailedStarts are groups whose last start failed here, printed by
	// rscstatus after its one-word answer (only while there are some).
	FailedStarts []FailedStart
	// Params answers hbparameter -p NAME (values as written in ha.cf).
	Params    map[string]string
	Deadtime  int // ms, for "cl_status test"
	Keepalive int // ms
}

// FailedStart is a group whose start failed here: how many attempts were
// made of how many, and when the next step (retry, standby, asking the
// peer) is due.
type FailedStart struct {
	Key           string
	Attempts, Max int
	NextIn        time.Duration // 0: nothing scheduled
	GaveUp        bool
}

func (f FailedStart) String() string {
	switch {
	case f.GaveUp:
		return fmt.Sprintf("failed: %s: start failed %d of %d times; it stays stopped until fixed and taken over (hb_takeover) or heartbeatd restarts", f.Key, f.Attempts, f.Max)
	case f.NextIn > 0:
		return fmt.Sprintf("failed: %s: start attempt %d of %d failed; next step in %s", f.Key, f.Attempts, f.Max, f.NextIn.Round(time.Second))
	}
	return fmt.Sprintf("failed: %s: start attempt %d of %d failed", f.Key, f.Attempts, f.Max)
}

// Result is the text to print and the exit code.
type Result struct {
	Stdout string
	Stderr string
	Code   int
}

// Usage is cl_status's help screen.
const Usage = `Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
	Show the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
	Show the status of a heartbeat link
hbstatus
	Indicate if heartbeat is running on the local system.
	Options:
		-v	verbose: also add "listnodes -v" output
listnodes [<option>]
	List the nodes in the cluster.
	Options:
		-p	list only 'ping' type nodes
		-n	list only 'normal' type nodes
		-v	verbose: also list type and status,
			then add "listhblinks -v" output
listhblinks <node-name>
	List the network interfaces used as hearbeat links.
	Options:
		-v	verbose: list link status as well
nodestatus <node-name>
	List the node status.
nodeweight <node-name>
	List the node weight.
nodesite <node-name>
	List the node site.
nodetype <node-name>
	List the nodes of a given type.
rscstatus
	Show the status of cluster resources.
hbparameter -p <parameter-name>
	Retrieve the value of a cluster parameter.
	As for the valid parameter names, please refer to the man page.
`

// StoppedResult is what cl_status prints when the daemon cannot be reached.
// Only hbstatus has a defined answer; every other sub-command needs a signon.
func StoppedResult(args []string) Result {
	if len(args) > 0 && args[0] == "hbstatus" {
		return Result{Stdout: "Heartbeat is stopped on this machine.\n", Code: NormalFail}
	}
	if len(args) == 0 || !known(args[0]) {
		return Run(args, nil)
	}
	return Result{Stderr: "ERROR: Cannot signon with heartbeat\nERROR: REASON: cannot reach heartbeatd\n", Code: NormalFail}
}

type opts struct {
	flags map[byte]bool
	p     string
	pos   []string
}

// parse is getopt over the sub-command's arguments: known one-letter flags
// anywhere (GNU getopt permutes), "-p NAME" for hbparameter, the rest positional.
func parse(args []string, optstr string) (opts, error) {
	o := opts{flags: map[byte]bool{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.pos = append(o.pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			o.pos = append(o.pos, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(optstr, c)
			if k < 0 {
				return o, fmt.Errorf("invalid option -- '%c'", c)
			}
			if k+1 < len(optstr) && optstr[k+1] == ':' {
				if j+1 < len(a) {
					o.p = a[j+1:]
				} else if i+1 < len(args) {
					i++
					o.p = args[i]
				} else {
					return o, fmt.Errorf("option requires an argument -- '%c'", c)
				}
				break
			}
			o.flags[c] = true
		}
	}
	return o, nil
}

var optstrs = map[string]string{
	"hbstatus": "mv", "listnodes": "mpnv", "nodestatus": "m", "nodeweight": "m",
	"nodesite": "m", "nodetype": "m", "listhblinks": "mv", "hblinkstatus": "m",
	"clientstatus": "m", "rscstatus": "m", "hbparameter": "mp:", "test": "",
}

func known(cmd string) bool { _, ok := optstrs[cmd]; return ok }

// Run executes one cl_status command line (without the program name).
func Run(args []string, s *Snapshot) Result {
	if len(args) == 0 || (len(args) == 1 && args[0] == "-h") {
		return Result{Stdout: Usage}
	}
	cmd := args[0]
	optstr, ok := optstrs[cmd]
	if !ok {
		return Result{Stderr: fmt.Sprintf("ERROR: %s: invalid sub-command.\n", cmd), Code: ParameterError}
	}
	if s == nil {
		return StoppedResult(args)
	}
	o, err := parse(args[1:], optstr)
	if err != nil {
		return Result{Stderr: "cl_status: " + err.Error() + "\n", Code: ParameterError}
	}
	var w strings.Builder
	human := o.flags['m']
	need := func(n int, msg string) *Result {
		if len(o.pos) < n {
			return &Result{Stderr: msg + "\n", Code: ParameterError}
		}
		return nil
	}
	switch cmd {
	case "hbstatus":
		if !o.flags['v'] {
			return Result{Stdout: "Heartbeat is running on this machine.\n"}
		}
		if human {
			fmt.Fprintf(&w, "Heartbeat version %s\nResources controlled by \"haresources\"\n", s.Version)
		} else {
			fmt.Fprintf(&w, "version:\t%s\nmanaged by:\t\"haresources\"\n", s.Version)
		}
		s.listNodes(&w, false, false, true, human)
		return Result{Stdout: w.String()}
	case "listnodes":
		s.listNodes(&w, o.flags['n'], o.flags['p'], o.flags['v'], human)
		return Result{Stdout: w.String()}
	case "nodestatus", "nodetype", "nodeweight", "nodesite":
		if r := need(1, "Not enough parameters."); r != nil {
			return *r
		}
		name := o.pos[0]
		n := s.node(name)
		if n == nil {
			if cmd == "nodeweight" {
				return Result{Stderr: "Error. Maybe due to incorrect node name.\n", Code: ParameterError}
			}
			return Result{Stderr: "Error. May be due to incorrect node name\n", Code: ParameterError}
		}
		switch cmd {
		case "nodestatus":
			if human {
				fmt.Fprintf(&w, "The cluster node %s is %s\n", name, n.Status)
			} else {
				fmt.Fprintf(&w, "%s\n", n.Status)
			}
			code := NormalFail
			if n.Status == "active" || n.Status == "up" || n.Status == "ping" {
				code = OK
			}
			return Result{Stdout: w.String(), Code: code}
		case "nodetype":
			if human {
				fmt.Fprintf(&w, "The node %s's type: %s\n", name, n.Type)
			} else {
				fmt.Fprintf(&w, "%s\n", n.Type)
			}
		case "nodeweight":
			if human {
				fmt.Fprintf(&w, "The weight of the cluster node %s is 100\n", name)
			} else {
				w.WriteString("100\n")
			}
		case "nodesite":
			if human {
				fmt.Fprintf(&w, "The site of the cluster node %s is \n", name)
			} else {
				w.WriteString("\n")
			}
		}
		return Result{Stdout: w.String()}
	case "listhblinks":
		if r := need(1, "No enough parameter."); r != nil {
			return *r
		}
		n := s.node(o.pos[0])
		if n == nil {
			return Result{Stderr: "ERROR: Cannot start heartbeat link interface walk.\nERROR: REASON: unknown node\n", Code: UnknownError}
		}
		listLinks(&w, n, o.flags['v'], human)
		return Result{Stdout: w.String()}
	case "hblinkstatus":
		if r := need(2, "No enough parameter."); r != nil {
			return *r
		}
		n := s.node(o.pos[0])
		var st string
		if n != nil {
			for _, l := range n.Links {
				if l.Name == o.pos[1] {
					st = l.Status
				}
			}
		}
		if st == "" {
			return Result{Stderr: "ERROR: Cannot get heartbeat link status\nERROR: REASON: no such node or link\n", Code: UnknownError}
		}
		if human {
			fmt.Fprintf(&w, "The node %s's heartbeat link %s is %s\n", o.pos[0], o.pos[1], st)
		} else {
			fmt.Fprintf(&w, "%s\n", st)
		}
		code := NormalFail
		if st == "up" {
			code = OK
		}
		return Result{Stdout: w.String(), Code: code}
	case "clientstatus":
		if r := need(2, "No enough parameter."); r != nil {
			return *r
		}
		// heartbeatd has no API clients: a client is never online. Heartbeat
		// answers "offline" from the peer; the local tool then reports it
		// could not get the status (observed in the captures).
		return Result{Stderr: fmt.Sprintf("ERROR: Cannot get heartbeat client %s's status\nERROR: REASON: No timely response.\n", o.pos[1]), Code: UnknownError}
	case "rscstatus":
		if human {
			fmt.Fprintf(&w, "This node is holding %s resources.\n", s.RscStatus)
		} else {
			fmt.Fprintf(&w, "%s\n", s.RscStatus)
		}
		// The one-word answer stays the first line, as scripts read it;
		// a failed start adds what an admin at 3 a.m. needs to know.
		for _, f := range s.FailedStarts {
			fmt.Fprintf(&w, "%s\n", f)
		}
		return Result{Stdout: w.String()}
	case "hbparameter":
		if o.p == "" {
			return Result{Stderr: "ERROR: parameter name required\n", Code: ParameterError}
		}
		v, ok := s.Params[o.p]
		if !ok {
			return Result{Stderr: fmt.Sprintf("ERROR: Cannot get parameter %s's value\nERROR: REASON: not set\n", o.p), Code: NormalFail}
		}
		if human {
			fmt.Fprintf(&w, "Heartbeat parameter %s's value: %s\n", o.p, v)
		} else {
			fmt.Fprintf(&w, "%s\n", v)
		}
		return Result{Stdout: w.String()}
	case "test":
		fmt.Fprintf(&w, "Dead time: %d\n keeplive time: %d\n mynodeid: %s\n rsc: %s\n", s.Deadtime, s.Keepalive, s.Local, s.RscStatus)
		return Result{Stdout: w.String()}
	}
	return Result{Code: UnknownError}
}

func (s *Snapshot) node(name string) *Node {
	for i := range s.Nodes {
		if strings.EqualFold(s.Nodes[i].Name, name) {
			return &s.Nodes[i]
		}
	}
	return nil
}

func (s *Snapshot) listNodes(w *strings.Builder, normalOnly, pingOnly, verbose, human bool) {
	if normalOnly && pingOnly {
		normalOnly, pingOnly = false, false
	}
	if human {
		w.WriteString("The nodes are as follow:\n")
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		if normalOnly && n.Type != "normal" || pingOnly && n.Type != "ping" {
			continue
		}
		if !verbose {
			fmt.Fprintf(w, "%s\n", n.Name)
			continue
		}
		fmt.Fprintf(w, "\n%s\t%s\t(nodetype: %s)\n", n.Name, n.Status, n.Type)
		listLinks(w, n, true, human)
	}
}

func listLinks(w *strings.Builder, n *Node, verbose, human bool) {
	if human {
		w.WriteString("\tthis node has the following heartbeat links:\n")
	}
	for _, l := range n.Links {
		if verbose {
			fmt.Fprintf(w, "\t%s\t%s\n", l.Name, l.Status)
		} else {
			fmt.Fprintf(w, "\t%s\n", l.Name)
		}
	}
}
