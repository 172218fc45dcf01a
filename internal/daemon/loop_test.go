package daemon

import (
	"net/netip"
	"testing"

	"heartbeatd/internal/media"
)

// TestFromOf: a log line names a UDP sender by address and port, and a
// serial frame (no address) by "-", never as "invalid AddrPort".
func TestFromOf(t *testing.T) {
	udp := media.Packet{From: netip.MustParseAddrPort("10.0.0.1:694")}
	if got := fromOf(udp); got != "10.0.0.1:694" {
		t.Errorf("fromOf(udp) = %q", got)
	}
	if got := fromOf(media.Packet{Link: "/dev/ttyS0"}); got != "-" {
		t.Errorf("fromOf(serial) = %q, want -", got)
	}
}
