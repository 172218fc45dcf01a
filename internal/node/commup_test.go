package node

import (
	"testing"

	"heartbeatd/internal/membership"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/wire"
)

// Regression: a node whose membership went active on the peer's repnodes
// before the peer's first status arrived (peer still "init") took the
// peer's groups as if it were alone: both nodes then held them (seen in
// the failover test under load).
func TestCommUpAloneOnlyWhenPeerDead(t *testing.T) {
	for st, alone := range map[nodestatus.Status]bool{
		membership.StatusInit: false, membership.StatusUp: false,
		membership.StatusActive: false, membership.StatusDead: true,
	} {
		if got := commUp("n2", st).Alone; got != alone {
			t.Errorf("peer %s: Alone=%v, want %v", st, got, alone)
		}
	}
	if !commUp("", "").Alone {
		t.Error("no peer configured: want Alone")
	}
}

// A legacy peer that sends ip-request-resp to itself is taking its group
// without asking; anything else overheard is none of our business.
func TestLegacySelfTake(t *testing.T) {
	msg := func(kv ...string) *wire.Message {
		m := wire.New("ip-request-resp")
		for i := 0; i+1 < len(kv); i += 2 {
			m.Set(kv[i], kv[i+1])
		}
		return m
	}
	self := msg("src", "n1", "dest", "n1", "ipaddr", "10.0.0.1/24", "weown", "yes", "ok", "OK")
	if key, ok := legacySelfTake("n1", rm.FailbackLegacy, self); !ok || key != "10.0.0.1/24" {
		t.Fatalf("self-addressed take not recognised: %q %v", key, ok)
	}
	for name, c := range map[string]struct {
		mode string
		m    *wire.Message
	}{
		"nice mode":        {rm.FailbackOn, self},
		"to a third node":  {rm.FailbackLegacy, msg("src", "n1", "dest", "n3", "ipaddr", "x", "weown", "yes")},
		"weown=no":         {rm.FailbackLegacy, msg("src", "n1", "dest", "n1", "ipaddr", "x", "weown", "no")},
		"from another src": {rm.FailbackLegacy, msg("src", "n3", "dest", "n3", "ipaddr", "x", "weown", "yes")},
		"other type":       {rm.FailbackLegacy, wire.New("ip-request")},
	} {
		if _, ok := legacySelfTake("n1", c.mode, c.m); ok {
			t.Errorf("%s: recognised as a self take", name)
		}
	}
}
