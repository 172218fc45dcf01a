package pacemaker

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// SchemaVersion is the CIB schema the export validates against: the first
// one (Pacemaker 2.1.0) that knows the role names Promoted and Unpromoted.
const SchemaVersion = "pacemaker-3.7"

// xmlWriter writes indented XML with comments; attribute order is the
// order given, so the output is stable and diffable.
type xmlWriter struct {
	buf   bytes.Buffer
	depth int
	ids   idSet
}

func (w *xmlWriter) indent() { w.buf.WriteString(strings.Repeat("  ", w.depth)) }

func (w *xmlWriter) tag(name string, attrs []string, empty bool) {
	w.indent()
	w.buf.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		w.buf.WriteString(" " + attrs[i] + `="`)
		xml.EscapeText(&w.buf, []byte(attrs[i+1]))
		w.buf.WriteString(`"`)
	}
	if empty {
		w.buf.WriteString("/>\n")
		return
	}
	w.buf.WriteString(">\n")
	w.depth++
}

func (w *xmlWriter) open(name string, attrs ...string)  { w.tag(name, attrs, false) }
func (w *xmlWriter) empty(name string, attrs ...string) { w.tag(name, attrs, true) }

func (w *xmlWriter) close(name string) {
	w.depth--
	w.indent()
	w.buf.WriteString("</" + name + ">\n")
}

func (w *xmlWriter) comment(lines ...string) {
	for _, l := range lines {
		w.indent()
		w.buf.WriteString("<!-- " + xmlCommentSafe(l) + " -->\n")
	}
}

// xmlCommentSafe keeps text legal inside <!-- -->: no "--", no trailing '-'.
func xmlCommentSafe(s string) string {
	s = commentSafe(s)
	if strings.HasSuffix(s, "-") {
		s += " "
	}
	return s
}

// nvset writes an attribute set (instance_attributes, meta_attributes,
// cluster_property_set) with ids derived from id.
func (w *xmlWriter) nvset(tag, id string, nvs []NV) {
	if len(nvs) == 0 {
		return
	}
	w.open(tag, "id", id)
	for _, nv := range nvs {
		if nv.Why != "" {
			w.comment(nv.Why)
		}
		w.empty("nvpair", "id", w.ids.take(id+"-"+slug(nv.Name)), "name", nv.Name, "value", nv.Value)
	}
	w.close(tag)
}

func (w *xmlWriter) primitive(p *Primitive) {
	w.comment(p.Notes...)
	w.open("primitive", "id", p.ID, "class", p.Class, "provider", p.Provider, "type", p.Type)
	w.nvset("instance_attributes", w.ids.take(p.ID+"-instance_attributes"), p.Params)
	w.nvset("meta_attributes", w.ids.take(p.ID+"-meta_attributes"), p.Meta)
	if len(p.Ops) > 0 {
		w.open("operations")
		for _, op := range p.Ops {
			interval := op.Interval
			if interval == "" {
				interval = "0s"
			}
			id := w.ids.take(p.ID + "-" + op.Name + "-" + interval)
			w.empty("op", "id", id, "name", op.Name, "interval", interval, "timeout", op.Timeout, "role", op.Role, "on-fail", op.OnFail)
		}
		w.close("operations")
	}
	w.close("primitive")
}

