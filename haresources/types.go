// Package haresources reads /etc/ha.d/haresources: which node is the home of
// which resource group, and the resources of each group in start order.
package haresources

// Resource is one haresources token, e.g. "Filesystem::/dev/drbd0::/srv/data::ext3"
// is Script "Filesystem" with Args ["/dev/drbd0", "/srv/data", "ext3"]. A bare
// IP such as "10.0.0.5/24/eth0" is Script "IPaddr", Args ["10.0.0.5/24/eth0"].
type Resource struct {
	Script string
	Args   []string
	// Raw is the token as written in the file (before IP shorthand expansion).
	Raw string
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
	Line int
}
