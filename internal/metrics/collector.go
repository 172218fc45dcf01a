package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"heartbeatd/internal/node"
)

// snapshotCollector turns the last published snapshot into metrics at
// scrape time. Ages are computed then, from the daemon's clock, so they
// do not stand still between two publications.
type snapshotCollector struct{ e *Exporter }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descInfo          = desc("heartbeatd_info", "Always 1: the daemon's version and node name.", "version", "node")
	descSnapshotAge   = desc("heartbeatd_snapshot_age_seconds", "Time since the main loop last published its state; it keeps growing when the loop is wedged.")
	descNodeUp        = desc("heartbeatd_node_up", "1 when the node's status is up or active, 0 when init or dead.", "node")
	descNodeGen       = desc("heartbeatd_node_generation", "The node's generation (hg), incremented at every daemon start; 0 when unknown.", "node")
	descNodeHeard     = desc("heartbeatd_node_last_heard_seconds", "Age of the node's last status message (keepalive); absent when none arrived.", "node")
	descLinkUp        = desc("heartbeatd_link_up", "1 when the node is heard on the medium, 0 when the medium is dead.", "node", "link")
	descLinkHeard     = desc("heartbeatd_link_last_heard_seconds", "Age of the node's last packet on the medium; absent when none arrived.", "node", "link")
	descLinkRecv      = desc("heartbeatd_link_packets_received_total", "The node's packets received on the medium.", "node", "link")
	descLinkLost      = desc("heartbeatd_link_packets_lost_total", "The node's sequence numbers the medium missed.", "node", "link")
	descLinkLoss      = desc("heartbeatd_link_loss_ratio", "Share of the node's sequence numbers the medium missed over the last one to two minutes.", "node", "link")
	descLinkLate      = desc("heartbeatd_link_late_heartbeats_total", "Status messages that arrived on the medium more than warntime after the previous one there.", "node", "link")
	descSent          = desc("heartbeatd_packets_sent_total", "Messages sent, each on every medium.")
	descReceived      = desc("heartbeatd_packets_received_total", "Authenticated packets handed to membership, every medium.")
	descLost          = desc("heartbeatd_packets_lost_total", "Sequence numbers found missing from a peer (before retransmission).")
	descDuplicate     = desc("heartbeatd_packets_duplicate_total", "Packets seen before: the copies from the other media.")
	descReplayed      = desc("heartbeatd_packets_replayed_total", "Packets of an older generation of their sender, dropped.")
	descAuthFailed    = desc("heartbeatd_packets_auth_failed_total", "Packets that failed authentication (authkeys), dropped.")
	descBad           = desc("heartbeatd_packets_bad_total", "Packets that failed to decode or to authenticate, dropped.")
	descSendErrors    = desc("heartbeatd_send_errors_total", "Sends that a medium refused.")
	descGroupState    = desc("heartbeatd_group_state", "1 for the group's current state (running, starting, stopping, failed, stopped), 0 for the others.", "group", "state")
	descGroupOwner    = desc("heartbeatd_group_owner", "1 for the node that runs (or starts, stops, failed on) the group, 0 for the other.", "group", "node")
	descFailovers     = desc("heartbeatd_failovers_total", "Takeovers from a dead peer since the daemon started.")
	descFenceAttempts = desc("heartbeatd_fence_attempts_total", "Fencing operations asked for.")
	descFenceResults  = desc("heartbeatd_fence_results_total", "Fencing outcomes by result (ok, failed).", "result")
)

var groupStates = []string{node.GroupRunning, node.GroupStarting, node.GroupStopping, node.GroupFailed, node.GroupStopped}

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descSnapshotAge, descNodeUp, descNodeGen, descNodeHeard,
		descLinkUp, descLinkHeard, descLinkRecv, descLinkLost, descLinkLoss, descLinkLate, descSent, descReceived,
		descLost, descDuplicate, descReplayed, descAuthFailed, descBad, descSendErrors, descGroupState,
		descGroupOwner, descFailovers, descFenceAttempts, descFenceResults} {
		ch <- d
	}
}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.snap.Load()
	if s == nil {
		return // nothing published yet
	}
	now := c.e.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	age := func(d *prometheus.Desc, t *time.Time, labels ...string) {
		if t != nil {
			gauge(d, max(now.Sub(*t), 0).Seconds(), labels...)
		}
	}
	st := s.Status
	gauge(descInfo, 1, st.Version, st.Local)
	age(descSnapshotAge, &st.Time)
	for _, n := range st.Nodes {
		gauge(descNodeUp, b2f(n.Status == "up" || n.Status == "active"), n.Name)
		gauge(descNodeGen, float64(n.Generation), n.Name)
		age(descNodeHeard, n.LastHeard, n.Name)
		for _, l := range n.Links {
			gauge(descLinkUp, b2f(l.Status == "up"), n.Name, l.Name)
			age(descLinkHeard, l.LastHeard, n.Name, l.Name)
			counter(descLinkRecv, l.Received, n.Name, l.Name)
			counter(descLinkLost, l.Lost, n.Name, l.Name)
			gauge(descLinkLoss, l.LossPct/100, n.Name, l.Name)
			counter(descLinkLate, l.Late, n.Name, l.Name)
		}
	}
	m := s.Membership
	counter(descSent, s.Sent)
	counter(descReceived, m.Received)
	counter(descLost, m.Lost)
	counter(descDuplicate, m.Duplicates)
	counter(descReplayed, m.Replays)
	counter(descAuthFailed, s.Shell.AuthFailures)
	counter(descBad, s.Shell.BadPackets)
	counter(descSendErrors, s.Shell.SendErrors)
	for _, g := range st.Groups {
		for _, state := range groupStates {
			gauge(descGroupState, b2f(g.State == state), g.Key, state)
		}
		for _, n := range st.Nodes {
			gauge(descGroupOwner, b2f(g.Owner == n.Name), g.Key, n.Name)
		}
	}
	counter(descFailovers, uint64(st.Failovers))
	f := st.Fencing
	counter(descFenceAttempts, uint64(f.Attempts))
	counter(descFenceResults, uint64(f.Succeeded), "ok")
	counter(descFenceResults, uint64(f.Failed), "failed")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
