package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ifNameMax is IFNAMSIZ-1: Linux interface names have at most 15 bytes.
const ifNameMax = 15

// validBauds are the rates Heartbeat's StringToBaud knows on Linux.
var validBauds = map[int]bool{9600: true, 19200: true, 38400: true, 57600: true, 115200: true, 230400: true, 460800: true}

// setUDPPort records udpport. Heartbeat's bcast and ucast plugins read the
// port when their line is parsed, so a udpport below the media lines leaves
// them on the old port: a classic trap (Heartbeat prints "udpport setting
// must precede media statements" on every start, whatever the order). We
// reproduce the ordering and warn only when it actually bites.
//
// A second udpport is legitimate (media on different ports), so it does not
// draw the "given again" warning, and the ordering warning is only for the
// first one: whoever writes two already knows that order matters.
func (p *hacfParser) setUDPPort(d Directive) {
	_, hadPort := p.lastLine[d.Name]
	delete(p.lastLine, d.Name)
	port := 0
	if !p.setInt(d, &port, 1, 65535) {
		return
	}
	if p.udpMediaAt > 0 && !hadPort {
		p.warnf(d.Line, "udpport %d comes after the media line %d: media lines above this one keep port %d (udpport applies only to media lines after it)", port, p.udpMediaAt, p.udpport)
	}
	p.udpport = port
	p.cfg.UDPPort = port
}

// setBaud records baud; Heartbeat refuses it twice and applies it to the
// serial lines after it.
func (p *hacfParser) setBaud(d Directive) {
	if prev, ok := p.lastLine[d.Name]; ok {
		p.errorf(d.Line, "baud given twice (first on line %d)", prev)
		return
	}
	rate := 0
	if !p.setInt(d, &rate, 1, 1<<30) {
		return
	}
	if !validBauds[rate] {
		p.errorf(d.Line, "baud: %d is not a supported rate (9600, 19200, 38400, 57600, 115200, 230400, 460800)", rate)
		return
	}
	if p.serialAt > 0 {
		p.warnf(d.Line, "baud %d comes after the serial line %d, which keeps %d baud (baud applies only to serial lines after it)", rate, p.serialAt, p.baud)
	}
	p.baud = rate
	p.cfg.Baud = rate
}

func (p *hacfParser) addMedium(m Medium) {
	for _, o := range p.cfg.Media {
		if o.Kind == m.Kind && o.Interface == m.Interface && o.Peer == m.Peer && o.Group == m.Group && o.Device == m.Device {
			p.errorf(m.Line, "%s %s is configured twice (first on line %d)", m.Kind, describeMedium(m), o.Line)
			return
		}
	}
	if p.udpMediaAt == 0 && (m.Kind == "bcast" || m.Kind == "ucast") {
		p.udpMediaAt = m.Line
	}
	p.cfg.Media = append(p.cfg.Media, m)
}

func describeMedium(m Medium) string {
	switch m.Kind {
	case "ucast":
		return m.Interface + " " + m.Peer
	case "mcast":
		return m.Interface + " " + m.Group
	case "serial":
		return m.Device
	}
	return m.Interface
}

// addBcast makes one medium per interface, as Heartbeat's bcast plugin
// does. "udp" is its old name.
func (p *hacfParser) addBcast(d Directive) {
	if d.Name == "udp" {
		p.warnf(d.Line, "directive 'udp' is obsolete; read as 'bcast'")
	}
	if len(d.Args) == 0 {
		p.errorf(d.Line, "%s: expected one or more interfaces", d.Name)
		return
	}
	for _, ifname := range d.Args {
		if err := checkIfName(ifname); err != nil {
			p.errorf(d.Line, "%s: %v", d.Name, err)
			continue
		}
		p.addMedium(Medium{Kind: "bcast", Interface: ifname, Port: p.udpport, Line: d.Line})
	}
}

// addUcast takes one interface and one peer. Heartbeat 3.0.6 ignores any
// further words; a second peer on the line would silently get no
// heartbeats, so we refuse it.
func (p *hacfParser) addUcast(d Directive) {
	if len(d.Args) != 2 {
		p.errorf(d.Line, "ucast: expected INTERFACE PEER, got %d values (write one ucast line per peer)", len(d.Args))
		return
	}
	if err := checkIfName(d.Args[0]); err != nil {
		p.errorf(d.Line, "ucast: %v", err)
		return
	}
	if !isHost(d.Args[1]) {
		p.errorf(d.Line, "ucast: peer %s is not an IP address or host name", clip(d.Args[1]))
		return
	}
	p.addMedium(Medium{Kind: "ucast", Interface: d.Args[0], Peer: d.Args[1], Port: p.udpport, Line: d.Line})
}

// addMcast checks the five arguments as Heartbeat's mcast plugin does.
func (p *hacfParser) addMcast(d Directive) {
	if len(d.Args) != 5 {
		p.errorf(d.Line, "mcast: expected INTERFACE GROUP PORT TTL LOOP, got %d values", len(d.Args))
		return
	}
	ifname, group, portS, ttlS, loopS := d.Args[0], d.Args[1], d.Args[2], d.Args[3], d.Args[4]
	if err := checkIfName(ifname); err != nil {
		p.errorf(d.Line, "mcast: %v", err)
		return
	}
	addr, err := netip.ParseAddr(group)
	if err != nil || !addr.Is4() || !addr.IsMulticast() {
		p.errorf(d.Line, "mcast: group %s is not an IPv4 multicast address (224.0.0.0/4)", clip(group))
		return
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 1 || port > 65535 {
		p.errorf(d.Line, "mcast: port %s is not a number 1-65535", clip(portS))
		return
	}
	// Heartbeat's mcast_parse rejects ttl > 4 ("bad ttl").
	ttl, err := strconv.Atoi(ttlS)
	if err != nil || ttl < 0 || ttl > 4 {
		p.errorf(d.Line, "mcast: ttl %s is not a number 0-4", clip(ttlS))
		return
	}
	if loopS != "0" && loopS != "1" {
		p.errorf(d.Line, "mcast: loop %s is not 0 or 1", clip(loopS))
		return
	}
	p.addMedium(Medium{Kind: "mcast", Interface: ifname, Group: addr.String(), Port: port, TTL: ttl, Loop: loopS == "1", Line: d.Line})
}

func (p *hacfParser) addSerial(d Directive) {
	if len(d.Args) == 0 {
		p.errorf(d.Line, "serial: expected one or more devices")
		return
	}
	for _, dev := range d.Args {
		if !strings.HasPrefix(dev, "/") {
			p.errorf(d.Line, "serial: device %s is not an absolute path", clip(dev))
			continue
		}
		if p.serialAt == 0 {
			p.serialAt = d.Line
		}
		p.addMedium(Medium{Kind: "serial", Device: dev, Baud: p.baud, Line: d.Line})
	}
}

// checkIfName accepts what Linux accepts as an interface name.
func checkIfName(s string) error {
	if len(s) > ifNameMax || s == "." || s == ".." || strings.ContainsRune(s, '/') {
		return fmt.Errorf("%s is not a valid interface name", clip(s))
	}
	return nil
}

// isHost accepts an IP address or a DNS host name.
func isHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}
