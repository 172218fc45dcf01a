package pacemaker

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// simCluster drives crm_simulate over an exported CIB: the policy engine
// of Pacemaker 2.1 decides, every action is assumed to succeed. Quorum is
// always given (-q 1): corosync's two_node keeps the survivor quorate.
type simCluster struct {
	t     *testing.T
	state string // the CIB with status, after the last transition
	nodes []string
	drbd  []string // ocf:linbit:drbd primitive ids
	tools map[string]string
}

func newSim(t *testing.T, c *Cluster) *simCluster {
	t.Helper()
	s := &simCluster{t: t, nodes: c.Nodes, tools: map[string]string{}}
	for _, name := range []string{"crm_simulate", "crm_attribute", "crm_mon", "cibadmin"} {
		s.tools[name] = requireTool(t, name)
	}
	for _, cl := range c.Clones {
		s.drbd = append(s.drbd, cl.Prim.ID)
	}
	s.state = filepath.Join(t.TempDir(), "cib.xml")
	if err := os.WriteFile(s.state, c.CIB(), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs a tool on the state file (CIB_file) and returns its output.
func (s *simCluster) run(tool string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.tools[tool], args...)
	cmd.Env = append(os.Environ(), "CIB_file="+s.state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// transition runs one simulated transition with extra arguments and
// reports whether it had anything to do.
func (s *simCluster) transition(args ...string) bool {
	s.t.Helper()
	next := s.state + ".next"
	out := s.run("crm_simulate", append([]string{"--xml-file", s.state, "--simulate", "--quorum", "1", "--save-output", next}, args...)...)
	if err := os.Rename(next, s.state); err != nil {
		s.t.Fatal(err)
	}
	_, summary, _ := strings.Cut(out, "Transition Summary:")
	summary, _, _ = strings.Cut(summary, "Executing Cluster Transition:")
	return strings.TrimSpace(summary) != ""
}

// settle runs transitions until none has anything to do.
func (s *simCluster) settle() {
	s.t.Helper()
	for i := 0; i < 10; i++ {
		if !s.transition() {
			return
		}
	}
	s.t.Fatalf("the cluster does not settle:\n%s", s.run("crm_mon", "-1"))
}

// up brings nodes online as freshly booted, with DRBD's promotion score
// set as the drbd agent sets it on an UpToDate disk (crm_simulate runs no
// agent).
func (s *simCluster) up(nodes ...string) {
	s.t.Helper()
	var args []string
	for _, n := range nodes {
		args = append(args, "--node-up", n)
	}
	s.transition(args...)
	for _, n := range nodes {
		for _, p := range s.drbd {
			s.run("crm_attribute", "--node", n, "--lifetime", "reboot", "--name", "master-"+p, "--update", "10000")
		}
	}
	s.settle()
}

// fail makes node fail (and, with fencing, be fenced).
func (s *simCluster) fail(node string) {
	s.t.Helper()
	s.transition("--node-fail", node)
	s.settle()
}

// reboot brings a failed node back with a clean state.
func (s *simCluster) reboot(node string) {
	s.t.Helper()
	s.run("cibadmin", "--delete", "--xpath", fmt.Sprintf("//node_state[@uname='%s']", node))
	s.up(node)
}

// where tells, per resource id, the roles and nodes it runs in
// ("Started@node1", "Promoted@node1 Unpromoted@node2").
func (s *simCluster) where() map[string]string {
	s.t.Helper()
	var mon struct {
		Resources []monRsc `xml:"resources>resource"`
		Clones    []struct {
			Resources []monRsc `xml:"resource"`
		} `xml:"resources>clone"`
		Groups []struct {
			Resources []monRsc `xml:"resource"`
		} `xml:"resources>group"`
	}
	out := s.run("crm_mon", "--one-shot", "--output-as=xml")
	if err := xml.Unmarshal([]byte(out), &mon); err != nil {
		s.t.Fatalf("crm_mon: %v\n%s", err, out)
	}
	all := mon.Resources
	for _, c := range mon.Clones {
		all = append(all, c.Resources...)
	}
	for _, g := range mon.Groups {
		all = append(all, g.Resources...)
	}
	m := map[string]string{}
	for _, r := range all {
		for _, n := range r.Nodes {
			m[r.ID] = strings.TrimSpace(m[r.ID] + " " + r.Role + "@" + n.Name)
		}
	}
	return m
}

type monRsc struct {
	ID    string `xml:"id,attr"`
	Role  string `xml:"role,attr"`
	Nodes []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

// expect checks that every group runs entirely on the node placed[group]
// says, and every DRBD clone is promoted there and nowhere else.
func (s *simCluster) expect(when string, c *Cluster, placed map[string]string) {
	s.t.Helper()
	got := s.where()
	for _, g := range c.Groups {
		for _, p := range g.Members {
			if want := "Started@" + placed[g.ID]; got[p.ID] != want {
				s.t.Errorf("%s: %s of group %s is %q, want %q", when, p.ID, g.ID, got[p.ID], want)
			}
		}
	}
	for _, l := range c.Locations {
		if l.Role != "Promoted" {
			continue
		}
		prim := ""
		for _, cl := range c.Clones {
			if cl.ID == l.Rsc {
				prim = cl.Prim.ID
			}
		}
		if want := "Promoted@" + placed[l.Rsc]; !strings.Contains(got[prim], want) || strings.Count(got[prim], "Promoted@") != 1 {
			s.t.Errorf("%s: %s is %q, want it %s only", when, prim, got[prim], want)
		}
	}
}

// homes maps every group and promoted clone to its home node.
func homes(c *Cluster) map[string]string {
	m := map[string]string{}
	for _, l := range c.Locations {
		if l.Score == fmt.Sprint(HomeScore) {
			m[l.Rsc] = l.Node
		}
	}
	return m
}

// TestSimulatedFailover runs the export of every haresources file of the
// repository's test data through Pacemaker's scheduler: both nodes up,
// every group starts on its home node; the home node fails, its groups
// move to the other node; it comes back, and the groups go home again with
// auto_failback on or legacy and stay with off.
func TestSimulatedFailover(t *testing.T) {
	for rel, dir := range allHaresources(t) {
		t.Run(rel, func(t *testing.T) {
			c, _ := export(t, dir)
			home := homes(c)
			failback := load(t, dir).Cfg.AutoFailback != "off"
			for _, failed := range c.Nodes {
				s := newSim(t, c)
				s.up(c.Nodes...)
				s.expect("both nodes up", c, home)

				other := c.Nodes[0]
				if other == failed {
					other = c.Nodes[1]
				}
				moved := map[string]string{}
				for rsc, n := range home {
					moved[rsc] = n
					if n == failed {
						moved[rsc] = other
					}
				}
				s.fail(failed)
				s.expect(failed+" failed", c, moved)

				s.reboot(failed)
				if failback {
					s.expect(failed+" back (failback)", c, home)
				} else {
					s.expect(failed+" back (no failback)", c, moved)
				}
			}
		})
	}
}
