package node

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/grouprun"
	"heartbeatd/internal/membership"
	"heartbeatd/internal/rm"
	"heartbeatd/internal/scenario"
	"heartbeatd/internal/wire"
)

// TestScenarios runs testdata/scenarios/*.txt (format: internal/scenario)
// against one whole Node, pa1, with pa2 played by the file. Unlike the rm
// and membership scenarios, everything between them is real: messages go
// through membership, group jobs through grouprun, so a file shows what
// the shell would be asked to do. The node's own keepalives and the NS_
// exchange are left out of the output (they are membership's scenarios'
// subject), and so are the periodic refreshes of the peer's record.
// Commands:
//
//	config key=value...   before the first event: failback (on|off|legacy),
//	                      groups (comma list of HOME:RES[+RES...]; the first
//	                      resource is the key), keepalive, deadtime,
//	                      initdead (durations), stonith (holder|heartbeat:
//	                      a device and the fence policy), fence_delay,
//	                      monitor (monitor_interval), monitor_max,
//	                      monitor_window, monitor_off (a resource token
//	                      not monitored)
//	start                 the daemon starts
//	heartbeats on|off [links=eth1,eth2]
//	                      pa2's status messages arrive every keepalive on
//	                      the links given (default both), or stop coming
//	recv LINK[,LINK] t=TYPE field=value...
//	                      one message from pa2, with its envelope (seq=HEX
//	                      replays a recorded one)
//	script ID ok|fail|running|stopped|missing|incomplete
//	                      the outcome of the RunScript with that ID: ok and
//	                      fail for a start or stop (exit 0 or 1), running
//	                      or stopped for a status or monitor
//	outdate ID RES [timeout=DUR]
//	                      drbd-peer-outdater here asks to outdate RES
//	drbdadm RES EXIT      drbdadm outdate RES, run for pa2, exited with EXIT
//	admin CMD [SET]       standby, takeover or cleanup
//	shutdown              SIGTERM
//	fence-done ok|failed  the reset of pa2 that the node asked for ended
//	state                 the resource manager's bookkeeping
func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/scenarios", t0, func(clk *scenario.Clock) scenario.Core {
		return &nodeScenario{clk: clk, failback: "on", keepalive: time.Second, deadtime: 5 * time.Second,
			initdead: 10 * time.Second, links: []string{"eth1", "eth2"}}
	})
}

type nodeScenario struct {
	clk                           *scenario.Clock
	n                             *Node
	failback                      string
	stonith                       string // "" (none), rm.FencePolicyHolder or rm.FencePolicyHeartbeat
	fenceDelay                    time.Duration
	groups                        []haresources.Group
	keepalive, deadtime, initdead time.Duration
	monitor                       MonitorConfig
	monitorPolicy                 rm.MonitorPolicy

	links     []string
	beating   bool
	beatLinks []string
	nextBeat  time.Time
	peerSeq   uint64
	lastTick  time.Time
}

