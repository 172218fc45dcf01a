// Package media moves heartbeat packets over the links ha.cf names: bcast,
// ucast and mcast UDP media bound to one interface each, serial lines, and
// the ICMP echo of ping nodes (ping.go).
// It is transport only: bytes in, bytes out, tagged with the link they came
// from. Encoding, authentication and every decision about what a silent
// link means belong to internal/wire and the membership core.
//
// A link that cannot work right now (interface missing, down, without an
// address, tty absent) is not an error that stops the daemon: Open succeeds,
// the link reports down with a reason, and a retry loop brings it back when
// the interface returns — Heartbeat users bring NICs down for maintenance
// and expect the cluster to keep running on the other link.
package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/wire"
)

// Medium kinds, as spelled in ha.cf.
const (
	KindBcast  = "bcast"
	KindUcast  = "ucast"
	KindMcast  = "mcast"
	KindSerial = "serial"
)

// DefaultPort is Heartbeat's udpport (ha-cluster/udp).
const DefaultPort = 694

// DefaultBaud is Heartbeat's default `baud`.
const DefaultBaud = 19200

// MaxPacket is Heartbeat's MAXMSG: the UDP read buffer and the largest
// message a serial frame may hold.
const MaxPacket = 262144

// Spec is one medium line of ha.cf, resolved: `bcast eth1 eth2` yields two
// Specs.
type Spec struct {
	Kind      string // bcast | ucast | mcast | serial
	Interface string // bcast, ucast, mcast: the interface the medium is bound to
	Peer      string // ucast: peer IPv4 address or host name
	Group     string // mcast: IPv4 multicast group
	Port      int    // UDP port (udpport, or mcast's own port); 0 means 694
	TTL       int    // mcast: 0–255
	Loop      bool   // mcast: IP_MULTICAST_LOOP
	Device    string // serial: tty path
	Baud      int    // serial: line speed; 0 means 19200
	Hosts     string // ping: the hosts, blank-separated (Peer is the ping node's name)
}

// Name is the link name Heartbeat shows in logs and `cl_status listhblinks`:
// the interface for UDP media, the device path for serial, the ping node's
// name for ping.
func (s Spec) Name() string {
	switch s.Kind {
	case KindSerial:
		return s.Device
	case KindPing:
		return s.Peer
	}
	return s.Interface
}

func (s Spec) port() int {
	if s.Port == 0 {
		return DefaultPort
	}
	return s.Port
}

// Validate checks the fields a kind needs. It does not look at the system:
// a missing interface is a down link, not an invalid spec.
func (s Spec) Validate() error {
	switch s.Kind {
	case KindBcast, KindUcast, KindMcast:
		if s.Interface == "" || len(s.Interface) > 15 || strings.ContainsAny(s.Interface, "/ \t") {
			return fmt.Errorf("%s: bad interface name %q", s.Kind, s.Interface)
		}
		if s.Port < 0 || s.Port > 65535 {
			return fmt.Errorf("%s %s: port %d out of range 1-65535", s.Kind, s.Interface, s.Port)
		}
	case KindSerial:
		if s.Device == "" {
			return errors.New("serial: no device")
		}
		if _, ok := baudRates[s.baud()]; !ok {
			return fmt.Errorf("serial %s: unsupported baud rate %d", s.Device, s.Baud)
		}
		return nil
	case KindPing:
		if s.Peer == "" || strings.TrimSpace(s.Hosts) == "" {
			return fmt.Errorf("ping %q: no host", s.Peer)
		}
		return nil
	default:
		return fmt.Errorf("unknown medium kind %q", s.Kind)
	}
	switch s.Kind {
	case KindUcast:
		if s.Peer == "" {
			return fmt.Errorf("ucast %s: no peer", s.Interface)
		}
	case KindMcast:
		ip := net.ParseIP(s.Group).To4()
		if ip == nil || !ip.IsMulticast() {
			return fmt.Errorf("mcast %s: group %q is not an IPv4 multicast address", s.Interface, s.Group)
		}
		if s.TTL < 0 || s.TTL > 255 {
			return fmt.Errorf("mcast %s: ttl %d out of range 0-255", s.Interface, s.TTL)
		}
	}
	return nil
}

// Packet is one received message.
type Packet struct {
	Data []byte         // the datagram or serial frame, untrusted
	Link string         // Spec.Name() of the medium it arrived on
	From netip.AddrPort // sender; invalid (zero) for serial
}

// Sender names the sender for a log line: ADDR:PORT, "-" for a serial
// frame.
func (p Packet) Sender() string {
	if !p.From.IsValid() {
		return "-"
	}
	return p.From.String()
}

// Medium is what the daemon holds per configured link.
type Medium interface {
	Name() string
	// Send transmits one encoded message. An error means this copy did not
	// leave on this link (link down, kernel refused); the caller counts it
	// and carries on with the other links.
	Send(pkt []byte) error
	Close() error
}

// ErrLinkDown is wrapped by Send errors while the link is down.
var ErrLinkDown = errors.New("link down")

// Log levels passed to the log function: Heartbeat's own level words, as
// internal/logging.ParseLevel understands them.
const (
	LevelCrit  = "CRIT"
	LevelError = "ERROR"
	LevelWarn  = "WARN"
	LevelInfo  = "info"
	LevelDebug = "debug"
)

// Config is everything a medium needs besides its Spec.
type Config struct {
	// Recv receives every packet; the medium blocks on it (the kernel then
	// queues, and drops once its buffer is full, like for a slow Heartbeat).
	Recv chan<- Packet
	// Log gets the medium's log lines; nil discards them.
	Log func(level, text string)
	// Retry is how often a down link is retried. 0 means 2s.
	Retry time.Duration
	// Recheck is how often an up link is re-checked (interface gone,
	// re-created, renumbered, down). 0 means 10s. It can be slow: a failed
	// send re-checks at once, and a down interface fails every send. Each
	// check wakes the daemon, and at Heartbeat-era timings (keepalive 2 s)
	// a 2 s re-check of every link woke it more often than its keepalives.
	Recheck time.Duration
	// Clock drives the retry loop; nil means the real clock.
	Clock clock.Clock
	// NetnsPath, when set, is a network namespace file (/run/netns/X): all
	// sockets and interface lookups of this medium are made inside it. The
	// daemon leaves it empty (it lives in one namespace); the multi-node
	// tests use it to run several nodes' media in one process.
	NetnsPath string
	// Keys is the keyring a ping medium signs its echo payloads with
	// (ping.go); it is called from Send, on the sender's goroutine.
	Keys func() *wire.Keyring
}
