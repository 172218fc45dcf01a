package haresources

import (
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"

	"heartbeatd/internal/diag"
)

// maxFileSize bounds what Parse reads: a real haresources file is a few
// hundred bytes, and a runaway file (or a device given by mistake) must not
// exhaust memory.
const maxFileSize = 16 << 20

// maxErrorsPerLine keeps a line of binary junk from producing thousands of
// findings; the first few say enough.
const maxErrorsPerLine = 5

// Load reads and parses the haresources file at path. A file that cannot be
// read is an error finding on line 0; the returned File is then empty.
func Load(path string) (*File, diag.List) {
	var l diag.List
	st, err := os.Stat(path)
	if err != nil {
		l.Errorf(path, 0, "cannot read haresources: %v", err)
		return &File{}, l
	}
	// Refuse FIFOs and devices before opening: opening a FIFO would block.
	if !st.Mode().IsRegular() {
		l.Errorf(path, 0, "cannot read haresources: not a regular file (%s)", st.Mode().Type())
		return &File{}, l
	}
	fh, err := os.Open(path)
	if err != nil {
		l.Errorf(path, 0, "cannot read haresources: %v", err)
		return &File{}, l
	}
	defer fh.Close()
	return Parse(fh, path)
}

// Parse reads a haresources file. file names it in findings.
//
// Lexical rules are Heartbeat's (spec §6.1): "#" to end of line is a comment,
// a line ending in "\" continues on the next (joined with no blank in
// between, exactly as ResourceManager's sed does), runs of blanks and tabs
// separate tokens, blank lines are ignored, CRLF line ends are tolerated.
// Each line is "<node> <resource> <resource>…"; the line number of a group is
// that of its first physical line.
//
// When the returned list has errors, File holds only the lines that parsed
// cleanly; callers must not run resources from it.
func Parse(r io.Reader, file string) (*File, diag.List) {
	p := &parser{
		file:   file,
		f:      &File{},
		keys:   map[string]int{},
		owners: map[string]owner{},
		uses:   map[identity]owner{},
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		p.diags.Errorf(file, 0, "cannot read haresources: %v", err)
		return p.f, p.diags
	}
	if len(data) > maxFileSize {
		p.diags.Errorf(file, 0, "haresources is larger than %d bytes; refusing to parse it", maxFileSize)
		return p.f, p.diags
	}
	p.run(string(data))
	if len(p.f.Groups) == 0 && !p.diags.HasErrors() {
		p.diags.Warnf(file, 0, "no resource groups: this node will manage no resources")
	}
	return p.f, p.diags
}

// owner records where a resource (or an address, device, …) was first seen.
type owner struct {
	line int
	node string
	raw  string
}

type parser struct {
	file   string
	f      *File
	diags  diag.List
	keys   map[string]int     // group key -> line
	owners map[string]owner   // canonical resource -> first use
	uses   map[identity]owner // address, device, mount point -> first use
	drbd   *owner             // first drbddisk resource of any name
	// stopped is set once maxFindings is reached: parsing ends there.
	stopped bool
}

