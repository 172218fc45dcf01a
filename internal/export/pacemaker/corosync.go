package pacemaker

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"heartbeatd/internal/config"
	"heartbeatd/internal/diag"
)

// maxKnetLinks is knet's limit of links per node pair.
const maxKnetLinks = 8

// CorosyncInput is what Corosync reads.
type CorosyncInput struct {
	Cfg *config.Config
	// Local is the node the export runs for (--node, nodeinfo or uname).
	Local string
	// LocalAddrs are the IPv4 addresses of Local's interfaces, primary
	// first, when the export runs on that node; nil otherwise.
	LocalAddrs map[string][]netip.Addr
	// ClusterName is totem's cluster_name ("" = "hacluster").
	ClusterName string
}

// link is one knet link: the Heartbeat media on one interface.
type link struct {
	iface string
	media []config.Medium
	addrs map[string]string // node -> ring address
	notes []string
}

// Corosync renders a corosync.conf (Corosync 3, knet) with one link per
// interface that ha.cf's bcast, mcast and ucast lines use, and the node
// addresses on it as far as ha.cf and this machine tell them; an unknown
// address is a placeholder that corosync refuses to start with, and a
// warning.
func Corosync(in CorosyncInput) ([]byte, diag.List) {
	var l diag.List
	cfg := in.Cfg
	var links []*link
	var notes []string
	for _, m := range cfg.Media {
		if m.Kind == "serial" {
			l.Warnf(cfg.File, m.Line, "serial %s: corosync has no serial transport; this medium is not exported, so the cluster has one path less than under Heartbeat", m.Device)
			notes = append(notes, fmt.Sprintf("%s:%d: serial %s has no corosync equivalent and is left out", cfg.File, m.Line, m.Device))
			continue
		}
		i := slices.IndexFunc(links, func(k *link) bool { return k.iface == m.Interface })
		if i < 0 {
			links = append(links, &link{iface: m.Interface, addrs: map[string]string{}})
			i = len(links) - 1
		}
		links[i].media = append(links[i].media, m)
	}
	if len(links) == 0 {
		l.Errorf(cfg.File, 0, "no bcast, mcast or ucast line: corosync needs at least one network link")
		return nil, l
	}
	if len(links) > maxKnetLinks {
		l.Errorf(cfg.File, links[maxKnetLinks].media[0].Line, "%d interfaces carry heartbeats; knet allows at most %d links", len(links), maxKnetLinks)
		return nil, l
	}
	for _, k := range links {
		resolveLink(k, in)
	}

	var b strings.Builder
	w := func(depth int, format string, args ...any) {
		b.WriteString(strings.Repeat("    ", depth))
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\n")
	}
	name := in.ClusterName
	if name == "" {
		name = "hacluster"
	}
	w(0, "# corosync.conf (Corosync 3, knet) exported by heartbeatd from %s.", cfg.File)
	w(0, "# Copy the same file to every node, and one key made by corosync-keygen to /etc/corosync/authkey.")
	for _, n := range notes {
		w(0, "# %s", n)
	}
	w(0, "totem {")
	w(1, "version: 2")
	w(1, "cluster_name: %s", name)
	w(1, "transport: knet")
	w(1, "ip_version: ipv4")
	// Corosync declares a node lost after token plus consensus (1.2 x
	// token); Heartbeat after deadtime. Dividing by 2.2 keeps the
	// detection time the admin chose.
	tok := cfg.Deadtime * 10 / 22
	if tok < time.Second {
		tok = time.Second
	}
	w(1, "# deadtime %s: a node is declared lost after token + consensus (1.2 x token), about the same time", cfg.Deadtime)
	w(1, "token: %d", tok.Milliseconds())
	w(1, "crypto_cipher: aes256")
	w(1, "crypto_hash: sha256")
	for i, k := range links {
		var ms []string
		for _, m := range k.media {
			ms = append(ms, fmt.Sprintf("%s (line %d)", mediumText(m), m.Line))
		}
		w(1, "# link %d: %s", i, strings.Join(ms, ", "))
		for _, n := range k.notes {
			w(1, "# %s", n)
		}
		w(1, "interface {")
		w(2, "linknumber: %d", i)
		w(1, "}")
	}
	w(0, "}")
	w(0, "")
	w(0, "nodelist {")
	for ni, n := range cfg.Nodes {
		w(1, "node {")
		w(2, "name: %s", n)
		w(2, "nodeid: %d", ni+1)
		for i, k := range links {
			addr, ok := k.addrs[n]
			if !ok {
				addr = placeholder(n, k.iface)
				l.Warnf(cfg.File, k.media[0].Line, "address of node %s on %s (link %d) is unknown: corosync.conf holds the placeholder %s, which corosync refuses until it is replaced", n, k.iface, i, addr)
				w(2, "# FIXME: the address of %s on %s is not in ha.cf; replace the placeholder", n, k.iface)
			}
			w(2, "ring%d_addr: %s", i, addr)
		}
		w(1, "}")
	}
	w(0, "}")
	w(0, "")
	w(0, "quorum {")
	w(1, "provider: corosync_votequorum")
	if len(cfg.Nodes) == 2 {
		w(1, "# two nodes: the survivor of a peer failure keeps quorum (implies wait_for_all: 1)")
		w(1, "two_node: 1")
	}
	w(0, "}")
	w(0, "")
	w(0, "logging {")
	w(1, "to_syslog: yes")
	w(1, "to_logfile: yes")
	w(1, "logfile: /var/log/corosync/corosync.log")
	w(1, "timestamp: on")
	w(0, "}")
	return []byte(b.String()), l
}

