package daemon

import (
	"context"
	"fmt"
	"strings"

	"heartbeatd/haresources"
	"heartbeatd/internal/logging"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/reload"
)

// RequestReload asks the main loop to re-read the configuration (SIGHUP).
// Safe from any goroutine; requests made while one is pending merge.
func (d *Daemon) RequestReload(source string) {
	select {
	case d.reloadReq <- source:
	default:
	}
}

// watchConfig reloads when the configuration files change.
func (d *Daemon) watchConfig(ctx context.Context) {
	err := reload.Watch(ctx, d.opts.ConfDir, d.clock, func() { d.RequestReload("configuration files changed") },
		func(err error) { d.log.Logf(logging.Warn, "%v", err) })
	if err != nil {
		d.log.Logf(logging.Warn, "%v: use heartbeatd reload or SIGHUP", err)
	}
}

// reloadResult is what `heartbeatd reload` prints.
type reloadResult struct {
	ok      bool
	applied string
	restart []string
	refused []string // changes that would break the running cluster
	errors  string
}

// reload re-reads the configuration and applies what is safe to apply
// live. An invalid configuration changes nothing. Runs on the main loop.
func (d *Daemon) reload(source string) reloadResult {
	set, findings := reload.Load(d.opts.ConfDir, d.local)
	if set == nil {
		d.log.Logf(logging.Error, "Reload (%s) rejected: the configuration is invalid; keeping the running one", source)
		for _, f := range findings {
			d.log.Logf(logging.Error, "%s", f.String())
		}
		return reloadResult{errors: findings.Err().Error()}
	}
	for _, f := range findings {
		d.log.Logf(logging.Warn, "%s", f.String())
	}
	var res reloadResult
	res.ok = true
	// Restart-only changes are judged against what the process started
	// with, so they keep being reported until the restart (or a revert).
	res.restart = append(res.restart, reload.Diff(d.boot, set).Restart...)
	ch := reload.Diff(d.applied, set)
	var applied []string

	if ch.Timings {
		tm := membership.Timings{Keepalive: set.Cfg.Keepalive, Deadtime: set.Cfg.Deadtime,
			Warntime: set.Cfg.Warntime, Initdead: set.Cfg.Initdead}
		acts, err := d.node.SetTimings(d.clock.Now(), tm)
		if err != nil {
			res.restart = append(res.restart, fmt.Sprintf("timings (%s): %v", set.Cfg.File, err))
		} else {
			d.cfg.Keepalive, d.cfg.Deadtime, d.cfg.Warntime, d.cfg.Initdead = tm.Keepalive, tm.Deadtime, tm.Warntime, tm.Initdead
			d.gap.Threshold = tm.Warntime / 2
			d.gap.Reset()
			applied = append(applied, tm.String())
			d.do(acts)
		}
	}
	if ch.Logging {
		if err := d.log.Reconfigure(set.LogOptions(d.local, d.opts.Stderr, d.opts.SyslogPath)); err != nil {
			res.restart = append(res.restart, fmt.Sprintf("logging (%s): %v", set.Cfg.File, err))
		} else {
			d.cfg.LogFacility, d.cfg.LogFile, d.cfg.DebugFile = set.Cfg.LogFacility, set.Cfg.LogFile, set.Cfg.DebugFile
			d.cfg.Debug, d.cfg.LogBadPack = set.Cfg.Debug, set.Cfg.LogBadPack
			applied = append(applied, "logging")
		}
	}
	if ch.Authkeys {
		keys, err := set.Keyring()
		if err == nil {
			err = reload.KeepsKey(d.keys, keys, d.peerKey, d.peer)
		}
		if err != nil {
			res.refused = append(res.refused, fmt.Sprintf("authkeys: %v", err))
		} else {
			// Heartbeat: "Rereading authentication file." on SIGHUP.
			d.log.Logf(logging.Info, "Rereading authentication file.")
			d.keys = keys
			applied = append(applied, "authkeys")
		}
	}
	if len(ch.MediaAdded)+len(ch.MediaRemoved) > 0 {
		if s, err := d.reloadMedia(set); err != nil {
			res.restart = append(res.restart, err.Error())
		} else {
			applied = append(applied, s)
		}
	}
	if ch.Groups {
		blocked, acts := d.node.ReplaceGroups(d.clock.Now(), set.Hares)
		if len(blocked) > 0 {
			for _, k := range blocked {
				res.restart = append(res.restart, "haresources group "+k+" changed while it runs or the peer holds it ("+groupPlace(set.Hares, d.hares, k)+")")
			}
		} else {
			d.hares = set.Hares
			applied = append(applied, "haresources")
			d.do(acts)
		}
	}
	if ch.Monitor {
		d.do(d.node.SetMonitor(d.clock.Now(), set.MonitorConfig(), set.MonitorPolicy()))
		applied = append(applied, "monitoring")
	}
	// What was applied becomes the base of the next reload; what was not
	// (blocked groups) stays as it runs.
	next := *set
	next.Hares = d.hares
	if len(res.refused) > 0 {
		next.Auth = d.applied.Auth // still in force: the next reload compares with it
	}
	d.applied = &next
	d.cfg.Directives = set.Cfg.Directives

	for _, r := range res.restart {
		d.log.Logf(logging.Warn, "needs restart: %s", r)
	}
	for _, r := range res.refused {
		d.log.Logf(logging.Error, "Reload refused: %s", r)
	}
	res.applied = strings.Join(applied, "; ")
	if res.applied == "" {
		res.applied = "nothing"
	}
	d.log.Logf(logging.Info, "Reload (%s): applied: %s; %d change(s) need a restart", source, res.applied, len(res.restart))
	return res
}

// groupPlace names where group key is defined: the new file, else the old.
func groupPlace(nf, of *haresources.File, key string) string {
	for _, f := range []*haresources.File{nf, of} {
		if g, ok := f.Group(key); ok {
			return fmt.Sprintf("%s:%d", g.File, g.Line)
		}
	}
	return "haresources"
}

// reloadMedia opens added media and closes removed ones; the membership
// table follows with the new link list. Nothing changes on error.
func (d *Daemon) reloadMedia(set *reload.Set) (string, error) {
	specs, labels := set.Media()
	summary, err := d.media.Replace(specs, labels, func() error {
		if err := d.node.SetLinks(set.Links()); err != nil {
			return fmt.Errorf("media (%s): %w", set.Cfg.File, err)
		}
		return nil
	})
	if err == nil {
		d.cfg.Media = set.Cfg.Media
	}
	return summary, err
}