// run splits the text into logical lines and parses each.
func (p *parser) run(text string) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var (
		buf   strings.Builder
		start int  // first physical line of the logical line being built; 0 when none
		bad   bool // the logical line already has an error
	)
	for i, pl := range lines {
		if p.stopped {
			return
		}
		n := i + 1
		pl = strings.TrimSuffix(pl, "\r")
		if i == 0 && strings.HasPrefix(pl, "\ufeff") {
			// Heartbeat would read the byte-order mark as part of the node
			// name and then reject the node; say why.
			p.warnf(n, "file starts with a UTF-8 byte-order mark; Heartbeat would read it as part of the node name")
			pl = pl[len("\ufeff"):]
		}
		if j := strings.IndexByte(pl, '#'); j >= 0 {
			if start != 0 {
				// ResourceManager strips comments before joining continued
				// lines, so on a continuation line "#" and the words after it
				// become resources ("#" fails as a script at takeover).
				p.errorf(n, "comment on a continued line: Heartbeat 3.0.6 does not strip it and would run its words as resources; put the comment on a line of its own")
				bad = true
			}
			pl = pl[:j]
		}
		cont := strings.HasSuffix(pl, `\`)
		if cont {
			pl = pl[:len(pl)-1]
		}
		if start == 0 {
			start, bad = n, false
			buf.Reset()
		} else {
			p.checkGlue(buf.String(), pl, n)
		}
		buf.WriteString(pl)
		if cont {
			continue
		}
		p.line(buf.String(), start, bad)
		start = 0
	}
	if start != 0 {
		p.errorf(start, `line continues ("\" at the end) past the end of the file`)
	}
}

// checkGlue warns when a continuation glues two words into one token:
// Heartbeat removes the backslash and the newline and inserts no blank, so
// "IPaddr::10.0.0.1\" followed by "httpd" is the single token
// "IPaddr::10.0.0.1httpd". We do the same (the key must match what a
// Heartbeat peer computes) but say so.
func (p *parser) checkGlue(prev, next string, n int) {
	if prev == "" || next == "" || isBlank(prev[len(prev)-1]) || isBlank(next[0]) {
		return
	}
	// Only the tail of prev matters for the message; scanning all of it
	// would make a long run of glued lines quadratic.
	tail := prev[max(0, len(prev)-64):]
	left := tail[strings.LastIndexAny(tail, " \t")+1:]
	right := next
	if j := strings.IndexAny(next, " \t"); j >= 0 {
		right = next[:j]
	}
	p.warnf(n, "line continuation joins %s and %s into one token %s (Heartbeat inserts no blank); put a blank before the backslash if they are two resources",
		quoteShort(left), quoteShort(right), quoteShort(left+right))
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// quoteShort quotes s for a message, cut down so a 1 MB token does not make
// a 1 MB finding.
func quoteShort(s string) string {
	const limit = 60
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}

// maxFindings stops a file of junk from producing millions of findings
// (each line of it would otherwise report its own).
const maxFindings = 100

func (p *parser) errorf(line int, format string, args ...any) {
	p.add(line, true, format, args...)
}

func (p *parser) warnf(line int, format string, args ...any) {
	p.add(line, false, format, args...)
}

func (p *parser) add(line int, isErr bool, format string, args ...any) {
	switch {
	case p.stopped:
		return
	case len(p.diags) >= maxFindings:
		p.diags.Errorf(p.file, line, "too many problems (%d); the rest of the file was not checked", maxFindings)
		p.stopped = true
	case isErr:
		p.diags.Errorf(p.file, line, format, args...)
	default:
		p.diags.Warnf(p.file, line, format, args...)
	}
}

// lineErrs counts the errors of one line and suppresses all but the first
// maxErrorsPerLine.
type lineErrs struct {
	p     *parser
	line  int
	count int
}

func (e *lineErrs) errorf(format string, args ...any) {
	e.count++
	switch {
	case e.count <= maxErrorsPerLine:
		e.p.errorf(e.line, format, args...)
	case e.count == maxErrorsPerLine+1:
		e.p.errorf(e.line, "more errors on this line not shown")
	}
}

// line parses one logical line. bad says an error was already reported for
// it (the group is then checked but not kept).
func (p *parser) line(text string, n int, bad bool) {
	toks := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(toks) == 0 {
		return
	}
	le := &lineErrs{p: p, line: n}
	if bad {
		le.count = 1
	}
	for _, tok := range toks {
		if c, ok := controlByte(tok); ok {
			le.errorf("token %s contains control character %#02x", quoteShort(tok), c)
		} else if strings.HasSuffix(tok, `\`) {
			le.errorf(`token %s ends in a backslash that is not the last character of the line (blanks after it?), so it does not continue the line`, quoteShort(tok))
		}
	}
	if le.count > 0 {
		return
	}
	node := toks[0]
	if strings.HasPrefix(node, "\ufeff") {
		le.errorf("node name %s starts with a byte-order mark", quoteShort(node))
		return
	}
	if strings.Contains(node, "::") || looksLikeIP(node) {
		le.errorf("line starts with %s, which is a resource, not a node name: each line is <node> <resource>…", quoteShort(node))
		return
	}
	if len(toks) == 1 {
		le.errorf("node %s has no resources: each line is <node> <resource>…", quoteShort(node))
		return
	}
	g := Group{Node: lowerASCII(node), Key: toks[1], File: p.file, Line: n}
	for _, tok := range toks[1:] {
		r, warns, err := parseResource(tok)
		if err != nil {
			le.errorf("resource %s: %v", quoteShort(tok), err)
			continue
		}
		for _, w := range warns {
			p.warnf(n, "resource %s: %s", quoteShort(tok), w)
		}
		g.Resources = append(g.Resources, r)
	}
	if le.count > 0 {
		return
	}
	if p.conflicts(g, le) {
		return
	}
	p.index(g)
	p.f.Groups = append(p.f.Groups, g)
}

// controlByte finds a control character: Heartbeat splits only on blanks
// and tabs, so anything else (NUL, vertical tab, a stray CR) would end up
// in a script name or argument.
func controlByte(s string) (byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return c, true
		}
	}
	return 0, false
}

// partialIP catches "10.0.0/24" and the like: Heartbeat's glob does not see
// an address in them, so they would be looked up as a script named
// "10.0.0/24"; the admin meant an address.
var partialIP = regexp.MustCompile(`^[0-9]+(\.[0-9]*)+(/.*)?$`)

// parseResource turns one token into a Resource. warns are problems that do
// not stop the file from being used.
func parseResource(tok string) (r Resource, warns []string, err error) {
	if looksLikeIP(tok) {
		if _, err := ParseIPSpec(tok); err != nil {
			return r, nil, fmt.Errorf("looks like an IP address, so it means IPaddr::%s, but %w", tok, err)
		}
		return Resource{Script: "IPaddr", Args: []string{tok}, Raw: tok}, nil, nil
	}
	if partialIP.MatchString(tok) {
		return r, nil, fmt.Errorf("looks like an IP address but is not a dotted quad a.b.c.d")
	}
	parts := strings.Split(tok, "::")
	r = Resource{Script: parts[0], Raw: tok}
	if len(parts) > 1 {
		r.Args = parts[1:]
	}
	if err := checkScriptName(r.Script); err != nil {
		return r, nil, err
	}
	for i, a := range r.Args {
		if a == "" {
			return r, nil, fmt.Errorf(`argument %d is empty ("::" doubled or at the end)`, i+1)
		}
		if strings.ContainsAny(a, "*?[") {
			warns = append(warns, fmt.Sprintf("argument %s contains shell wildcard characters: Heartbeat passes arguments unquoted, so its shell may expand them; heartbeatd passes them literally", quoteShort(a)))
		}
	}
	switch r.Script {
	case "IPaddr":
		if len(r.Args) != 1 {
			return r, nil, fmt.Errorf("IPaddr takes one argument ip[/netmask[/interface[/broadcast]]], got %d", len(r.Args))
		}
		if _, err := ParseIPSpec(r.Args[0]); err != nil {
			return r, nil, fmt.Errorf("IPaddr argument %s: %w", quoteShort(r.Args[0]), err)
		}
	case "IPv6addr":
		if _, err := ParseIPv6addrArgs(r.Args); err != nil {
			return r, nil, err
		}
	case "Filesystem":
		if len(r.Args) < 2 {
			return r, nil, fmt.Errorf("Filesystem needs device::mountpoint[::fstype[::options]]")
		}
		if !strings.HasPrefix(r.Args[1], "/") {
			return r, nil, fmt.Errorf("Filesystem mount point %s is not an absolute path", quoteShort(r.Args[1]))
		}
	}
	return r, warns, nil
}

// checkScriptName rejects names that would not stay inside the resource
// directories: the name is joined to /etc/ha.d/resource.d and /etc/init.d.
func checkScriptName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty script name")
	case strings.Contains(s, "/"):
		return fmt.Errorf(`script name %s contains "/": scripts are found by name in the resource directories, not by path`, quoteShort(s))
	case s[0] == '-' || s[0] == '.':
		return fmt.Errorf("script name %s starts with %q", quoteShort(s), s[0])
	case strings.Contains(s, ":"):
		// ResourceManager's sed would then cut the arguments at the wrong
		// place ("a:b::c" runs script "a:b" with argument "a:c").
		return fmt.Errorf(`script name %s contains ":" (arguments are separated by "::")`, quoteShort(s))
	}
	return nil
}

// conflicts reports the ways g collides with earlier groups or with itself;
// true means g must be dropped.
func (p *parser) conflicts(g Group, le *lineErrs) bool {
	line, keyDup := p.keys[g.Key]
	if keyDup {
		le.errorf("group key %s is already the key of the group on line %d: the first resource of each line must be unique, Heartbeat finds groups by it", quoteShort(g.Key), line)
	}
	seen := map[string]bool{}
	for i, r := range g.Resources {
		if i == 0 && keyDup {
			continue // said above, in the words that point at the cause
		}
		c := r.String()
		if seen[c] {
			le.errorf("resource %s is listed twice in this group", quoteShort(r.Raw))
			continue
		}
		seen[c] = true
		if o, ok := p.owners[c]; ok {
			le.errorf("resource %s is already in the group on line %d (node %s): one resource in two groups could run on two nodes at once", quoteShort(r.Raw), o.line, o.node)
			continue
		}
		for _, id := range identities(r) {
			o, ok := p.uses[id]
			if !ok && id.kind == kindDRBD {
				// drbddisk without an argument takes every DRBD resource.
				if id.value == "all" && p.drbd != nil {
					o, ok = *p.drbd, true
				} else if all, has := p.uses[identity{kindDRBD, "all"}]; has {
					o, ok = all, true
				}
			}
			if ok {
				le.errorf("resource %s uses %s %s, as does %s in the group on line %d (node %s): both could be active on two nodes at once",
					quoteShort(r.Raw), id.kind, quoteShort(id.value), quoteShort(o.raw), o.line, o.node)
				break
			}
		}
	}
	return le.count > 0
}

// index records g's key and resources for the checks of later lines.
func (p *parser) index(g Group) {
	p.keys[g.Key] = g.Line
	for _, r := range g.Resources {
		o := owner{line: g.Line, node: g.Node, raw: r.Raw}
		if _, ok := p.owners[r.String()]; !ok {
			p.owners[r.String()] = o
		}
		for _, id := range identities(r) {
			if _, ok := p.uses[id]; !ok {
				p.uses[id] = o
			}
			if id.kind == kindDRBD && p.drbd == nil {
				p.drbd = &o
			}
		}
	}
}

// identity is something a resource takes exclusively, whatever the token
// looks like: the same address with another netmask, or the same device
// mounted elsewhere, is still the same thing on the network or the disk.
type identity struct {
	kind  string
	value string
}

const (
	kindAddress = "address"
	kindDevice  = "device"
	kindMount   = "mount point"
	kindDRBD    = "DRBD resource"
)

// identities knows the resource scripts whose arguments name an exclusive
// thing. drbddisk without an argument manages all DRBD resources.
func identities(r Resource) []identity {
	switch r.Script {
	case "IPaddr", "IPaddr2":
		if len(r.Args) > 0 {
			if spec, err := ParseIPSpec(r.Args[0]); err == nil {
				return []identity{{kindAddress, spec.Addr.String()}}
			}
		}
	case "IPv6addr":
		if spec, err := ParseIPv6addrArgs(r.Args); err == nil {
			return []identity{{kindAddress, spec.Addr.String()}}
		}
	case "Filesystem":
		var ids []identity
		if len(r.Args) > 0 {
			ids = append(ids, identity{kindDevice, cleanPath(r.Args[0])})
		}
		if len(r.Args) > 1 {
			ids = append(ids, identity{kindMount, cleanPath(r.Args[1])})
		}
		return ids
	case "drbddisk":
		if len(r.Args) == 0 {
			return []identity{{kindDRBD, "all"}}
		}
		return []identity{{kindDRBD, r.Args[0]}}
	}
	return nil
}

// cleanPath makes "/srv/data/" and "/srv//data" compare equal; device specs
// such as "-Ldata" or "nfs:/export" are left alone.
func cleanPath(s string) string {
	if strings.HasPrefix(s, "/") {
		return path.Clean(s)
	}
	return s
}
