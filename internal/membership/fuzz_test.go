package membership

import (
	"bytes"
	"testing"
	"time"

	"heartbeatd/internal/wire"
)

// FuzzReceive feeds authenticated-but-hostile messages to a running table:
// any field values, any order. The table must not panic, must not emit
// a malformed message upwards (Deliver, NodeStatus), and must keep its own
// sequence numbers consecutive.
//
// Input: fields separated by '\n', each "name=value"; a second input line
// group after "\n\n" is a second message (to exercise sequencing).
// fuzz-execs: 45000
func FuzzReceive(f *testing.F) {
	seeds := []string{
		"t=status\nst=active\ndt=1388\nprotocol=1\nsrc=pa2\nseq=b\nhg=6b024820\nts=6b024822\nld=0.01 0.07 0.08 1/115 24780\nttl=3",
		"t=NS_rexmit\ndest=pa1\nfirstseq=1\nlastseq=18446744073709551615\nsrc=pa2\nhg=6b024820\nts=6b024822",
		"t=NS_nak_rexmit\nfirstseq=4\ndest=pa1\ninfo=seqno too low\nsrc=pa2\nhg=6b024820\nts=6b024822",
		"t=NS_ackmsg\ndest=pa1\nackseq=ffffffffffffffff\nsrc=pa2\nts=1",
		"dest=pa1\nt=repnodes\nnodelist=pa1 pa2 \ndelnodelist= \nsrc=pa2\nseq=6\nhg=6b024820\nts=6b024822",
		"t=reqnodes\ndest=pa1\nsrc=PA2\nseq=5\nhg=6b024820\nts=6b024822\n\nt=resource\nsrc=pa2\nseq=1f4\nhg=6b024820\nts=6b024822",
		"t=status\nst=up\nsrc=pa2\nseq=1\nhg=1\nts=1\n\nt=status\nst=up\nsrc=pa2\nseq=ffffffff\nhg=2\nts=1",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := New(labConfig("pa1"))
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		tb.Step(now, Start{})
		for _, part := range bytes.Split(data, []byte("\n\n")) {
			m := &wire.Message{}
			for _, line := range bytes.Split(part, []byte("\n")) {
				name, value, _ := bytes.Cut(line, []byte("="))
				m.Fields = append(m.Fields, wire.Field{Type: wire.TypeString, Name: string(name), Value: value})
			}
			before := tb.Stats().Malformed
			acts := tb.Step(now, Received{Msg: m, Link: "eth1"})
			if tb.Stats().Malformed > before {
				for _, a := range acts {
					switch a.(type) {
					case Deliver, NodeStatus:
						t.Fatalf("malformed message produced %T", a)
					}
				}
			}
			if len(acts) > 4*maxRexmitBatch+20 {
				t.Fatalf("one message produced %d actions", len(acts))
			}
			now = now.Add(300 * time.Millisecond)
			tb.Step(now, Tick{})
		}
		if tb.hist.hiSeq != tb.lastSeq {
			t.Fatalf("history at %d, last seq %d", tb.hist.hiSeq, tb.lastSeq)
		}
	})
}
