package rm

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/haresources"
	"heartbeatd/internal/nodestatus"
	"heartbeatd/internal/scenario"
	"heartbeatd/internal/wire"
)

// TestScenarios runs testdata/scenarios/*.txt (format: internal/scenario)
// against one Manager, the local node (pa1 unless configured otherwise).
// The file plays everything around it: membership, the peer's messages and
// the executor. Nothing happens behind its back: a StartGroup stays pending
// until a "done" line reports its result. advance ticks every 250 ms, the
// daemon's longest sleep (ticking an Idle manager more often changes
// nothing). Other commands:
//
//	config key=value...    before the first event: local, peer, failback
//	                       (on|off|legacy), groups (comma list of HOME:KEY),
//	                       stonith (yes|no), on-stop-failure (reboot|block),
//	                       ping-tiebreak (yes|no), ipfail (yes|no),
//	                       ipfail-delay (a duration)
//	comm-up [alone]        CommUp
//	peer-status STATUS     PeerStatus of the peer (init|up|active|dead)
//	peer-returned          PeerReturned (partition healed)
//	peer-shutdown          PeerShutdown (the peer sent shutdone)
//	recv t=TYPE field=value...
//	                       a message from the peer (src is filled in)
//	admin CMD [SET]        hb_standby (standby), hb_takeover (takeover),
//	                       cleanup KEY
//	done start|stop KEY ok|failed|fatal [resource=NAME]
//	                       GroupDone: failed = released again by the
//	                       executor, fatal = the release/stop failed and the
//	                       status still says running
//	fence-done ok|failed   FenceDone for the peer
//	ping-reach R T         PingReach: R of the T ping nodes answer
//	peer-link-dead LINK    PeerLinkDead (one of the peer's links died)
//	shutdown, tick         Shutdown (SIGTERM), Tick
//	state                  the Heartbeat bookkeeping, rscstatus and the
//	                       failed starts with their schedule
func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/scenarios", epoch, func(clk *scenario.Clock) scenario.Core {
		return &rmScenario{clk: clk, cfg: Config{Local: "pa1", Peer: "pa2", AutoFailback: FailbackLegacy}}
	})
}

type rmScenario struct {
	clk *scenario.Clock
	cfg Config
	m   *Manager
}

// tickEvery is the daemon's longest sleep while the manager is busy.
const tickEvery = 250 * time.Millisecond

func (s *rmScenario) NextWake() time.Time { return s.clk.Now.Truncate(tickEvery).Add(tickEvery) }

func (s *rmScenario) Tick() []string { return s.step(Tick{}) }

func (s *rmScenario) Do(c scenario.Cmd) ([]string, error) {
	if c.Name == "config" {
		return nil, s.configure(c)
	}
	if s.m == nil {
		s.m = New(s.cfg)
	}
	pos := c.Pos()
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	switch c.Name {
	case "comm-up":
		return s.step(CommUp{Alone: arg(0) == "alone"}), nil
	case "peer-status":
		return s.step(PeerStatus{Node: s.cfg.Peer, Status: nodestatus.Status(arg(0))}), nil
	case "peer-returned":
		return s.step(PeerReturned{Node: s.cfg.Peer}), nil
	case "peer-shutdown":
		return s.step(PeerShutdown{Node: s.cfg.Peer}), nil
	case "recv":
		kvs := c.KVs()
		if len(kvs) == 0 || kvs[0].Key != "t" {
			return nil, fmt.Errorf("recv: the first field must be t=TYPE")
		}
		msg := &wire.Message{}
		for _, kv := range kvs {
			msg.Set(kv.Key, kv.Value)
		}
		if _, ok := msg.Get("src"); !ok {
			msg.Set("src", s.cfg.Peer)
		}
		return s.step(Message{Msg: msg}), nil
	case "admin":
		return s.step(Admin{Cmd: AdminCmd(arg(0)), Set: arg(1)}), nil
	case "done":
		return s.done(c, pos)
	case "ping-reach":
		r, err1 := strconv.Atoi(arg(0))
		n, err2 := strconv.Atoi(arg(1))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("usage: ping-reach REACHABLE TOTAL")
		}
		return s.step(PingReach{Reachable: r, Total: n}), nil
	case "peer-link-dead":
		return s.step(PeerLinkDead{Link: arg(0)}), nil
	case "fence-done":
		return s.step(FenceDone{Node: s.cfg.Peer, OK: arg(0) == "ok"}), nil
	case "shutdown":
		return s.step(Shutdown{}), nil
	case "tick":
		return s.Tick(), nil
	case "state":
		return s.state(), nil
	}
	return nil, fmt.Errorf("unknown command %q", c.Name)
}

