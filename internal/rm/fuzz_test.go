package rm

import (
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// FuzzPeerMessages feeds a stable node arbitrary cluster messages from its
// peer (types and field values come from the wire, untrusted). The manager
// must never panic, whatever the fields say.
func FuzzPeerMessages(f *testing.F) {
	f.Add("resource", "rsc_hold=all;rtype=full;isstable=1")
	f.Add("resource", "rsc_hold=foreign;info=mach_down")
	f.Add("ask_resources", "rsc_hold=all;info=me")
	f.Add("ask_resources", "rsc_hold=bogus;info=done")
	f.Add("ip-request", "ipaddr=10.201.0.100/24/eth1")
	f.Add("ip-request-resp", "dest=pa1;ipaddr=10.201.0.100/24/eth1;weown=yes;ok=OK")
	f.Add("hb_takeover", "rsc_hold=failback")
	f.Add("starting", "")
	f.Add("num_ping_nodes", "num_ping=-3;dest=pa1;to_id=ipfail")
	f.Add("you_are_dead", "dest=pa1;from_id=ipfail")
	f.Add("hbapi-clstat", "st=join;from_id=ipfail")
	f.Fuzz(func(t *testing.T, typ, fields string) {
		for _, mode := range []string{FailbackOn, FailbackLegacy} {
			m := New(Config{Local: "pa1", Peer: "pa2", Groups: testGroups(), AutoFailback: mode, Ipfail: true})
			now := epoch
			m.Step(now, PeerStatus{Node: "pa2", Status: "active"})
			m.Step(now, CommUp{})
			for i := 0; i < 3; i++ {
				msg := wire.New(typ)
				for _, kv := range strings.Split(fields, ";") {
					if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
						msg.Set(k, v)
					}
				}
				msg.Set("src", "pa2")
				now = now.Add(time.Second)
				m.Step(now, Message{Msg: msg})
				m.Step(now, Tick{})
				_ = m.RscStatus()
			}
		}
	})
}
