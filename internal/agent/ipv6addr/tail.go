package ipv6addr

import (
	"fmt"
	"net/netip"
	"time"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/agent/addr"
	"heartbeatd/internal/clock"
	"heartbeatd/internal/garp"
)

// TailAgent is the agent name of the background advertisement sender:
// `heartbeatd resource IPv6addr-na-tail --iface … --ip … …`, started only
// by IPv6addr itself.
const TailAgent = "IPv6addr-na-tail"

// announcer announces IPv6 addresses with unsolicited neighbour
// advertisements, on IPaddr's schedule (addr.Announcer does the
// scheduling, the tail and the refresh; the burst's Mode does not apply).
var announcer = &addr.Announcer{
	Name: TailAgent, Family: addr.IPv6, Open: openNASender,
	Frame: "neighbour advertisement", Process: "background sender",
	Sent: func(head int, b garp.Burst) string {
		return fmt.Sprintf("%d of %d unsolicited neighbour advertisements", head, b.Count)
	},
}

// TailMain sends the rest of a burst of advertisements in the background
// and then, with --refresh-ms, one per interval. It stops, exit 0, once
// the address is no longer configured on the interface, the daemon is
// gone, or a newer announcer of the address took over.
func TailMain(args []string, aio agent.IO) int { return announcer.TailMain(args, aio) }

// naSender sends the slots of a burst of advertisements.
type naSender struct {
	adv *advertiser
	b   garp.Burst
}

func openNASender(iface string, ip netip.Addr, b garp.Burst) (addr.Sender, error) {
	adv, err := openAdvertiser(iface, ip)
	if err != nil {
		return nil, err
	}
	return &naSender{adv: adv, b: b}, nil
}

func (s *naSender) Index() int   { return s.adv.index }
func (s *naSender) MAC() string  { return s.adv.mac.String() }
func (s *naSender) Close() error { return s.adv.Close() }
func (s *naSender) Send(from, to int, wait time.Duration, owned func() (bool, error)) (int, error) {
	return s.b.SendSlots(clock.Real{}, from, to, wait, "the address", owned, s.adv.send)
}