func (s *rmScenario) done(c scenario.Cmd, pos []string) ([]string, error) {
	if len(pos) != 3 || (pos[0] != "start" && pos[0] != "stop") {
		return nil, fmt.Errorf("usage: done start|stop KEY ok|failed|fatal [resource=NAME]")
	}
	e := GroupDone{Op: GroupOp(pos[0]), Key: pos[1]}
	switch pos[2] {
	case "ok":
		e.OK = true
	case "failed":
	case "fatal":
		e.Fatal = true
	default:
		return nil, fmt.Errorf("done: result %q is not ok, failed or fatal", pos[2])
	}
	e.Resource, _ = c.Get("resource")
	return s.step(e), nil
}

func (s *rmScenario) configure(c scenario.Cmd) error {
	if s.m != nil {
		return fmt.Errorf("config after the first event")
	}
	for _, kv := range c.KVs() {
		switch kv.Key {
		case "local":
			s.cfg.Local = kv.Value
		case "peer":
			s.cfg.Peer = kv.Value
		case "failback":
			s.cfg.AutoFailback = kv.Value
		case "stonith":
			s.cfg.Stonith = kv.Value == "yes"
		case "on-stop-failure":
			s.cfg.OnStopFailure = kv.Value
		case "ping-tiebreak":
			s.cfg.PingTieBreak = kv.Value == "yes"
		case "ipfail":
			s.cfg.Ipfail = kv.Value == "yes"
		case "ipfail-delay":
			d, err := time.ParseDuration(kv.Value)
			if err != nil {
				return fmt.Errorf("ipfail-delay: %w", err)
			}
			s.cfg.IpfailDelay = d
		case "groups":
			s.cfg.Groups = nil
			for _, g := range strings.Split(kv.Value, ",") {
				home, key, ok := strings.Cut(g, ":")
				if !ok {
					return fmt.Errorf("group %q is not HOME:KEY", g)
				}
				s.cfg.Groups = append(s.cfg.Groups, haresources.Group{Node: home, Key: key})
			}
		default:
			return fmt.Errorf("unknown config key %q", kv.Key)
		}
	}
	return nil
}

func (s *rmScenario) step(ev Event) []string {
	return scenario.Render(s.clk, s.m.Step(s.clk.Now, ev), renderAction)
}

func (s *rmScenario) state() []string {
	out := []string{s.m.State(), "rscstatus " + s.m.RscStatus()}
	for _, f := range s.m.FailedStarts() {
		next := "none"
		if !f.Next.IsZero() {
			next = s.clk.Stamp(f.Next)
		}
		out = append(out, fmt.Sprintf("failed-start %s attempts=%d/%d next=%s gave-up=%v", f.Key, f.Attempts, f.Max, next, f.GaveUp))
	}
	return out
}

func renderAction(a Action) string {
	switch a := a.(type) {
	case Send:
		var kvs []scenario.KV
		for _, f := range a.Msg.Fields {
			kvs = append(kvs, scenario.KV{Key: f.Name, Value: string(f.Value)})
		}
		return "send " + scenario.FormatKVs(kvs)
	case StartGroup:
		if a.TakeoverFrom != "" {
			return "start-group " + a.Key + " takeover-from=" + a.TakeoverFrom
		}
		return "start-group " + a.Key
	case StopGroup:
		if a.KeptBy != "" {
			return "stop-group " + a.Key + " kept-by=" + a.KeptBy
		}
		return "stop-group " + a.Key
	case Log:
		return "log " + string(a.Level) + ": " + a.Text
	case Reply:
		verdict := "refused"
		if a.OK {
			verdict = "ok"
		}
		return fmt.Sprintf("reply %s %s: %s", a.Cmd, verdict, a.Text)
	case ShutdownReady:
		return "shutdown-ready"
	case Reboot:
		return "reboot: " + a.Reason
	case Fence:
		return "fence " + a.Node
	}
	return fmt.Sprintf("unknown action %#v", a)
}
