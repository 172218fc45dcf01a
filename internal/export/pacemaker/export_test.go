package pacemaker

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"heartbeatd/internal/diag"
	"heartbeatd/internal/reload"
)

// cases are the configurations in testdata: seed002 is seed 002's files
// unchanged, seed000/001/003 are the clusters of those seeds written as
// haresources, lab is the Heartbeat 3.0.6 lab's files, stonith and mixed
// are synthetic and cover every mapping.
var cases = []string{"seed000", "seed001", "seed002", "seed003", "lab", "stonith", "mixed"}

// load reads dir with the daemon's reader, as the first node of its ha.cf,
// and fails the test on any error finding except about authkeys (export
// does not read keys; testdata has none).
func load(t *testing.T, dir string) *reload.Set {
	t.Helper()
	node := firstNode(t, dir)
	set, l := reload.Read(dir, node)
	for _, f := range l {
		if f.Severity == diag.Error && f.File != set.AuthFile {
			t.Fatalf("%s: %s", dir, f)
		}
	}
	return set
}

func firstNode(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "ha.cf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range strings.Split(string(data), "\n") {
		if f := strings.Fields(ln); len(f) >= 2 && f[0] == "node" {
			return f[1]
		}
	}
	t.Fatalf("%s/ha.cf: no node line", dir)
	return ""
}

// export builds the cluster of dir and fails on error findings.
func export(t *testing.T, dir string) (*Cluster, diag.List) {
	t.Helper()
	set := load(t, dir)
	c, l := Build(Input{Cfg: set.Cfg, Hares: set.Hares})
	if l.HasErrors() {
		t.Fatalf("%s: %v", dir, l.Err())
	}
	return c, l
}

// The parsed CIB, as far as the tests look at it.
type (
	xAttr struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	xPrim struct {
		ID       string  `xml:"id,attr"`
		Class    string  `xml:"class,attr"`
		Provider string  `xml:"provider,attr"`
		Type     string  `xml:"type,attr"`
		Params   []xMeta `xml:"instance_attributes"`
		Ops      []struct {
			Name     string `xml:"name,attr"`
			Interval string `xml:"interval,attr"`
			Role     string `xml:"role,attr"`
			OnFail   string `xml:"on-fail,attr"`
		} `xml:"operations>op"`
	}
	xMeta struct {
		NVs []xAttr `xml:"nvpair"`
	}
	xCIB struct {
		Validate string  `xml:"validate-with,attr"`
		Props    []xMeta `xml:"configuration>crm_config>cluster_property_set"`
		Stonith  []xPrim `xml:"configuration>resources>primitive"`
		Clones   []struct {
			ID   string  `xml:"id,attr"`
			Meta []xMeta `xml:"meta_attributes"`
			Prim xPrim   `xml:"primitive"`
		} `xml:"configuration>resources>clone"`
		Groups []struct {
			ID      string  `xml:"id,attr"`
			Members []xPrim `xml:"primitive"`
		} `xml:"configuration>resources>group"`
		Locations []struct {
			ID    string `xml:"id,attr"`
			Rsc   string `xml:"rsc,attr"`
			Role  string `xml:"role,attr"`
			Node  string `xml:"node,attr"`
			Score string `xml:"score,attr"`
		} `xml:"configuration>constraints>rsc_location"`
		Colocations []struct {
			Rsc      string `xml:"rsc,attr"`
			WithRsc  string `xml:"with-rsc,attr"`
			WithRole string `xml:"with-rsc-role,attr"`
			Score    string `xml:"score,attr"`
		} `xml:"configuration>constraints>rsc_colocation"`
		Orders []struct {
			First       string `xml:"first,attr"`
			FirstAction string `xml:"first-action,attr"`
			Then        string `xml:"then,attr"`
			ThenAction  string `xml:"then-action,attr"`
			Kind        string `xml:"kind,attr"`
		} `xml:"configuration>constraints>rsc_order"`
		RscDefaults []xMeta `xml:"configuration>rsc_defaults>meta_attributes"`
		OpDefaults  []xMeta `xml:"configuration>op_defaults>meta_attributes"`
	}
)

func parseCIB(t *testing.T, data []byte) xCIB {
	t.Helper()
	var c xCIB
	if err := xml.Unmarshal(data, &c); err != nil {
		t.Fatalf("CIB does not parse: %v\n%s", err, data)
	}
	return c
}

func attrs(sets []xMeta) string {
	var parts []string
	for _, s := range sets {
		for _, nv := range s.NVs {
			parts = append(parts, nv.Name+"="+nv.Value)
		}
	}
	return strings.Join(parts, " ")
}

func primLine(p xPrim) string {
	agent := p.Class + ":" + p.Type
	if p.Provider != "" {
		agent = p.Class + ":" + p.Provider + ":" + p.Type
	}
	s := p.ID + " " + agent
	if a := attrs(p.Params); a != "" {
		s += " " + a
	}
	for _, op := range p.Ops {
		s += " op:" + op.Name + "/" + op.Interval
		if op.Role != "" {
			s += "/" + op.Role
		}
		if op.OnFail != "" {
			s += "/on-fail=" + op.OnFail
		}
	}
	return s
}

// summary renders the parsed CIB one fact a line, in document order, so a
// test can state a whole configuration readably.
func summary(c xCIB) []string {
	var out []string
	out = append(out, "props "+attrs(c.Props))
	for _, p := range c.Stonith {
		out = append(out, "primitive "+primLine(p))
	}
	for _, cl := range c.Clones {
		out = append(out, fmt.Sprintf("clone %s [%s] %s", cl.ID, attrs(cl.Meta), primLine(cl.Prim)))
	}
	for _, g := range c.Groups {
		for i, m := range g.Members {
			out = append(out, fmt.Sprintf("group %s[%d] %s", g.ID, i, primLine(m)))
		}
	}
	for _, l := range c.Locations {
		role := ""
		if l.Role != "" {
			role = ":" + l.Role
		}
		out = append(out, fmt.Sprintf("location %s%s %s %s", l.Rsc, role, l.Node, l.Score))
	}
	for _, co := range c.Colocations {
		out = append(out, fmt.Sprintf("colocation %s with %s:%s %s", co.Rsc, co.WithRsc, co.WithRole, co.Score))
	}
	for _, o := range c.Orders {
		out = append(out, fmt.Sprintf("order %s:%s then %s:%s %s", o.First, o.FirstAction, o.Then, o.ThenAction, o.Kind))
	}
	out = append(out, "rsc_defaults "+attrs(c.RscDefaults), "op_defaults "+attrs(c.OpDefaults))
	return out
}

func diffLines(t *testing.T, name string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	t.Errorf("%s: got\n\t%s\nwant\n\t%s", name, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
}

// findings renders findings without their directory, sorted.
func findings(l diag.List) []string {
	var out []string
	for _, f := range l {
		f.File = filepath.Base(f.File)
		out = append(out, f.String())
	}
	sort.Strings(out)
	return out
}

var idAttr = regexp.MustCompile(` id="([^"]*)"`)
