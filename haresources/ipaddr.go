package haresources

import (
	"fmt"
	"math/bits"
	"net/netip"
	"regexp"
	"strings"
)

// ipShorthand is ResourceManager's isip() glob [0-9]*.[0-9]*.[0-9]*.[0-9]*
// written as a regular expression: in a shell glob "*" is any string, so
// Heartbeat treats every token of this shape as "IPaddr::<token>", including
// typos such as "10.0.0.300" or "1st.2nd.3rd.4th". We expand the same tokens
// and then validate them, so the typo is reported here rather than by IPaddr
// at takeover time.
var ipShorthand = regexp.MustCompile(`(?s)^[0-9].*\.[0-9].*\.[0-9].*\.[0-9].*$`)

// looksLikeIP reports whether Heartbeat would read tok as IPaddr shorthand.
func looksLikeIP(tok string) bool { return ipShorthand.MatchString(tok) }

// IPSpec is the argument of Heartbeat's IPaddr script:
// "ip[/netmask[/interface[/broadcast]]]".
type IPSpec struct {
	Addr netip.Addr
	// Bits is the prefix length, or -1 when the netmask was left out (IPaddr
	// then takes it from the route to the address).
	Bits int
	// Iface is the interface (optionally with an alias label, "eth0:1"), or
	// "" when left out.
	Iface string
	// Broadcast is the explicit broadcast address; invalid when left out.
	Broadcast netip.Addr
}

// ParseIPSpec validates an IPaddr argument such as "10.11.55.50/8/eth0" or,
// as old configurations write it, "10.0.0.5/255.255.255.0/eth0". Empty
// fields are rejected: the IPaddr wrapper splits on "/" with the shell, so
// "10.0.0.5//eth0" would silently read "eth0" as the netmask.
func ParseIPSpec(s string) (IPSpec, error) {
	spec := IPSpec{Bits: -1}
	fields := strings.Split(s, "/")
	if len(fields) > 4 {
		return spec, fmt.Errorf("%d fields, want at most ip/netmask/interface/broadcast", len(fields))
	}
	for i, f := range fields {
		if f == "" {
			return spec, fmt.Errorf("empty field %d (want ip/netmask/interface/broadcast)", i+1)
		}
	}
	addr, err := parseIPv4(fields[0])
	if err != nil {
		return spec, fmt.Errorf("address %q: %w", fields[0], err)
	}
	switch {
	case addr.IsUnspecified(), addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return spec, fmt.Errorf("address %s cannot be a service address", addr)
	case addr.IsMulticast():
		return spec, fmt.Errorf("address %s is multicast, not a service address", addr)
	}
	spec.Addr = addr
	if len(fields) > 1 {
		b, err := parseNetmask(fields[1])
		if err != nil {
			return spec, err
		}
		spec.Bits = b
	}
	if len(fields) > 2 {
		if err := checkIface(fields[2]); err != nil {
			return spec, err
		}
		spec.Iface = fields[2]
	}
	if len(fields) > 3 {
		bc, err := parseIPv4(fields[3])
		if err != nil {
			return spec, fmt.Errorf("broadcast %q: %w", fields[3], err)
		}
		spec.Broadcast = bc
	}
	return spec, nil
}

// parseIPv4 accepts only plain dotted quads; netip already rejects leading
// zeros ("10.0.0.010"), which some tools read as octal.
func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("not a valid IPv4 address")
	}
	return a, nil
}

// parseNetmask reads a prefix length (0..32) or a dotted netmask.
func parseNetmask(s string) (int, error) {
	if strings.Contains(s, ".") {
		m, err := parseIPv4(s)
		if err != nil {
			return 0, fmt.Errorf("netmask %q: %w", s, err)
		}
		b := m.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := bits.LeadingZeros32(^v)
		if v<<ones != 0 {
			return 0, fmt.Errorf("netmask %s is not contiguous", s)
		}
		return ones, nil
	}
	if len(s) > 2 || !allDigits(s) {
		if looksLikeIfaceName(s) {
			return 0, fmt.Errorf("second field %q must be the prefix length; write ip/prefix/%s", s, s)
		}
		return 0, fmt.Errorf("prefix length %q is not a number 0..32", s)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n > 32 {
		return 0, fmt.Errorf("prefix length %d out of range 0..32", n)
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func looksLikeIfaceName(s string) bool {
	return s != "" && (s[0] < '0' || s[0] > '9') && checkIface(s) == nil
}

// checkIface applies the kernel's rules for interface names (IFNAMSIZ 16
// including the NUL, not "." or "..", no "/" or blanks); an alias label
// after ":" (eth0:1) is allowed, as IPaddr uses it.
func checkIface(s string) error {
	if len(s) > 15 {
		return fmt.Errorf("interface %q longer than 15 characters", s)
	}
	base, _, _ := strings.Cut(s, ":")
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("interface %q is not a valid interface name", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("interface %q is not a valid interface name", s)
		}
	}
	return nil
}
