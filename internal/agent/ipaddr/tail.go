package ipaddr

import (
	"fmt"
	"net/netip"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/garp"
)

// TailAgent is the agent name of the background ARP sender. The dispatcher
// runs it as `heartbeatd resource IPaddr-garp-tail --iface … --ip … …`; it
// is internal, started only by IPaddr itself.
const TailAgent = "IPaddr-garp-tail"

// announcer announces IPv4 addresses with gratuitous ARP (addr.Announcer
// does the scheduling, the tail and the refresh).
var announcer = &addr.Announcer{
	Name: TailAgent, Family: addr.IPv4, Open: openARP,
	Frame: "gratuitous ARP", Process: "background ARP sender",
	Sent: func(head int, b garp.Burst) string {
		return fmt.Sprintf("%d of %d gratuitous ARP slots (%s)", head, b.Count, b.Mode)
	},
}

// GarpTailMain sends the slow remainder of a burst in the background (see
// the package doc) and then, with --refresh-ms, one slot per interval. It
// stops, exit 0, once the address is no longer configured on the
// interface, the daemon is gone, or a newer announcer of the address took
// over.
func GarpTailMain(args []string, aio agent.IO) int { return announcer.TailMain(args, aio) }

// arpSender sends the slots of a gratuitous ARP burst on one interface.
type arpSender struct {
	c  *garp.Conn
	an garp.Announcer
}

func openARP(iface string, ip netip.Addr, b garp.Burst) (addr.Sender, error) {
	c, err := garp.Open(iface)
	if err != nil {
		return nil, err
	}
	return newARPSender(c, ip, b), nil
}

func newARPSender(c *garp.Conn, ip netip.Addr, b garp.Burst) *arpSender {
	return &arpSender{c: c, an: garp.Announcer{Burst: b, Clock: clock.Real{}, Out: c, MAC: c.MAC(), IP: ip}}
}

func (s *arpSender) Index() int   { return s.c.Interface().Index }
func (s *arpSender) MAC() string  { return s.c.MAC().String() }
func (s *arpSender) Close() error { return s.c.Close() }
func (s *arpSender) Send(from, to int, wait time.Duration, owned func() (bool, error)) (int, error) {
	an := s.an
	an.Owned = owned
	return an.Send(from, to, wait)
}
