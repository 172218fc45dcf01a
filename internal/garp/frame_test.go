package garp

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
)

var (
	testMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	testIP  = netip.MustParseAddr("10.201.0.100")
)

// unhex reads a hex dump written with spaces for readability.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pad = "000000000000000000000000000000000000" // 18 bytes to 60

func TestGratuitousRequestBytes(t *testing.T) {
	got, err := Gratuitous(OpRequest, testMAC, testIP)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		ffffffffffff 525400123456 0806
		0001 0800 06 04 0001
		525400123456 0ac90064
		000000000000 0ac90064`+pad)
	if !bytes.Equal(got, want) {
		t.Fatalf("request frame\n got %x\nwant %x", got, want)
	}
}

func TestGratuitousReplyBytes(t *testing.T) {
	got, err := Gratuitous(OpReply, testMAC, testIP)
	if err != nil {
		t.Fatal(err)
	}
	// Target MAC = sender MAC: without it Linux does not treat the reply
	// as gratuitous and honours it only outside locktime.
	want := unhex(t, `
		ffffffffffff 525400123456 0806
		0001 0800 06 04 0002
		525400123456 0ac90064
		525400123456 0ac90064`+pad)
	if !bytes.Equal(got, want) {
		t.Fatalf("reply frame\n got %x\nwant %x", got, want)
	}
}

func TestProbeBytes(t *testing.T) {
	got, err := Probe(testMAC, testIP)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		ffffffffffff 525400123456 0806
		0001 0800 06 04 0001
		525400123456 00000000
		000000000000 0ac90064`+pad)
	if !bytes.Equal(got, want) {
		t.Fatalf("probe frame\n got %x\nwant %x", got, want)
	}
}

func TestGratuitousRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   Op
		mac  net.HardwareAddr
		ip   netip.Addr
		want string
	}{
		{"short mac", OpRequest, net.HardwareAddr{1, 2, 3}, testIP, "6-byte"},
		{"infiniband mac", OpRequest, make(net.HardwareAddr, 20), testIP, "6-byte"},
		{"ipv6", OpRequest, testMAC, netip.MustParseAddr("fe80::1"), "not an IPv4"},
		{"zero ip", OpRequest, testMAC, netip.Addr{}, "not an IPv4"},
		{"op 3", Op(3), testMAC, testIP, "unsupported ARP operation 3"},
	} {
		_, err := Gratuitous(tc.op, tc.mac, tc.ip)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseRoundTripAndGratuitousCheck(t *testing.T) {
	for _, op := range []Op{OpRequest, OpReply} {
		f, _ := Gratuitous(op, testMAC, testIP)
		p, err := Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		if p.Op != op || p.SenderIP != testIP || p.TargetIP != testIP ||
			p.SenderMAC.String() != testMAC.String() || p.EthSrc.String() != testMAC.String() ||
			p.EthDst.String() != "ff:ff:ff:ff:ff:ff" {
			t.Fatalf("%v: parsed %+v", op, p)
		}
		if !p.IsGratuitous(testIP) {
			t.Fatalf("%v not recognised as gratuitous", op)
		}
		if p.IsGratuitous(netip.MustParseAddr("10.201.0.101")) {
			t.Fatalf("%v recognised as gratuitous for another address", op)
		}
	}
	// A reply whose target MAC is not the sender's is an ordinary reply.
	f, _ := Gratuitous(OpReply, testMAC, testIP)
	f[37] ^= 1
	p, _ := Parse(f)
	if p.IsGratuitous(testIP) {
		t.Fatal("reply with foreign target MAC counted as gratuitous")
	}
	probe, _ := Probe(testMAC, testIP)
	if p, _ := Parse(probe); p.IsGratuitous(testIP) {
		t.Fatal("probe (sender IP 0.0.0.0) counted as gratuitous")
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := Gratuitous(OpRequest, testMAC, testIP)
	mut := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "shorter"},
		{"truncated", good[:41], "shorter"},
		{"ipv4 ethertype", mut(13, 0x00), "not ARP"},
		{"token ring htype", mut(15, 6), "not Ethernet"},
		{"ipv6 ptype", mut(16, 0x86), "not IPv4"},
		{"hlen 8", mut(18, 8), "address lengths 8/4"},
		{"plen 16", mut(19, 16), "address lengths 6/16"},
	} {
		if _, err := Parse(tc.frame); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want containing %q", tc.name, err, tc.want)
		}
	}
	// Unpadded 42-byte frames (arping, Linux on veth) are fine.
	if _, err := Parse(good[:42]); err != nil {
		t.Errorf("42-byte frame: %v", err)
	}
}

// FuzzParse: frames come off the wire; Parse must never panic, and whatever
// it accepts must re-encode to the same 42 ARP bytes.
func FuzzParse(f *testing.F) {
	for _, op := range []Op{OpRequest, OpReply} {
		g, _ := Gratuitous(op, testMAC, testIP)
		f.Add(g)
	}
	p, _ := Probe(testMAC, testIP)
	f.Add(p)
	f.Add(p[:42])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		again := p.marshal()
		if !bytes.Equal(again[:42], b[:42]) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b[:42], again[:42])
		}
	})
}

// An announcement on behalf of another holder carries the holder's MAC in
// the ARP fields (what neighbours learn) and ours as the Ethernet source
// (what switches learn).
func TestOnBehalf(t *testing.T) {
	ours, holder := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	ip := netip.MustParseAddr("10.0.0.5")
	for _, op := range []Op{OpRequest, OpReply} {
		f, err := OnBehalf(op, ours, holder, ip)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(f)
		if err != nil {
			t.Fatal(err)
		}
		if p.EthSrc.String() != ours.String() || p.SenderMAC.String() != holder.String() || !p.IsGratuitous(ip) || p.Op != op {
			t.Fatalf("%v on behalf: %+v", op, p)
		}
	}
	if _, err := OnBehalf(OpRequest, ours[:3], holder, ip); err == nil {
		t.Fatal("a short source MAC was accepted")
	}
}
