package daemon

import (
	"testing"

	"heartbeatd/internal/membership"
)

// Regression: a node whose membership went active on the peer's repnodes
// before the peer's first status arrived (peer still "init") took the
// peer's groups as if it were alone: both nodes then held them (seen in
// the failover test under load).
func TestCommUpAloneOnlyWhenPeerDead(t *testing.T) {
	for st, alone := range map[string]bool{
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
