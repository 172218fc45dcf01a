package reload

import (
	"strings"
	"testing"

	"heartbeatd/internal/wire"
)

func ring(t *testing.T, active wire.Key, others ...wire.Key) *wire.Keyring {
	t.Helper()
	r, err := wire.NewKeyring(active, others...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A reload may add keys and switch the active one, but not take away (or
// change) the key the peer signs with now.
func TestKeepsKeyFollowsTheRotationProcedure(t *testing.T) {
	k1 := wire.Key{Index: 1, Method: wire.MethodSHA1, Secret: []byte("old secret")}
	k2 := wire.Key{Index: 2, Method: wire.MethodSHA1, Secret: []byte("new secret")}
	k1changed := wire.Key{Index: 1, Method: wire.MethodSHA1, Secret: []byte("edited in place")}
	running := ring(t, k1)
	for _, tt := range []struct {
		name    string
		next    *wire.Keyring
		peerIdx int
		ok      bool
	}{
		{"step 1: add key 2", ring(t, k1, k2), 1, true},
		{"step 2: sign with 2, keep 1", ring(t, k2, k1), 1, true},
		{"old key removed while the peer still signs with it", ring(t, k2), 1, false},
		{"key edited in place", ring(t, k1changed), 1, false},
		{"nothing heard from the peer yet", ring(t, k2), -1, true},
		{"peer already moved to 2", ring(t, k2), 2, true},
	} {
		cur := running
		if tt.peerIdx == 2 {
			cur = ring(t, k2, k1)
		}
		err := KeepsKey(cur, tt.next, tt.peerIdx, "pa2")
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "authkeys(5)") || strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: %v: must name the procedure and never a key", tt.name, err)
			}
		}
	}
}
