package media

import (
	"bytes"
	"encoding/binary"
	"testing"

	"heartbeatd/internal/wire"
)

func testKeys(t testing.TB) *wire.Keyring {
	t.Helper()
	kr, err := wire.NewKeyring(wire.Key{Index: 1, Method: wire.MethodSHA1, Secret: []byte("lab secret")})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// The echo payload is Heartbeat's ping plugin message, field for field
// (ping.c, ping_write): t=NS_st, st=ping, info=ping, src=<ping node>, the
// ts of the status it goes out with, then auth; signed, so that the
// echoed copy verifies with our own keyring and reads as a status from
// the ping node.
func TestPingPayloadRoundTrip(t *testing.T) {
	kr := testKeys(t)
	payload, err := kr.Seal(PingMessage("10.201.0.254", "6b02481e"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(payload, kr)
	if err != nil {
		t.Fatalf("the echoed payload does not verify: %v", err)
	}
	var names []string
	for _, f := range m.Fields {
		names = append(names, f.Name+"="+string(f.Value))
	}
	want := []string{"t=NS_st", "st=ping", "info=ping", "src=10.201.0.254", "ts=6b02481e"}
	if len(names) != len(want)+1 || names[len(names)-1][:5] != "auth=" {
		t.Fatalf("fields %q, want %q then auth", names, want)
	}
	for i, w := range want {
		if names[i] != w {
			t.Errorf("field %d: %q, want %q", i, names[i], w)
		}
	}
}

// An echo request carries the payload after an 8-byte ICMP header with a
// valid checksum; the reply (type 0, the same identifier) gives the
// payload back; other ICMP traffic a raw socket sees is not ours.
func TestEchoRequestAndReply(t *testing.T) {
	payload := []byte("###\n(7)t=NS_st\n%%%\n") // odd length: checksum pad
	req := echoRequest(0x1234, 7, payload)
	if req[0] != icmpEcho || req[1] != 0 || binary.BigEndian.Uint16(req[4:]) != 0x1234 || binary.BigEndian.Uint16(req[6:]) != 7 {
		t.Fatalf("header % x", req[:8])
	}
	if icmpChecksum(req) != 0 {
		t.Errorf("checksum does not verify: % x", req[:8])
	}
	reply := append([]byte(nil), req...)
	reply[0] = icmpEchoReply
	if got, ok := echoReplyPayload(reply, 0x1234); !ok || !bytes.Equal(got, payload) {
		t.Errorf("reply payload %q %v", got, ok)
	}
	if _, ok := echoReplyPayload(reply, 0x1235); ok {
		t.Error("another identifier's reply taken")
	}
	if _, ok := echoReplyPayload(req, 0x1234); ok {
		t.Error("an echo request taken as a reply")
	}
	if _, ok := echoReplyPayload(reply[:5], 0x1234); ok {
		t.Error("a truncated packet taken")
	}
}

// A ping spec is named after its ping node and needs hosts; the medium
// cannot open without a keyring to sign with.
func TestPingSpec(t *testing.T) {
	s := Spec{Kind: KindPing, Peer: "gw", Hosts: "10.0.0.1 10.0.0.2"}
	if err := s.Validate(); err != nil || s.Name() != "gw" {
		t.Errorf("valid ping spec: %v, name %q", err, s.Name())
	}
	if err := (Spec{Kind: KindPing, Peer: "gw"}).Validate(); err == nil {
		t.Error("ping spec without hosts accepted")
	}
	if _, err := openPing(s, nil, func(string, string, ...any) {}); err == nil {
		t.Error("ping medium opened without a keyring")
	}
}
