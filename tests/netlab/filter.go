package netlab

import (
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strings"
)

// ifaceFilter is what nftables does to one interface of a node.
type ifaceFilter struct {
	cut  bool // drop everything, both directions, ARP included
	loss int  // percent of IP packets dropped in each direction
}

// Cut drops every packet (IP and ARP) entering or leaving ifname on node n,
// like pulling the cable on that side only: the interface stays up, so a
// daemon sees silence rather than an error. The kernel of the CI machines
// has no netem, so this is nftables in the node's own namespace.
func (n *Node) Cut(ifname string) {
	n.lab.t.Helper()
	n.setFilter(ifname, func(f *ifaceFilter) { f.cut = true })
}

// Heal undoes Cut (a configured Loss stays).
func (n *Node) Heal(ifname string) {
	n.lab.t.Helper()
	n.setFilter(ifname, func(f *ifaceFilter) { f.cut = false })
}

// Loss drops percent (0–100) of the IP packets in each direction on ifname,
// chosen at random per packet (nft `numgen random mod 100 < N`). 0 removes it.
func (n *Node) Loss(ifname string, percent int) {
	n.lab.t.Helper()
	if percent < 0 || percent > 100 {
		n.lab.t.Fatalf("netlab: loss %d%% on %s/%s: want 0..100", percent, n.Name, ifname)
	}
	n.setFilter(ifname, func(f *ifaceFilter) { f.loss = percent })
}

func (n *Node) setFilter(ifname string, change func(*ifaceFilter)) {
	n.lab.t.Helper()
	n.mu.Lock()
	f := n.filter[ifname]
	change(&f)
	if f == (ifaceFilter{}) {
		delete(n.filter, ifname)
	} else {
		n.filter[ifname] = f
	}
	ruleset := renderRuleset(n.filter)
	n.mu.Unlock()

	c := exec.Command("ip", "netns", "exec", n.NS, "nft", "-f", "-")
	c.Stdin = strings.NewReader(ruleset)
	if out, err := c.CombinedOutput(); err != nil {
		n.lab.t.Fatalf("netlab: nft in %s: %v: %s\nruleset:\n%s", n.Name, err, bytes.TrimSpace(out), ruleset)
	}
}

// renderRuleset returns one nft transaction that replaces the lab's tables
// with rules for filters; the "table X; delete table X" idiom makes the
// delete succeed whether or not the table existed, so the whole swap is
// atomic and a test never sees a half-applied state.
func renderRuleset(filters map[string]ifaceFilter) string {
	var names []string
	for name := range filters {
		names = append(names, name)
	}
	sort.Strings(names)

	var b strings.Builder
	b.WriteString("table inet netlab\ndelete table inet netlab\n")
	b.WriteString("table arp netlab\ndelete table arp netlab\n")
	if len(names) == 0 {
		return b.String()
	}
	var inIP, outIP, inARP, outARP []string
	for _, name := range names {
		f := filters[name]
		q := fmt.Sprintf("%q", name)
		if f.cut {
			inIP = append(inIP, "iifname "+q+" drop")
			outIP = append(outIP, "oifname "+q+" drop")
			inARP = append(inARP, "iifname "+q+" drop")
			outARP = append(outARP, "oifname "+q+" drop")
		}
		if f.loss >= 100 {
			// nft rejects "< 100" for a mod-100 value: drop outright.
			inIP = append(inIP, "iifname "+q+" drop")
			outIP = append(outIP, "oifname "+q+" drop")
		} else if f.loss > 0 {
			inIP = append(inIP, fmt.Sprintf("iifname %s numgen random mod 100 < %d drop", q, f.loss))
			outIP = append(outIP, fmt.Sprintf("oifname %s numgen random mod 100 < %d drop", q, f.loss))
		}
	}
	chain := func(name, hook string, prio int, rules []string) {
		fmt.Fprintf(&b, "  chain %s {\n    type filter hook %s priority %d; policy accept;\n", name, hook, prio)
		for _, r := range rules {
			fmt.Fprintf(&b, "    %s\n", r)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("table inet netlab {\n")
	chain("in", "input", -300, inIP)
	chain("out", "output", -300, outIP)
	b.WriteString("}\ntable arp netlab {\n")
	chain("in", "input", 0, inARP)
	chain("out", "output", 0, outARP)
	b.WriteString("}\n")
	return b.String()
}
