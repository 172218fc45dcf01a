package rm

import (
	"slices"
	"strings"

	"heartbeatd/haresources"
)

// ReplaceGroups swaps in a new haresources group list (heartbeatd reload).
// Only groups that run nowhere may change: a group that is added, removed or
// redefined must be stopped here and not held by the peer (its resource set
// is not in the peer's rsc_hold; in legacy mode, which keeps no hold bits,
// the peer must not be alive at all). Otherwise the peer would keep running
// a group this node no longer knows, or this node would stop or start the
// wrong resources. When any group blocks, nothing changes and the blocking
// keys are returned. A group added to a set this node holds is not started
// now: it starts the next time that set is acquired.
func (m *Manager) ReplaceGroups(groups []haresources.Group) (blocked []string) {
	seen := map[string]bool{}
	check := func(key string, home string) {
		set := rscForeign
		if strings.EqualFold(home, m.cfg.Local) {
			set = rscLocal
		}
		busy := false
		if g := m.byKey[key]; g != nil && g.state != Stopped {
			busy = true
		}
		if m.nice {
			busy = busy || m.otherHolds&set.complement() != 0
		} else {
			busy = busy || m.peerAlive()
		}
		if busy {
			blocked = append(blocked, key)
		}
	}
	for _, ng := range groups {
		seen[ng.Key] = true
		old := m.byKey[ng.Key]
		if old != nil && sameGroup(old.Group, ng) {
			continue
		}
		check(ng.Key, ng.Node)
		if old != nil && !strings.EqualFold(old.Node, ng.Node) {
			check(ng.Key, old.Node) // moved to the other node: both sets count
		}
	}
	for _, g := range m.groups {
		if !seen[g.Key] {
			check(g.Key, g.Node)
		}
	}
	if len(blocked) > 0 {
		return slices.Compact(blocked)
	}
	newList := make([]*group, 0, len(groups))
	byKey := make(map[string]*group, len(groups))
	for _, ng := range groups {
		if _, dup := byKey[ng.Key]; dup {
			continue
		}
		gg := &group{Group: ng, local: strings.EqualFold(ng.Node, m.cfg.Local)}
		if old := m.byKey[ng.Key]; old != nil && sameGroup(old.Group, ng) {
			gg = old
			gg.Group = ng // new file and line
		}
		newList = append(newList, gg)
		byKey[ng.Key] = gg
	}
	m.groups, m.byKey = newList, byKey
	m.cfg.Groups = append([]haresources.Group(nil), groups...)
	return nil
}

// sameGroup compares what matters to running a group: home node and
// resources; the file position may move.
func sameGroup(a, b haresources.Group) bool {
	if !strings.EqualFold(a.Node, b.Node) || a.Key != b.Key || len(a.Resources) != len(b.Resources) {
		return false
	}
	for i := range a.Resources {
		if a.Resources[i].String() != b.Resources[i].String() {
			return false
		}
	}
	return true
}