// CIB renders the cluster as a complete CIB: configuration plus an empty
// status, ready for `crm_verify --xml-file` or `cibadmin --replace
// --scope configuration --xml-file`.
func (c *Cluster) CIB() []byte {
	w := &xmlWriter{ids: idSet{}}
	// Claim the resource and constraint ids first, so derived ids
	// (nvpairs, ops) cannot take one of them.
	for _, id := range c.allIDs() {
		w.ids[id] = true
	}
	w.buf.WriteString("<?xml version=\"1.0\"?>\n")
	w.comment("Pacemaker 2.1 CIB exported by heartbeatd from ha.cf and haresources.")
	// Only the configuration: a running cluster's CIB has a higher epoch
	// than this file, and cibadmin refuses to replace it with an older one.
	w.comment("Check: crm_verify -V -x FILE. Load into a new cluster: cibadmin -R -o configuration -x FILE")
	w.comment(c.Notes...)
	w.open("cib", "validate-with", SchemaVersion, "admin_epoch", "0", "epoch", "1", "num_updates", "0")
	w.open("configuration")

	w.open("crm_config")
	w.nvset("cluster_property_set", "cib-bootstrap-options", c.Props)
	w.close("crm_config")

	// No node entries: Pacemaker adds each node, with corosync's nodeid,
	// when it first joins. Listed here with no status, the nodes would
	// count as never seen, and with fencing enabled crm_verify warns that
	// both would be fenced at start-up (startup-fencing).
	w.comment(nodesNote(c.Nodes))
	w.empty("nodes")

	w.open("resources")
	for _, p := range c.Stonith {
		w.primitive(p)
	}
	for _, cl := range c.Clones {
		w.comment(cl.Notes...)
		w.open("clone", "id", cl.ID)
		w.nvset("meta_attributes", w.ids.take(cl.ID+"-meta_attributes"), cl.Meta)
		w.primitive(cl.Prim)
		w.close("clone")
	}
	for _, g := range c.Groups {
		w.comment(append([]string{g.Source}, g.Notes...)...)
		w.open("group", "id", g.ID)
		for _, p := range g.Members {
			w.primitive(p)
		}
		w.close("group")
	}
	w.close("resources")

	w.open("constraints")
	for _, l := range c.Locations {
		w.empty("rsc_location", "id", l.ID, "rsc", l.Rsc, "role", l.Role, "node", l.Node, "score", l.Score)
	}
	for _, co := range c.Colocations {
		w.empty("rsc_colocation", "id", co.ID, "rsc", co.Rsc, "with-rsc", co.WithRsc, "with-rsc-role", co.WithRole, "score", co.Score)
	}
	for _, o := range c.Orders {
		w.empty("rsc_order", "id", o.ID, "first", o.First, "first-action", o.FirstAction, "then", o.Then, "then-action", o.ThenAction, "kind", "Mandatory")
	}
	w.close("constraints")

	w.open("rsc_defaults")
	w.nvset("meta_attributes", "rsc-options", c.RscDefaults)
	w.close("rsc_defaults")
	w.open("op_defaults")
	w.nvset("meta_attributes", "op-options", c.OpDefaults)
	w.close("op_defaults")

	w.close("configuration")
	w.empty("status")
	w.close("cib")
	return w.buf.Bytes()
}

// nodesNote names the nodes the configuration expects.
func nodesNote(nodes []string) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = fmt.Sprintf("%s (nodeid %d)", n, i+1)
	}
	return "nodes, added by Pacemaker as they join through corosync: " + strings.Join(parts, ", ")
}

// WriteCIB writes CIB() to out.
func (c *Cluster) WriteCIB(out io.Writer) error {
	_, err := out.Write(c.CIB())
	return err
}

// allIDs lists the ids Build handed out.
func (c *Cluster) allIDs() []string {
	var ids []string
	for _, p := range c.Stonith {
		ids = append(ids, p.ID)
	}
	for _, cl := range c.Clones {
		ids = append(ids, cl.ID, cl.Prim.ID)
	}
	for _, g := range c.Groups {
		ids = append(ids, g.ID)
		for _, p := range g.Members {
			ids = append(ids, p.ID)
		}
	}
	for _, l := range c.Locations {
		ids = append(ids, l.ID)
	}
	for _, co := range c.Colocations {
		ids = append(ids, co.ID)
	}
	for _, o := range c.Orders {
		ids = append(ids, o.ID)
	}
	return append(ids, "cib-bootstrap-options", "rsc-options", "op-options")
}
