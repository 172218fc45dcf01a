package media

import (
	"errors"
	"strings"
	"testing"
)

// Replace opens what is new, closes what is gone, keeps the rest, and
// changes nothing when the commit refuses or a spec is invalid.
func TestSetReplace(t *testing.T) {
	recv := make(chan Packet, 16)
	s := NewSet(Config{Recv: recv})
	defer s.Close()
	a := Spec{Kind: KindUcast, Interface: "lo", Peer: "127.0.0.2", Port: 40694}
	b := Spec{Kind: KindUcast, Interface: "lo", Peer: "127.0.0.3", Port: 40695}
	ok := func() error { return nil }
	if _, err := s.Replace([]Spec{a}, []string{"ha.cf:1: ucast"}, ok); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Replace([]Spec{b}, []string{"ha.cf:2: ucast"}, ok)
	if err != nil || sum != "media +lo -lo" || len(s.list) != 1 || s.list[0].(*Link).Spec() != b {
		t.Fatalf("replace a by b: %q %v %d", sum, err, len(s.list))
	}
	refused := errors.New("membership refuses")
	if _, err := s.Replace([]Spec{a, b}, []string{"x", "y"}, func() error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("refused commit: %v", err)
	}
	if len(s.list) != 1 {
		t.Fatalf("a refused commit changed the set: %d media", len(s.list))
	}
	bad := Spec{Kind: KindUcast, Interface: "lo"} // no peer
	if _, err := s.Replace([]Spec{b, bad}, []string{"ha.cf:2: ucast", "ha.cf:3: ucast"}, ok); err == nil || !strings.HasPrefix(err.Error(), "ha.cf:3: ucast") {
		t.Fatalf("invalid spec: %v", err)
	}
	if len(s.list) != 1 {
		t.Fatalf("an invalid spec changed the set: %d media", len(s.list))
	}
}
