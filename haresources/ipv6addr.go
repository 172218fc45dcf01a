package haresources

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPv6Spec is the argument of Heartbeat's IPv6addr script:
// "address[/prefix[/interface]]", e.g. "2001:db8:0:0:0:0:0:5/64/eth0".
type IPv6Spec struct {
	Addr netip.Addr
	// Bits is the prefix length, or -1 when it was left out (IPv6addr then
	// takes the prefix of the interface address whose subnet holds Addr).
	// Heartbeat's OCF agent reads a prefix of 0 the same way, and so do we.
	Bits int
	// Iface is the interface, or "" when left out.
	Iface string
}

// String writes the spec back as an IPv6addr argument in the form
// Heartbeat can pass through haresources (see ParseIPv6addrArgs).
func (s IPv6Spec) String() string {
	out := NoDoubleColon(s.Addr)
	switch {
	case s.Bits >= 0 && s.Iface != "":
		out += "/" + strconv.Itoa(s.Bits) + "/" + s.Iface
	case s.Bits >= 0:
		out += "/" + strconv.Itoa(s.Bits)
	case s.Iface != "":
		out += "//" + s.Iface
	}
	return out
}

// ParseIPv6Spec validates one IPv6addr argument. It follows Heartbeat's
// resource.d/IPv6addr wrapper, which cuts the argument at "/" into the
// address, the prefix length and the interface: "ADDR//IF" leaves the
// prefix out and names the interface. Where the wrapper silently ignores
// something (a fourth field, a prefix that is not a number), we refuse it.
func ParseIPv6Spec(s string) (IPv6Spec, error) {
	spec := IPv6Spec{Bits: -1}
	fields := strings.Split(s, "/")
	if len(fields) > 3 {
		return spec, fmt.Errorf("%d fields, want address[/prefix[/interface]]", len(fields))
	}
	addr, err := parseIPv6(fields[0])
	if err != nil {
		return spec, err
	}
	spec.Addr = addr
	if len(fields) > 1 {
		switch p := fields[1]; {
		case p == "" && len(fields) == 3:
			// "ADDR//IF": no prefix, as the wrapper reads it.
		case p == "":
			return spec, fmt.Errorf("empty prefix length after %q", fields[0])
		case len(p) > 3 || !allDigits(p):
			if looksLikeIfaceName(p) {
				return spec, fmt.Errorf("second field %q must be the prefix length; write %s//%s (no prefix) or %s/PREFIX/%s", p, fields[0], p, fields[0], p)
			}
			return spec, fmt.Errorf("prefix length %q is not a number 0..128", p)
		default:
			n, _ := strconv.Atoi(p)
			if n > 128 {
				return spec, fmt.Errorf("prefix length %d out of range 0..128", n)
			}
			if n > 0 {
				spec.Bits = n
			}
		}
	}
	if len(fields) > 2 {
		if err := checkIface(fields[2]); err != nil {
			return spec, err
		}
		if strings.Contains(fields[2], ":") {
			return spec, fmt.Errorf("interface %q: IPv6 addresses have no alias labels; name the interface itself", fields[2])
		}
		spec.Iface = fields[2]
	}
	if spec.Addr.IsLinkLocalUnicast() && spec.Iface == "" {
		return spec, fmt.Errorf("%s is link-local: name the interface (%s/64/IFACE), every link has this prefix", spec.Addr, fields[0])
	}
	return spec, nil
}

// parseIPv6 accepts an IPv6 unicast address that can serve as a service
// address.
func parseIPv6(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, fmt.Errorf("empty address")
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil && strings.Contains(s, "%"):
		return a, fmt.Errorf("address %q: a zone (%%IFACE) is not allowed; name the interface as the third field", s)
	case err != nil:
		return a, fmt.Errorf("address %q is not a valid IPv6 address", s)
	case a.Zone() != "":
		return a, fmt.Errorf("address %q: a zone (%%IFACE) is not allowed; name the interface as the third field", s)
	case a.Is4():
		return a, fmt.Errorf("%s is an IPv4 address: use the IPaddr resource", a)
	case a.Is4In6():
		return a, fmt.Errorf("%s is an IPv4-mapped address: use the IPaddr resource for %s", a, a.Unmap())
	case a.IsUnspecified(), a.IsLoopback():
		return a, fmt.Errorf("address %s cannot be a service address", a)
	case a.IsMulticast():
		return a, fmt.Errorf("address %s is multicast, not a service address", a)
	}
	return a, nil
}

// ParseIPv6addrArgs reads the arguments IPv6addr receives for one
// haresources resource. Heartbeat's ResourceManager splits a resource at
// every "::" (IPv6addr::2001:db8::5/64 reaches the script as "2001:db8"
// and "5/64"), and its IPv6addr wrapper then refuses the second argument,
// so an address must be written without "::". When the pieces form an
// address again, the error says how to write it.
func ParseIPv6addrArgs(args []string) (IPv6Spec, error) {
	switch {
	case len(args) == 1:
		spec, err := ParseIPv6Spec(args[0])
		if err != nil {
			return spec, fmt.Errorf("IPv6addr argument %s: %w", quoteShort(args[0]), err)
		}
		return spec, nil
	case len(args) > 1:
		joined := strings.Join(args, "::")
		if spec, err := ParseIPv6Spec(joined); err == nil {
			return spec, fmt.Errorf("IPv6addr argument %s contains \"::\", where Heartbeat splits resource arguments, "+
				"so the script gets %d arguments; write the address without \"::\": IPv6addr::%s", quoteShort(joined), len(args), spec)
		}
	}
	return IPv6Spec{Bits: -1}, fmt.Errorf("IPv6addr takes one argument address[/prefix[/interface]], got %d", len(args))
}

// NoDoubleColon writes an IPv6 address with all eight groups, leading
// zeros dropped ("2001:db8:0:0:0:0:0:5"): the only form haresources can
// carry to IPv6addr (see ParseIPv6addrArgs).
func NoDoubleColon(a netip.Addr) string {
	if !a.Is6() {
		return a.String()
	}
	b := a.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16))
	}
	return sb.String()
}
