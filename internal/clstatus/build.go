package clstatus

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"heartbeatd/internal/config"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rm"
)

// Build takes the snapshot cl_status may ask about from the running cores
// and ha.cf, at now. Heartbeat's node and link walks return them in
// reverse configuration order; scripts that parse `listnodes` output may
// depend on it, so we keep it.
func Build(version, local string, cfg *config.Config, mem *membership.Table, r *rm.Manager, now time.Time) *Snapshot {
	s := &Snapshot{
		Version: version, Local: local, RscStatus: r.RscStatus(),
		Deadtime: int(cfg.Deadtime.Milliseconds()), Keepalive: int(cfg.Keepalive.Milliseconds()),
		Params: params(version, cfg),
	}
	for _, f := range r.FailedStarts() {
		fs := FailedStart{Key: f.Key, Attempts: f.Attempts, Max: f.Max, GaveUp: f.GaveUp}
		if !f.Next.IsZero() {
			fs.NextIn = max(f.Next.Sub(now), time.Second)
		}
		s.FailedStarts = append(s.FailedStarts, fs)
	}
	// Ping nodes (ping, ping_group) come after the node lines in an
	// ha.cf, so before them here.
	nodes := append(mem.Nodes(), mem.PingNodes()...)
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		cn := Node{Name: n.Name, Status: string(n.Status), Type: cmp.Or(n.Type, membership.TypeNormal)}
		links := mem.Links(n.Name)
		for j := len(links) - 1; j >= 0; j-- {
			cn.Links = append(cn.Links, Link{Name: links[j].Name, Status: string(links[j].Status)})
		}
		s.Nodes = append(s.Nodes, cn)
	}
	return s
}

// params answers hbparameter: values as written in ha.cf; derived timing
// values Heartbeat reports in milliseconds.
func params(version string, cfg *config.Config) map[string]string {
	p := map[string]string{"hbversion": version}
	for _, dir := range cfg.Directives {
		if _, seen := p[dir.Name]; !seen && len(dir.Args) > 0 {
			p[dir.Name] = strings.Join(dir.Args, " ")
		}
	}
	for name, v := range map[string]int64{
		"keepalive": cfg.Keepalive.Milliseconds(), "deadtime": cfg.Deadtime.Milliseconds(),
		"warntime": cfg.Warntime.Milliseconds(), "initdead": cfg.Initdead.Milliseconds(),
	} {
		if _, ok := p[name]; !ok {
			p[name] = fmt.Sprintf("%dms", v)
		}
	}
	if _, ok := p["auto_failback"]; !ok {
		p["auto_failback"] = cfg.AutoFailback
	}
	return p
}
