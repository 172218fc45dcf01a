package rm

import (
	"slices"
	"testing"
	"time"

	"heartbeatd/haresources"
)

func extraGroup(node, key string) haresources.Group {
	return haresources.Group{Node: node, Key: key, Resources: []haresources.Resource{{Script: key}}}
}

func TestReplaceGroupsRefusesRunningOrPeerHeldGroups(t *testing.T) {
	w := startPair(t, FailbackOn)
	w.run(15 * time.Second)
	wantOwners(t, w, "pa1")
	pa1, pa2 := w.nodes[0].m, w.nodes[1].m
	base := testGroups()

	// Changing the running group: refused on pa1 (runs it) and on pa2
	// (pa1 holds it).
	changed := []haresources.Group{base[0]}
	changed[0].Resources = changed[0].Resources[:1]
	for i, m := range []*Manager{pa1, pa2} {
		if b := m.ReplaceGroups(changed); !slices.Equal(b, []string{base[0].Key}) {
			t.Errorf("%s: blocked %v, want the running group", w.nodes[i].name, b)
		}
	}
	// Removing it: refused the same way, and nothing changed.
	if b := pa2.ReplaceGroups(nil); len(b) != 1 {
		t.Errorf("removing a group pa1 holds: blocked %v", b)
	}
	if len(pa2.Groups()) != 1 {
		t.Fatalf("a refused ReplaceGroups changed pa2's groups: %v", pa2.Groups())
	}

	// A new group at home on pa2: pa2 holds its own (empty) local set, pa1
	// does not, so pa2 may add it (stopped) but pa1 must not (pa2 holds it).
	added := append(slices.Clone(base), extraGroup("pa2", "svc2"))
	if b := pa2.ReplaceGroups(added); b != nil {
		t.Fatalf("pa2 adding its own stopped group: blocked %v", b)
	}
	if st, ok := pa2.Groups()["svc2"]; !ok || st != Stopped {
		t.Fatalf("svc2 on pa2: %v %v", st, ok)
	}
	if b := pa1.ReplaceGroups(added); !slices.Equal(b, []string{"svc2"}) {
		t.Fatalf("pa1 adding a group of a set pa2 holds: blocked %v", b)
	}
	// The unchanged group keeps its state on pa1 when the list is replaced.
	if b := pa1.ReplaceGroups(base); b != nil {
		t.Fatalf("identical list blocked: %v", b)
	}
	if pa1.Groups()[base[0].Key] != Running {
		t.Fatalf("running group lost its state: %v", pa1.Groups())
	}
}