func placeholder(node, iface string) string {
	return "ADDRESS-OF-" + slug(node) + "-ON-" + slug(iface)
}

func mediumText(m config.Medium) string {
	switch m.Kind {
	case "ucast":
		return fmt.Sprintf("ucast %s %s", m.Interface, m.Peer)
	case "mcast":
		return fmt.Sprintf("mcast %s %s (knet is unicast: the group is not used)", m.Interface, m.Group)
	}
	return m.Kind + " " + m.Interface
}

// resolveLink finds the nodes' addresses on k: the local node's from its
// interface, the others from ucast lines (a ucast line names a peer's
// address, and ha.cf is usually the same file on both nodes, so it may
// list both).
func resolveLink(k *link, in CorosyncInput) {
	local := strings.ToLower(in.Local)
	var own netip.Addr
	for _, a := range in.LocalAddrs[k.iface] {
		if a.Is4() && !a.IsLinkLocalUnicast() && !a.IsLoopback() {
			own = a
			break
		}
	}
	if own.IsValid() && slices.Contains(in.Cfg.Nodes, local) {
		k.addrs[local] = own.String()
	}
	var peers []string
	for _, m := range k.media {
		if m.Kind == "ucast" && !slices.Contains(peers, m.Peer) && m.Peer != k.addrs[local] {
			peers = append(peers, m.Peer)
		}
	}
	var unknown []string
	for _, n := range in.Cfg.Nodes {
		if _, ok := k.addrs[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	switch {
	case len(peers) == 0:
	case len(unknown) == 1 && len(peers) == 1:
		k.addrs[unknown[0]] = peers[0]
	case len(unknown) == 2 && len(peers) == 1 && slices.Contains(unknown, local):
		// Only the peer's address is listed: it is the other node's.
		other := unknown[0]
		if other == local {
			other = unknown[1]
		}
		k.addrs[other] = peers[0]
	default:
		k.notes = append(k.notes, fmt.Sprintf("ucast addresses on %s: %s; which node has which is not known here: run the export on a node, or fill in the addresses", k.iface, strings.Join(peers, " ")))
	}
}
