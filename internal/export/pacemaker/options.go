package pacemaker

import (
	"fmt"
	"strings"
)

// StickinessOff is resource-stickiness for auto_failback off: larger than
// HomeScore even for a one-resource group, so a group that failed over
// stays where it is when its home node returns; finite, so an admin's
// `crm resource move` (an INFINITY preference) still wins.
const StickinessOff = 1000

// stickiness maps auto_failback to resource-stickiness, the score a
// running resource adds to staying where it is.
//
//   - on: 0, so the home preference (HomeScore) alone decides and a group
//     goes back home when its node returns, as Heartbeat does;
//   - legacy: 0 too: Heartbeat's legacy mode fails back like on when every
//     node runs it, which is how an unchanged pair of ha.cf files runs;
//   - off: StickinessOff, so nothing moves back by itself (seed 003 sets
//     100 for the same reason: no needless migration back).
func stickiness(autoFailback string) (value, why string) {
	switch autoFailback {
	case "off":
		return fmt.Sprint(StickinessOff), fmt.Sprintf("auto_failback off: stickiness %d outweighs the home preference (%d), so groups stay where they failed over to; finite so that crm resource move still works", StickinessOff, HomeScore)
	case "legacy":
		return "0", fmt.Sprintf("auto_failback legacy (the default): Heartbeat fails back as with on when both nodes run legacy, so groups return to their home node (preference %d); set %d to keep them where they are", HomeScore, StickinessOff)
	}
	return "0", fmt.Sprintf("auto_failback on: no stickiness, the home preference (%d) brings groups back when their node returns", HomeScore)
}

// clusterOptions fills crm_config, rsc_defaults and op_defaults.
func (b *builder) clusterOptions() {
	cfg := b.in.Cfg
	c := b.c
	if len(c.Stonith) > 0 {
		c.Props = append(c.Props, NV{Name: "stonith-enabled", Value: "true"})
	} else {
		why := b.warnf(cfg.File, 0, "no stonith_host, stonith or fence_agent line: stonith-enabled=false is written, so a node that stops answering is never fenced and a cut link lets both nodes run every group (as under Heartbeat without STONITH); configure fencing before production use")
		c.Props = append(c.Props, NV{Name: "stonith-enabled", Value: "false", Why: why})
	}
	if len(c.Nodes) == 2 {
		c.Props = append(c.Props, NV{Name: "no-quorum-policy", Value: "stop", Why: strings.Join([]string{
			"two nodes: corosync's two_node: 1 (see the corosync.conf export) keeps the survivor of a peer failure quorate, so groups fail over as under Heartbeat.",
			"Unlike Heartbeat, a node booted alone starts nothing until it has seen its peer once (wait_for_all); no-quorum-policy=ignore restores Heartbeat's behaviour, at the price of a split brain when the links are cut at boot.",
		}, " ")})
	}
	if len(c.Stonith) > 0 {
		c.Props = append(c.Props, NV{Name: "priority-fencing-delay", Value: priorityFencingDelay,
			Why: "two-node fence race: fencing the node that runs more resources (rsc_defaults priority=1) waits " + priorityFencingDelay + ", so that node fences its peer first and survives"})
	}
	v, why := stickiness(cfg.AutoFailback)
	c.RscDefaults = append(c.RscDefaults, NV{Name: "resource-stickiness", Value: v, Why: why})
	if len(c.Stonith) > 0 {
		c.RscDefaults = append(c.RscDefaults, NV{Name: "priority", Value: "1"})
	}
	c.OpDefaults = append(c.OpDefaults, NV{Name: "timeout", Value: seconds(cfg.ScriptTimeout.Seconds()),
		Why: "script_timeout: every start, stop and monitor gets as long as heartbeatd gives a resource script"})
}

func seconds(s float64) string {
	if s < 1 {
		s = 1
	}
	return fmt.Sprintf("%.0fs", s)
}