func (s *nodeScenario) config(c scenario.Cmd) error {
	for _, kv := range c.KVs() {
		var err error
		switch kv.Key {
		case "failback":
			s.failback = kv.Value
		case "stonith":
			s.stonith = kv.Value
		case "fence_delay":
			s.fenceDelay, err = time.ParseDuration(kv.Value)
		case "keepalive":
			s.keepalive, err = time.ParseDuration(kv.Value)
		case "deadtime":
			s.deadtime, err = time.ParseDuration(kv.Value)
		case "initdead":
			s.initdead, err = time.ParseDuration(kv.Value)
		case "monitor":
			s.monitor.Interval, err = time.ParseDuration(kv.Value)
		case "monitor_off":
			s.monitor.Override = map[string]time.Duration{kv.Value: 0}
		case "monitor_max":
			s.monitorPolicy.MaxRestarts, err = strconv.Atoi(kv.Value)
		case "monitor_window":
			s.monitorPolicy.Window, err = time.ParseDuration(kv.Value)
		case "groups":
			for _, g := range strings.Split(kv.Value, ",") {
				home, res, ok := strings.Cut(g, ":")
				if !ok {
					return fmt.Errorf("group %q is not HOME:RES[+RES...]", g)
				}
				grp := haresources.Group{Node: home}
				for _, r := range strings.Split(res, "+") {
					parts := strings.Split(r, "::")
					grp.Resources = append(grp.Resources, haresources.Resource{Script: parts[0], Args: parts[1:], Raw: r})
				}
				grp.Key = grp.Resources[0].Raw
				s.groups = append(s.groups, grp)
			}
		default:
			return fmt.Errorf("unknown config key %q", kv.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *nodeScenario) build() error {
	cfg := Config{
		Membership: membership.Config{Local: "pa1", Nodes: []string{"pa1", "pa2"}, Links: s.links,
			Keepalive: s.keepalive, Deadtime: s.deadtime, Warntime: s.deadtime / 2, Initdead: s.initdead,
			Generation: 7, UUID: [16]byte{1}, HopFudge: 1, MaxRexmitDelay: 250 * time.Millisecond, Seed: 1,
			DeadCheck: time.Millisecond},
		RM: rm.Config{Local: "pa1", Peer: "pa2", Groups: s.groups, AutoFailback: s.failback, OnStopFailure: rm.OnStopFailureBlock,
			Stonith: s.stonith != "", FencePolicy: s.stonith, FenceDelay: s.fenceDelay, Monitor: s.monitorPolicy},
		Haresources: &haresources.File{Groups: s.groups}, HaresourcesPath: "/etc/ha.d/haresources",
		Runs:    grouprun.Config{StopRetries: 2},
		Monitor: s.monitor,
	}
	n, err := New(cfg)
	s.n = n
	return err
}

// NextWake: the node's own wake-up, the shell's longest sleep after the
// last tick (5 s), and pa2's next heartbeat.
func (s *nodeScenario) NextWake() time.Time {
	if s.n == nil {
		return time.Time{}
	}
	w := s.n.NextWake()
	earlier := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	earlier(s.lastTick.Add(s.sleep()))
	if s.beating {
		earlier(s.nextBeat)
	}
	return w
}

func (s *nodeScenario) Tick() []string {
	now := s.clk.Now
	var out []string
	if s.beating && !now.Before(s.nextBeat) {
		s.nextBeat = now.Add(s.keepalive)
		m := s.peerMsg("status", []string{"st", "active", "dt", "1388", "protocol", "1"})
		for _, l := range s.beatLinks {
			out = append(out, s.step(Received{Msg: m.Clone(), Link: l})...)
		}
	}
	if nw := s.n.NextWake(); (!nw.IsZero() && !now.Before(nw)) || !now.Before(s.lastTick.Add(s.sleep())) {
		s.lastTick = now
		out = append(out, s.step(Tick{})...)
	}
	return out
}

// sleep is the shell's longest sleep (daemon/loop.go); the node's
// NextWake covers a busy resource manager.
func (s *nodeScenario) sleep() time.Duration { return 5 * time.Second }

// peerMsg is pa2's next message, with its envelope.
func (s *nodeScenario) peerMsg(typ string, kv []string) *wire.Message {
	s.peerSeq++
	m := wire.New(typ)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	m.Set("src", "pa2")
	m.SetBinary("srcuuid", []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	m.Set("seq", strconv.FormatUint(s.peerSeq, 16))
	m.Set("hg", "9")
	m.Set("ts", strconv.FormatInt(s.clk.Now.Unix(), 16))
	m.Set("ttl", "3")
	return m
}

func (s *nodeScenario) Do(c scenario.Cmd) ([]string, error) {
	if c.Name == "config" {
		if s.n != nil {
			return nil, fmt.Errorf("config after the first event")
		}
		return nil, s.config(c)
	}
	if s.n == nil {
		if err := s.build(); err != nil {
			return nil, err
		}
	}
	pos := c.Pos()
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	switch c.Name {
	case "start":
		s.lastTick = s.clk.Now
		return s.step(Start{}), nil
	case "heartbeats":
		s.beating = arg(0) == "on"
		s.beatLinks = s.links
		if l, ok := c.Get("links"); ok {
			s.beatLinks = strings.Split(l, ",")
		}
		s.nextBeat = s.clk.Now
		if s.beating {
			return s.Tick(), nil
		}
		return nil, nil
	case "recv":
		kvs := c.KVs()
		if len(pos) != 1 || len(kvs) == 0 || kvs[0].Key != "t" {
			return nil, fmt.Errorf("usage: recv LINK[,LINK] t=TYPE field=value...")
		}
		var body []string
		seq := ""
		for _, kv := range kvs[1:] {
			if kv.Key == "seq" {
				seq = kv.Value // a recorded packet: its own seq, hex
				continue
			}
			body = append(body, kv.Key, kv.Value)
		}
		m := s.peerMsg(kvs[0].Value, body)
		if seq != "" {
			s.peerSeq--
			m.Set("seq", seq)
		}
		var out []string
		for _, l := range strings.Split(pos[0], ",") {
			out = append(out, s.step(Received{Msg: m.Clone(), Link: l})...)
		}
		return out, nil
	case "script":
		return s.script(arg(0), arg(1))
	case "outdate":
		id, err := strconv.ParseUint(arg(0), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("outdate: ID %q", arg(0))
		}
		var timeout time.Duration
		if v, ok := c.Get("timeout"); ok {
			if timeout, err = time.ParseDuration(v); err != nil {
				return nil, err
			}
		}
		return s.step(OutdateRequest{ID: id, Resource: arg(1), Timeout: timeout}), nil
	case "drbdadm":
		exit, err := strconv.Atoi(arg(1))
		if err != nil {
			return nil, fmt.Errorf("drbdadm: exit %q", arg(1))
		}
		return s.step(CommandDone{Origin: "pa2", Resource: arg(0), Exit: exit, Output: "drbdadm says " + arg(1)}), nil
	case "admin":
		return s.step(Admin{ID: 1, Cmd: AdminCmd(arg(0)), Set: arg(1)}), nil
	case "shutdown":
		return s.step(Shutdown{}), nil
	case "fence-done":
		return s.step(FromRM(rm.FenceDone{Node: "pa2", OK: arg(0) == "ok"})), nil
	case "state":
		return []string{s.n.RM().State()}, nil
	case "reload-monitor":
		// A reload that changes the monitor directives to exactly these
		// (the keys of config: monitor, monitor_off, monitor_max,
		// monitor_window; none turns monitoring off).
		var r nodeScenario
		if err := r.config(c); err != nil {
			return nil, err
		}
		return scenario.Render(s.clk, shown(s.n.SetMonitor(s.clk.Now, r.monitor, r.monitorPolicy)), renderAction), nil
	case "groups":
		// What `heartbeatd status` shows of each group.
		var out []string
		for _, g := range s.n.Groups() {
			line := fmt.Sprintf("group %s %s owner=%q since=%s monitor_restarts=%d", g.Key, g.State, g.Owner, s.clk.Stamp(g.Since), g.MonitorRestarts)
			if !g.RefusedUntil.IsZero() {
				line += " refused_until=" + s.clk.Stamp(g.RefusedUntil)
			}
			out = append(out, line)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown command %q", c.Name)
}

func (s *nodeScenario) script(id, outcome string) ([]string, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("script: ID %q", id)
	}
	r := grouprun.Result{ID: n}
	switch outcome {
	case "ok", "stopped":
	case "running":
		r.Running = true
	case "fail":
		r.Exit = 1
	case "missing":
		r.Exit, r.Missing, r.Incomplete = -1, true, true
	case "incomplete":
		r.Exit, r.Incomplete = -1, true
	default:
		return nil, fmt.Errorf("script: outcome %q", outcome)
	}
	return s.step(ScriptDone{r}), nil
}

func (s *nodeScenario) step(ev Event) []string {
	return scenario.Render(s.clk, shown(s.n.Step(s.clk.Now, ev)), renderAction)
}

// shown leaves out the actions the node's scenarios do not show.
func shown(all []Action) []Action {
	var acts []Action
	for _, a := range all {
		if tx, ok := a.(Transmit); ok {
			if t := tx.Msg.Type(); t == "status" || strings.HasPrefix(t, "NS_") {
				continue
			}
		}
		if _, ok := a.(StatusChanged); ok {
			continue
		}
		if pp, ok := a.(PersistPeer); ok && pp.Periodic {
			continue // membership's scenarios show them
		}
		acts = append(acts, a)
	}
	return acts
}

// envelope fields are left out of a rendered message: they are
// membership's business and change with every run of the clock.
var envelope = map[string]bool{"src": true, "srcuuid": true, "seq": true, "hg": true, "ts": true, "ttl": true, "ld": true, "auth": true, "destuuid": true}

func renderAction(a Action) string {
	switch a := a.(type) {
	case Transmit:
		var kvs []scenario.KV
		for _, f := range a.Msg.Fields {
			if !envelope[f.Name] {
				kvs = append(kvs, scenario.KV{Key: f.Name, Value: string(f.Value)})
			}
		}
		return "send " + scenario.FormatKVs(kvs)
	case Log:
		if a.Entity != "" {
			return "log " + a.Entity + " " + string(a.Level) + ": " + a.Text
		}
		return "log " + string(a.Level) + ": " + a.Text
	case RunScript:
		line := fmt.Sprintf("run %d %s %s", a.ID, a.Op, a.Resource.Raw)
		if a.TakeoverFrom != "" {
			line += " takeover-from=" + a.TakeoverFrom
		}
		if a.ReleaseTo != "" {
			line += " release-to=" + a.ReleaseTo
		}
		if a.Kind == grouprun.Announce {
			line += " (announce)"
		}
		return line
	case RunOutdate:
		return "run drbdadm outdate " + a.Resource + " for=" + a.Origin
	case OutdateReply:
		return fmt.Sprintf("outdate-reply %d code=%d %s", a.ID, a.Code, a.Text)
	case AdminReply:
		verdict := "refused"
		if a.OK {
			verdict = "ok"
		}
		return fmt.Sprintf("admin-reply %s: %s", verdict, a.Text)
	case Exiting:
		return "exiting"
	case PersistPeer:
		if a.Periodic {
			return fmt.Sprintf("persist %s gen=%d seq=%d (periodic)", a.Node, a.Gen, a.Seq)
		}
		return fmt.Sprintf("persist %s gen=%d seq=%d", a.Node, a.Gen, a.Seq)
	}
	if r, ok := RM(a); ok {
		switch r := r.(type) {
		case rm.Fence:
			return "fence " + r.Node
		case rm.Reboot:
			return "reboot: " + r.Reason
		}
	}
	return fmt.Sprintf("%T %+v", a, a)
}
