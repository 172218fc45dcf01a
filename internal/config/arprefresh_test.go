package config

import (
	"strings"
	"testing"
	"time"
)

// arp_refresh is off unless set; it takes 0 (off) or a time of at least a
// second, and as heartbeatd's own directive its "s" suffix draws no
// warning.
func TestARPRefresh(t *testing.T) {
	base := "node a b\nbcast eth0\nauto_failback on\nlogfacility daemon\n"
	for _, tc := range []struct {
		line string
		want time.Duration
	}{
		{"", 0},
		{"arp_refresh 30", 30 * time.Second},
		{"arp_refresh 30s", 30 * time.Second},
		{"arp_refresh 1500ms", 1500 * time.Millisecond},
		{"arp_refresh 0", 0},
		{"arp_refresh 0s", 0},
	} {
		cfg, l := ParseHACF(strings.NewReader(base+tc.line+"\n"), "ha.cf")
		if len(l) != 0 || cfg.ARPRefresh != tc.want {
			t.Errorf("%q: %v %v, want %v and no findings", tc.line, cfg.ARPRefresh, l, tc.want)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{"arp_refresh 500ms", `ha.cf:5: error: arp_refresh: "500ms" is below 1000ms (0 turns the refresh off)`},
		{"arp_refresh x", `ha.cf:5: error: arp_refresh: "x" is not a time`},
		{"arp_refresh", "ha.cf:5: error: arp_refresh: missing value"},
		{"arp_refresh 1 2", "ha.cf:5: error: arp_refresh takes one value, got 2"},
	} {
		cfg, l := ParseHACF(strings.NewReader(base+tc.line+"\n"), "ha.cf")
		if !l.HasErrors() || !strings.Contains(l.Err().Error(), tc.want) || cfg.ARPRefresh != 0 {
			t.Errorf("%q: %v, want an error %q", tc.line, l, tc.want)
		}
	}
}
