package pacemaker

import (
	"fmt"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

// HomeScore is the location preference of a group for its haresources home
// node. Any positive value would do on its own; 100 is what seed 003 and
// most Pacemaker examples use, and it is what resource-stickiness is
// measured against (see stickiness).
const HomeScore = 100

// NV is one name=value attribute. Why, when set, is written as a comment
// before it: the reason an admin needs to see the value.
type NV struct {
	Name, Value string
	Why         string
}

// Op is one operation definition of a primitive.
type Op struct {
	Name     string // monitor, start, stop
	Interval string // "10s", "0s" for start/stop
	Timeout  string // "" = op_defaults
	Role     string // Promoted, Unpromoted, "" = any
	OnFail   string // "" = Pacemaker's default
}

// Primitive is one resource agent instance.
type Primitive struct {
	ID       string
	Class    string // ocf, lsb, stonith
	Provider string // ocf only
	Type     string
	Params   []NV
	Meta     []NV
	Ops      []Op
	// Notes are comment lines written before the primitive.
	Notes []string
}

// Agent renders class:provider:type as crm shell writes it.
func (p *Primitive) Agent() string {
	if p.Provider != "" {
		return p.Class + ":" + p.Provider + ":" + p.Type
	}
	return p.Class + ":" + p.Type
}

// Group is one haresources line.
type Group struct {
	ID   string
	Home string
	// Source is the haresources line as Heartbeat logs it, with its file
	// and line, for the comment above the group.
	Source  string
	Members []*Primitive
	Notes   []string
}

// Clone is a promotable clone (DRBD).
type Clone struct {
	ID    string
	Meta  []NV
	Prim  *Primitive
	Notes []string
}

// Location prefers (or, with a negative score, avoids) a node for a
// resource; Role limits it to the Promoted role of a clone.
type Location struct {
	ID, Rsc, Node, Role, Score string
}

// Colocation keeps Rsc where WithRsc (in WithRole) is.
type Colocation struct {
	ID, Rsc, WithRsc, WithRole, Score string
}

// Order starts Then after First.
type Order struct {
	ID, First, FirstAction, Then, ThenAction string
}

// Cluster is the whole export: everything the CIB and the crm commands
// hold, in output order.
type Cluster struct {
	Nodes       []string
	Props       []NV // crm_config, cib-bootstrap-options
	RscDefaults []NV
	OpDefaults  []NV
	Stonith     []*Primitive
	Clones      []*Clone
	Groups      []*Group
	Locations   []Location
	Colocations []Colocation
	Orders      []Order
	// Notes are comment lines at the top of the output: the warnings
	// that concern the cluster as a whole.
	Notes []string
}

// Input is what Build reads. Cfg and Hares come from reload.Read (the
// daemon's own reader); StonithFiles holds the contents of the files that
// ha.cf's `stonith TYPE FILE` lines name, keyed by the path as written
// (a missing entry is reported, not fatal).
type Input struct {
	Cfg          *config.Config
	Hares        *haresources.File
	StonithFiles map[string]string
}

// builder carries the state of one Build.
type builder struct {
	in    Input
	c     *Cluster
	ids   idSet
	diags diag.List
	// tids are the iSCSI target ids in use (given in haresources or
	// assigned here), so that assigned ones do not collide.
	tids map[int]bool
}

// Build maps the configuration. Findings are errors (the export would not
// do what the configuration says: no output should be used) and warnings
// (the output is usable, but an admin must look at something); each names
// the file and line it comes from and is also a comment in the output.
func Build(in Input) (*Cluster, diag.List) {
	b := &builder{in: in, c: &Cluster{}, ids: idSet{}, tids: map[int]bool{}}
	if in.Cfg == nil || in.Hares == nil {
		b.diags.Errorf("ha.cf", 0, "export needs both ha.cf and haresources")
		return b.c, b.diags
	}
	b.c.Nodes = append([]string(nil), in.Cfg.Nodes...)
	if len(b.c.Nodes) != 2 {
		b.warnf(in.Cfg.File, 0, "%d nodes are listed; the export is made for the two-node clusters haresources mode runs (quorum settings assume two)", len(b.c.Nodes))
	}
	b.reserveTIDs()
	for _, g := range in.Hares.Groups {
		b.group(g)
	}
	b.stonith()
	b.clusterOptions()
	return b.c, b.diags
}

// warnf records a warning and puts it at the top of the output.
func (b *builder) warnf(file string, line int, format string, args ...any) string {
	b.diags.Warnf(file, line, format, args...)
	b.c.Notes = append(b.c.Notes, b.diags[len(b.diags)-1].String())
	return fmt.Sprintf(format, args...)
}

// errorf records an error: the configuration asks for something the export
// cannot express correctly.
func (b *builder) errorf(file string, line int, format string, args ...any) {
	b.diags.Errorf(file, line, format, args...)
}

// group maps one haresources line.
func (b *builder) group(g haresources.Group) {
	grp := &Group{
		ID:     b.ids.take("g_" + slug(g.Key)),
		Home:   g.Node,
		Source: fmt.Sprintf("%s:%d: %s", g.File, g.Line, g.String()),
	}
	var clones []*Clone
	for _, r := range g.Resources {
		prim, clone := b.resource(g, r, grp)
		if prim != nil {
			grp.Members = append(grp.Members, prim)
		}
		if clone != nil {
			clones = append(clones, clone)
		}
	}
	b.c.Clones = append(b.c.Clones, clones...)
	if len(grp.Members) > 0 {
		b.c.Groups = append(b.c.Groups, grp)
		b.c.Locations = append(b.c.Locations, Location{
			ID: b.ids.take("loc_" + grp.ID), Rsc: grp.ID, Node: g.Node, Score: fmt.Sprint(HomeScore),
		})
	} else if len(clones) == 0 {
		b.warnf(g.File, g.Line, "group %s: no resource could be mapped; it is left out", g.Key)
	}
	for _, cl := range clones {
		// Promote DRBD where the group's home is, even when the group has
		// nothing else in it (a line that only promotes a resource).
		b.c.Locations = append(b.c.Locations, Location{
			ID: b.ids.take("loc_" + cl.ID), Rsc: cl.ID, Node: g.Node, Role: "Promoted", Score: fmt.Sprint(HomeScore),
		})
		if len(grp.Members) == 0 {
			continue
		}
		b.c.Colocations = append(b.c.Colocations, Colocation{
			ID: b.ids.take("col_" + grp.ID + "_" + cl.ID), Rsc: grp.ID, WithRsc: cl.ID, WithRole: "Promoted", Score: "INFINITY",
		})
		b.c.Orders = append(b.c.Orders, Order{
			ID: b.ids.take("ord_" + cl.ID + "_" + grp.ID), First: cl.ID, FirstAction: "promote", Then: grp.ID, ThenAction: "start",
		})
	}
}

// commentSafe keeps a note usable inside an XML comment and on one crm
// comment line.
func commentSafe(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "- -")
	}
	return s
}
