// Package haresources reads /etc/ha.d/haresources: which node is the home of
// which resource group, and the resources of each group in start order.
//
// The rules follow Heartbeat 3.0.6's ResourceManager (spec §6.1): the file is
// parsed the way its sed/awk pipeline does, and every place where that
// pipeline would silently do something surprising (a comment on a continued
// line, a bad IP shorthand, one resource in two groups) is reported as a
// finding with file and line instead.
package haresources

import "strings"

// Resource is one haresources token, e.g. "Filesystem::/dev/drbd0::/srv/data::ext3"
// is Script "Filesystem" with Args ["/dev/drbd0", "/srv/data", "ext3"]. A bare
// IP such as "10.0.0.5/24/eth0" is Script "IPaddr", Args ["10.0.0.5/24/eth0"].
type Resource struct {
	Script string
	Args   []string
	// Raw is the token as written in the file (before IP shorthand expansion).
	Raw string
}

// String renders the canonical form "Script::a::b" (IP shorthand expanded to
// "IPaddr::10.0.0.5/24"), which is what identifies a resource across files
// that spell it differently.
func (r Resource) String() string {
	if len(r.Args) == 0 {
		return r.Script
	}
	return r.Script + "::" + strings.Join(r.Args, "::")
}

// Group is one haresources line.
type Group struct {
	// Node is the group's home node, lower-cased.
	Node string
	// Resources in start order; they are stopped in reverse.
	Resources []Resource
	// Key is the group's identity, as Heartbeat uses it on the wire and in
	// ResourceManager: the first resource token exactly as written.
	Key  string
	File string
	// Line is the first physical line of the (possibly continued) line.
	Line int
}

// String renders the group the way Heartbeat logs it in "Acquiring resource
// group: node1 IPaddr::10.11.55.50/8/eth0 drbddisk::iscsi.target.0": the
// lower-cased node, then the tokens as written, one blank apart. Parsing this
// text again yields the same group.
func (g Group) String() string {
	var b strings.Builder
	b.WriteString(g.Node)
	for _, r := range g.Resources {
		b.WriteByte(' ')
		b.WriteString(r.Raw)
	}
	return b.String()
}

// StartOrder is the order Heartbeat starts the group's resources in: as
// written, left to right. The slice is a copy.
func (g Group) StartOrder() []Resource {
	return append([]Resource(nil), g.Resources...)
}

// StopOrder is the order Heartbeat stops the group in: right to left, so a
// service is stopped before the file system or address it depends on.
func (g Group) StopOrder() []Resource {
	out := make([]Resource, len(g.Resources))
	for i, r := range g.Resources {
		out[len(out)-1-i] = r
	}
	return out
}

// File is a parsed haresources file. When Parse reports errors, File holds
// only the lines that parsed cleanly and must not be used to run resources.
type File struct {
	Groups []Group
}

// GroupsFor returns the groups whose home is node (compared ignoring ASCII
// case, as Heartbeat's "listkeys <node>" greps case-insensitively), in file
// order, which is also the order Heartbeat acquires them in.
func (f *File) GroupsFor(node string) []Group {
	if f == nil {
		return nil
	}
	node = lowerASCII(node)
	var out []Group
	for _, g := range f.Groups {
		if g.Node == node {
			out = append(out, g)
		}
	}
	return out
}

// Group finds a group by its key (the first resource token as written; this
// is what ip-request and friends carry in ipaddr=).
func (f *File) Group(key string) (Group, bool) {
	if f == nil {
		return Group{}, false
	}
	for _, g := range f.Groups {
		if g.Key == key {
			return g, true
		}
	}
	return Group{}, false
}

// lowerASCII lower-cases A-Z only. Heartbeat runs awk's tolower() in the C
// locale; node names are host names, and touching other bytes would make the
// rendering non-idempotent for odd input.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
