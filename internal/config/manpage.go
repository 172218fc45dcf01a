package config

import (
	"fmt"
	"strings"
)

// manKinds is the order in which ha.cf(5) presents the directive kinds: what
// an admin may use first, then what heartbeatd adds, then what it only
// tolerates or refuses. Within a kind the table's order is kept.
var manKinds = []struct {
	kind  DirectiveKind
	title string
	intro string
}{
	{KindHeartbeat, "Heartbeat 3.0.6 directives",
		"Directives of Heartbeat 3.0.6 that heartbeatd reads with the same meaning. " +
			"A ha.cf that uses only these can be shared with real Heartbeat nodes during a migration."},
	{KindExtension, "heartbeatd extensions",
		"Directives only heartbeatd knows. Real Heartbeat stops with \"Illegal directive\" when it reads one, " +
			"so leave them out while Heartbeat nodes still read the same file."},
	{KindObsolete, "Obsolete spellings",
		"Old names that Heartbeat still accepts with a complaint. heartbeatd maps them to the current " +
			"directive and prints a warning."},
	{KindCRMOnly, "Pacemaker (crm) only",
		"Directives that matter only when Pacemaker runs on top of Heartbeat. heartbeatd runs haresources " +
			"(R1) mode only: they are accepted with a warning and ignored."},
	{KindUnsupported, "Heartbeat directives heartbeatd refuses",
		"Ignoring these would leave the cluster different from what the file says, so " +
			"\\fBheartbeatd check\\fR reports them as errors and the daemon does not start."},
}

// HACFManPage renders the ha.cf(5) manual page (roff, man macros) from the
// Directives table, dated date (YYYY-MM-DD). Like ha.cf.example it is
// generated so that the manual never documents a directive the parser does
// not know, or misses one it does.
func HACFManPage(date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" Generated from heartbeatd's directive table (internal/config/directives.go)\n")
	fmt.Fprintf(&b, ".\\\" by config.HACFManPage; edit the table, then run\n")
	fmt.Fprintf(&b, ".\\\" go test ./internal/config -run TestHACFManPage -update\n")
	fmt.Fprintf(&b, ".TH HA.CF 5 %s heartbeatd \"File Formats\"\n", date)
	b.WriteString(`.SH NAME
ha.cf \- heartbeatd (Heartbeat 3.0.6 compatible) cluster configuration
.SH SYNOPSIS
.B /etc/ha.d/ha.cf
.SH DESCRIPTION
.B ha.cf
sets the nodes of the cluster, the media that carry heartbeats between them,
the timing that decides when a node is dead, and how resources fail back.
It is read by
.BR heartbeatd (8)
and, unchanged, by Heartbeat 3.0.6, so that both can run in one cluster.
The file must be the same on every node.
.PP
One directive per line:
.IR "directive value value ..." .
Values are separated by blanks, tabs or commas.
A
.B #
starts a comment anywhere on a line.
Directive names are case\-sensitive.
Order matters for
.B udpport
and
.BR baud :
they apply only to the media lines that follow them.
.PP
Check the file, together with
.BR authkeys (5)
and
.BR haresources (5),
with
.BR "heartbeatd check" ;
it prints every problem as
\fIFILE\fR:\fILINE\fR: \fBerror\fR|\fBwarning\fR: \fImessage\fR.
A configuration with errors is not started.
.B heartbeatd reload
makes a running daemon read the files again; an invalid configuration is
refused and the running one kept.
Some changes need a restart; see
.BR heartbeatd (8).
.SH DIRECTIVES
`)
	for _, k := range manKinds {
		fmt.Fprintf(&b, ".SS %s\n%s\n", k.title, k.intro)
		for _, d := range Directives {
			if d.Kind != k.kind {
				continue
			}
			b.WriteString(".TP\n")
			head := "\\fB" + roffText(d.Name) + "\\fR"
			if d.Args != "" {
				head += " " + roffArgs(d.Args)
			}
			b.WriteString(roffLine(head) + "\n")
			b.WriteString(roffLine(roffText(d.Doc)) + "\n")
			if d.Default != "" {
				def := "Default: " + roffText(d.Default)
				if d.Unit != "" {
					def += " (" + roffText(d.Unit) + ")"
				}
				b.WriteString(".br\n" + roffLine(def) + ".\n")
			}
		}
	}
	b.WriteString(".SH EXAMPLE\n" +
		"The two\\-node DRBD and iSCSI storage cluster of the shipped example:\n" +
		"node1 and node2 exchange heartbeats over two independent links.\n" +
		".PP\n.RS 4\n.nf\n")
	for _, d := range Directives {
		for _, v := range exampleValues[d.Name] {
			b.WriteString(roffLine(roffText(fmt.Sprintf("%-16s%s", d.Name, v))) + "\n")
		}
	}
	b.WriteString(`.fi
.RE
.SH FILES
.TP
.I /etc/ha.d/ha.cf
this file
.TP
.I /usr/share/doc/heartbeatd/ha.cf.example
every directive with its default and unit, as comments
.SH SEE ALSO
.BR heartbeatd (8),
.BR authkeys (5),
.BR haresources (5),
.BR cl_status (1)
`)
	return b.String()
}

// roffText escapes free text for a roff text line: backslashes, option-like
// dashes (so that "uname -n" can be copied from the rendered page) and
// `code` spans, which become bold.
func roffText(s string) string {
	var b strings.Builder
	bold := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString("\\e")
		case c == '`':
			if bold {
				b.WriteString("\\fR")
			} else {
				b.WriteString("\\fB")
			}
			bold = !bold
		case c == '-' && (i == 0 || s[i-1] == ' ' || s[i-1] == '(' || s[i-1] == '`' || s[i-1] == '-'):
			b.WriteString("\\-")
		default:
			b.WriteByte(c)
		}
	}
	if bold {
		b.WriteString("\\fR")
	}
	return b.String()
}

// roffArgs sets an argument synopsis in man-page style: placeholders
// (upper-case words) in italics, literal words in bold, punctuation roman.
func roffArgs(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		j := i + 1
		switch {
		case c >= 'A' && c <= 'Z':
			for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] == '_' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString("\\fI" + s[i:j] + "\\fR")
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString("\\fB" + s[i:j] + "\\fR")
		default:
			b.WriteString(roffText(s[i:j]))
		}
		i = j
	}
	return b.String()
}

// roffLine protects a text line that would otherwise be read as a request
// (leading dot or apostrophe) or start a paragraph break (leading blank).
func roffLine(s string) string {
	if s != "" && (s[0] == '.' || s[0] == '\'' || s[0] == ' ') {
		return "\\&" + s
	}
	return s
}
