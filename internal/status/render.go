package status

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Render is the human form of `heartbeatd status`: a few compact tables
// in the spirit of crm_mon, ages relative to the snapshot's time.
func Render(s *Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "heartbeatd %s on %s at %s, resources here: %s\n", s.Version, s.Local,
		s.Time.Format("2006-01-02 15:04:05"), s.Resources)

	b.WriteString("\nNodes\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tSTATUS\tGENERATION\tLAST HEARD")
	for _, n := range s.Nodes {
		name := n.Name
		if n.Local {
			name += " (local)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", name, n.Status, n.Generation, s.ago(n.LastHeard))
	}
	tw.Flush()

	b.WriteString("\nLinks\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tLINK\tSTATUS\tLAST HEARD\tLOSS\tLATE")
	for _, n := range s.Nodes {
		for _, l := range n.Links {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.1f%%\t%d\n", n.Name, l.Name, l.Status, s.ago(l.LastHeard), l.LossPct, l.Late)
		}
	}
	tw.Flush()

	b.WriteString("\nGroups\n")
	if len(s.Groups) == 0 {
		b.WriteString("  (haresources lists none)\n")
	} else {
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  GROUP\tSTATE\tOWNER\tSINCE\tRESOURCES")
		for _, g := range s.Groups {
			owner := g.Owner
			if owner == "" {
				owner = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", g.Key, g.State, owner, s.ago(&g.Since), strings.Join(g.Resources, " "))
		}
		tw.Flush()
		for _, g := range s.Groups {
			if line := monitorLine(s, g); line != "" {
				fmt.Fprintf(&b, "  monitor: %s %s\n", g.Key, line)
			}
		}
	}

	b.WriteString("\n")
	f := s.Fencing
	switch {
	case f.Attempts == 0 && f.Last == nil:
		b.WriteString("Fencing: no fencing asked for\n")
	default:
		fmt.Fprintf(&b, "Fencing: %d asked for, %d succeeded, %d failed", f.Attempts, f.Succeeded, f.Failed)
		if f.Last != nil {
			fmt.Fprintf(&b, "; last: %s %s, %s", f.Last.Node, okWord(f.Last.OK), s.ago(&f.Last.At))
		}
		b.WriteString("\n")
	}
	for _, d := range f.Devices {
		fmt.Fprintf(&b, "  device %s: %s (checked %s)\n", d.Name, d.State, s.ago(d.Checked))
	}
	if lf := s.LastFailover; lf == nil {
		b.WriteString("Last failover: none since the daemon started\n")
	} else {
		fmt.Fprintf(&b, "Last failover: %s (%s): %s; took over %s in %s", lf.Began.Format("2006-01-02 15:04:05"),
			s.ago(&lf.Began), lf.Reason, strings.Join(lf.Groups, ", "), fmtDuration(time.Duration(lf.DurationMS)*time.Millisecond))
		if !lf.OK {
			b.WriteString(", but NOT every group is running")
		}
		b.WriteString("\n")
		if s.Failovers > 1 {
			fmt.Fprintf(&b, "  %d failovers since the daemon started\n", s.Failovers)
		}
	}
	return b.String()
}

func okWord(ok bool) string {
	if ok {
		return "reset"
	}
	return "FAILED"
}

// ago is how long before the snapshot t was, or "never".
func (s *Snapshot) ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := s.Time.Sub(*t)
	if d < 0 {
		d = 0
	}
	return fmtDuration(d) + " ago"
}

// fmtDuration is a short duration: 0.4s, 12s, 3m04s, 2h03m, 5d02h.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// monitorLine is what resource monitoring has done about group g here,
// "" when nothing.
func monitorLine(s *Snapshot, g Group) string {
	var parts []string
	switch g.MonitorRestarts {
	case 0:
	case 1:
		parts = append(parts, "restarted once here for monitor failures within monitor_window")
	default:
		parts = append(parts, fmt.Sprintf("restarted %d times here for monitor failures within monitor_window", g.MonitorRestarts))
	}
	if g.RefusedUntil != nil {
		parts = append(parts, fmt.Sprintf("handed to the peer for monitor failures; not taken back here before %s (%s from now) or `heartbeatd cleanup %s`",
			g.RefusedUntil.Format("2006-01-02 15:04:05"), fmtDuration(g.RefusedUntil.Sub(s.Time)), g.Key))
	}
	return strings.Join(parts, "; ")
}
