package node

import (
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// FuzzPeerMessages has a live peer send arbitrary cluster messages (type and
// fields from the fuzzer) through its real membership to a stable node: the
// drbd-peer-outdater, digest and legacy handlers and the resource manager
// all see them. The node must never panic, and a resource name that is not
// a plain DRBD name never reaches drbdadm.
//
// fuzz-execs: 15000
func FuzzPeerMessages(f *testing.F) {
	f.Add("start_outdate", "dop_res=r0;dest=pa1;from_id=dopd;to_id=dopd;client_gen=1")
	f.Add("start_outdate", "dop_res=r0; reboot;dest=pa1")
	f.Add("outdate_rc", "dop_res=r0;dop_value=4;dest=pa1")
	f.Add("hbd-digest", "digest=zz;ask=1")
	f.Add("ip-request-resp", "dest=pa2;ipaddr=IPaddr::10.0.0.2;weown=yes;ok=OK")
	f.Add("resource", "rsc_hold=all;rtype=full;isstable=1")
	f.Add("ask_resources", "rsc_hold=all;info=me")
	f.Fuzz(func(t *testing.T, typ, fields string) {
		w := newWorld(t, 1, "legacy")
		var ran []string
		w.drbdadm = func(i int, a RunOutdate) (int, bool) {
			ran = append(ran, a.Resource)
			return 0, true
		}
		w.start(0)
		w.start(1)
		w.run(12 * time.Second)
		msg := wire.New(typ)
		for _, kv := range strings.Split(fields, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				msg.Set(k, v)
			}
		}
		for _, a := range w.nodes[1].n.Step(w.now, Tick{}) {
			w.apply(1, a)
		}
		w.nodes[1].n.now, w.nodes[1].n.out = w.now, nil
		w.nodes[1].n.send(msg)
		for _, a := range w.nodes[1].n.out {
			w.apply(1, a)
		}
		w.run(3 * time.Second)
		for _, r := range ran {
			if !drbdResource.MatchString(r) {
				t.Fatalf("drbdadm ran for resource %q", r)
			}
		}
	})
}
