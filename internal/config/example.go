package config

import (
	"fmt"
	"strings"
)

// exampleValues are the active lines of the shipped ha.cf.example: the
// configuration of the storage cluster in the project's seed document (a
// two-node DRBD + iSCSI cluster), so that the example is a real, working
// file and not a list of placeholders.
var exampleValues = map[string][]string{
	"logfacility": {"local0"},
	"keepalive":   {"2"},
	"deadtime":    {"30"},
	"warntime":    {"10"},
	"initdead":    {"120"},
	"bcast":       {"eth0", "eth1"},
	"node":        {"node1", "node2"},
}

// ExampleHACF renders ha.cf.example from the Directives table: every
// directive with its documentation, default and unit as a comment, the
// example cluster's values active, everything else commented out. It is
// generated so that the example can never drift from what the parser knows.
func ExampleHACF() string {
	var b strings.Builder
	b.WriteString(`# /etc/ha.d/ha.cf - heartbeatd (Heartbeat 3.0.6 compatible) cluster configuration
#
# Generated from heartbeatd's directive table (internal/config/directives.go);
# edit that table, not this file. The active lines are a two-node DRBD/iSCSI
# storage cluster: node1 and node2 talking over eth0 and eth1.
#
# Syntax: one directive per line, "directive value value ...". Values are
# separated by blanks, tabs or commas; '#' starts a comment anywhere. Order
# matters for udpport and baud: they apply to the media lines after them.
# Check a file with: heartbeatd check --confdir /etc/ha.d
`)
	kind := DirectiveKind("")
	for _, d := range Directives {
		if d.Kind != kind {
			kind = d.Kind
			b.WriteString("\n" + sectionTitle(kind))
		}
		b.WriteString("\n")
		head := d.Name
		if d.Args != "" {
			head += " " + d.Args
		}
		b.WriteString("# " + head + "\n")
		for _, line := range wrap(d.Doc, 74) {
			b.WriteString("#   " + line + "\n")
		}
		if d.Default != "" {
			def := "Default: " + d.Default
			if d.Unit != "" {
				def += " (" + d.Unit + ")"
			}
			b.WriteString("#   " + def + "\n")
		}
		if vals, ok := exampleValues[d.Name]; ok {
			for _, v := range vals {
				fmt.Fprintf(&b, "%-16s%s\n", d.Name, v)
			}
		}
	}
	return b.String()
}

func sectionTitle(k DirectiveKind) string {
	switch k {
	case KindExtension:
		return "# ---- heartbeatd extensions (real Heartbeat refuses these) ----\n"
	case KindCRMOnly:
		return "# ---- Pacemaker (crm) only: accepted with a warning, ignored ----\n"
	case KindObsolete:
		return "# ---- obsolete spellings, mapped with a warning ----\n"
	case KindUnsupported:
		return "# ---- Heartbeat directives heartbeatd refuses ----\n"
	}
	return "# ---- Heartbeat 3.0.6 directives ----\n"
}

// wrap breaks text into lines of at most width characters at blanks.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
