package pacemaker

import (
	"fmt"
	"io"
	"strings"
)

// crmWriter writes crm shell configure commands, one per definition, long
// ones continued with " \".
type crmWriter struct {
	b strings.Builder
}

func (w *crmWriter) comment(lines ...string) {
	for _, l := range lines {
		w.b.WriteString("# " + commentSafe(l) + "\n")
	}
}

// cmd writes a command whose parts after the first are continuation lines.
func (w *crmWriter) cmd(first string, rest ...string) {
	w.b.WriteString(first)
	for _, r := range rest {
		w.b.WriteString(" \\\n    " + r)
	}
	w.b.WriteString("\n")
}

// crmQuote quotes a value for crm's parser: always double quotes, so a
// blank or '#' inside cannot split the command.
func crmQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

func nvList(nvs []NV) string {
	parts := make([]string, len(nvs))
	for i, nv := range nvs {
		parts[i] = nv.Name + "=" + crmQuote(nv.Value)
	}
	return strings.Join(parts, " ")
}

// whys collects the comments of an attribute list.
func whys(nvs []NV) []string {
	var out []string
	for _, nv := range nvs {
		if nv.Why != "" {
			out = append(out, nv.Name+": "+nv.Why)
		}
	}
	return out
}

func (w *crmWriter) primitive(p *Primitive) {
	w.comment(p.Notes...)
	w.comment(whys(p.Params)...)
	var rest []string
	if len(p.Params) > 0 {
		rest = append(rest, "params "+nvList(p.Params))
	}
	if len(p.Meta) > 0 {
		rest = append(rest, "meta "+nvList(p.Meta))
	}
	for _, op := range p.Ops {
		s := "op " + op.Name + " interval=" + orZero(op.Interval)
		if op.Timeout != "" {
			s += " timeout=" + op.Timeout
		}
		if op.Role != "" {
			s += " role=" + op.Role
		}
		if op.OnFail != "" {
			s += " on-fail=" + op.OnFail
		}
		rest = append(rest, s)
	}
	w.cmd("primitive "+p.ID+" "+p.Agent(), rest...)
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

// CRM renders the cluster as input for `crm configure load update FILE`
// (crmsh 4.x, which knows the Promoted role name).
func (c *Cluster) CRM() []byte {
	w := &crmWriter{}
	w.comment("Pacemaker 2.1 configuration exported by heartbeatd from ha.cf and haresources.",
		"Load with: crm configure load update FILE")
	w.comment(c.Notes...)
	w.comment(nodesNote(c.Nodes))
	for _, p := range c.Stonith {
		w.primitive(p)
	}
	for _, cl := range c.Clones {
		w.comment(cl.Notes...)
		w.primitive(cl.Prim)
		w.cmd("clone "+cl.ID+" "+cl.Prim.ID, "meta "+nvList(cl.Meta))
	}
	for _, g := range c.Groups {
		w.b.WriteString("\n")
		w.comment(append([]string{g.Source}, g.Notes...)...)
		ids := make([]string, len(g.Members))
		for i, p := range g.Members {
			w.primitive(p)
			ids[i] = p.ID
		}
		w.cmd("group " + g.ID + " " + strings.Join(ids, " "))
	}
	w.b.WriteString("\n")
	for _, l := range c.Locations {
		if l.Role != "" {
			w.cmd(fmt.Sprintf("location %s %s rule $role=%s %s: #uname eq %s", l.ID, l.Rsc, l.Role, crmScore(l.Score), l.Node))
		} else {
			w.cmd(fmt.Sprintf("location %s %s %s: %s", l.ID, l.Rsc, crmScore(l.Score), l.Node))
		}
	}
	for _, co := range c.Colocations {
		with := co.WithRsc
		if co.WithRole != "" {
			with += ":" + co.WithRole
		}
		w.cmd(fmt.Sprintf("colocation %s %s: %s %s", co.ID, crmScore(co.Score), co.Rsc, with))
	}
	for _, o := range c.Orders {
		w.cmd(fmt.Sprintf("order %s Mandatory: %s:%s %s:%s", o.ID, o.First, o.FirstAction, o.Then, o.ThenAction))
	}
	w.b.WriteString("\n")
	w.comment(whys(c.Props)...)
	w.cmd("property cib-bootstrap-options: " + nvList(c.Props))
	w.comment(whys(c.RscDefaults)...)
	w.cmd("rsc_defaults rsc-options: " + nvList(c.RscDefaults))
	w.comment(whys(c.OpDefaults)...)
	w.cmd("op_defaults op-options: " + nvList(c.OpDefaults))
	return []byte(w.b.String())
}

// crmScore writes INFINITY the way crm does.
func crmScore(s string) string {
	switch s {
	case "INFINITY":
		return "inf"
	case "-INFINITY":
		return "-inf"
	}
	return s
}

// WriteCRM writes CRM() to out.
func (c *Cluster) WriteCRM(out io.Writer) error {
	_, err := out.Write(c.CRM())
	return err
}
