package media

import (
	"net/netip"
	"testing"
)

// A log line names a UDP sender by address and port, and a serial frame
// (no address) by "-", never as "invalid AddrPort".
func TestPacketSender(t *testing.T) {
	udp := Packet{From: netip.MustParseAddrPort("10.0.0.1:694")}
	if got := udp.Sender(); got != "10.0.0.1:694" {
		t.Errorf("Sender(udp) = %q", got)
	}
	if got := (Packet{Link: "/dev/ttyS0"}).Sender(); got != "-" {
		t.Errorf("Sender(serial) = %q, want -", got)
	}
}
