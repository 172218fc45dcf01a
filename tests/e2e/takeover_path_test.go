//go:build netns && bench

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTakeoverPathLatency measures the takeover path alone: from the
// moment n2 declares n1 dead (the daemon's own record, `heartbeatd status`
// last_failover.began) to the first gratuitous ARP for the VIP, for a group
// whose first resource is the IP, after a kill -9 of n1's daemon at
// keepalive 20 ms / deadtime 100 ms. Two views, both against the daemon's
// dead decision on the one host clock the namespaces share:
//   - client: the first gratuitous ARP from n2 as the client's kernel
//     timestamped it (tcpdump -tt); began is rounded to the millisecond,
//     so one run is off by up to half a millisecond;
//   - daemon: last_failover.ended, when the group's start op had returned
//     (the first ARP goes out before that; start then waits for the old
//     holder's answer to its probe).
//
// Runs alternate between IPaddr through heartbeatd's own wrapper (its ops
// go to the script runner's standby helpers) and through a wrapper with
// one more line, which the runner must run as a script: sh, then a fresh
// heartbeatd, as every op ran before the helpers. Alternating keeps both
// under the same machine load. The goal is a median of at most
// 5 ms for the first; the assertion is looser (a loaded CI machine), and
// the medians are logged for the notes. TAKEOVER_REPS sets the number of
// runs of each (default 7).
func TestTakeoverPathLatency(t *testing.T) {
	reps := 7
	if s := os.Getenv("TAKEOVER_REPS"); s != "" {
		reps, _ = strconv.Atoi(s)
	}
	modes := []string{"helpers", "fork"}
	client, daemon := map[string][]time.Duration{}, map[string][]time.Duration{}
	for i := 0; i < reps; i++ {
		for _, mode := range modes {
			c, d, err := takeoverPathOnce(t, mode == "fork")
			if err != nil {
				t.Errorf("%s rep %d: %v", mode, i, err)
				continue
			}
			t.Logf("%s rep %d: dead -> first ARP at the client %v; dead -> start returned %v", mode, i, c, d)
			client[mode], daemon[mode] = append(client[mode], c), append(daemon[mode], d)
		}
	}
	for _, mode := range modes {
		c, d := client[mode], daemon[mode]
		if len(c) == 0 {
			t.Fatalf("%s: no successful run", mode)
		}
		mc, md := median(c), median(d)
		t.Logf("%-7s dead -> first gratuitous ARP (client): median %v (min %v, max %v, n=%d); dead -> start returned (daemon): median %v (min %v, max %v)",
			mode, mc.Round(10*time.Microsecond), c[0].Round(10*time.Microsecond), c[len(c)-1].Round(10*time.Microsecond), len(c),
			md.Round(10*time.Microsecond), d[0].Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond))
	}
	if mc := median(client["helpers"]); mc > 50*time.Millisecond {
		t.Errorf("median dead -> first ARP through the helpers is %v; the goal is 5 ms", mc)
	}
}

// median sorts v and returns its middle element.
func median(v []time.Duration) time.Duration {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

// takeoverPathOnce builds a fresh cluster with n1 holding the VIP, kills
// n1's daemon and returns both views of n2's takeover path; fork: n2's
// IPaddr wrapper is not heartbeatd's own text, so its ops fork.
func takeoverPathOnce(t *testing.T, fork bool) (client, daemon time.Duration, err error) {
	ok := t.Run(fmt.Sprintf("fork=%v", fork), func(t *testing.T) {
		c := newCluster(t, "tkp", true)
		n1, n2 := c.addDaemonNode("n1", 1, false), c.addDaemonNode("n2", 2, false)
		if fork {
			wrapper := filepath.Join(n2.confdir, "resource.d", "IPaddr")
			b, rerr := os.ReadFile(wrapper)
			if rerr == nil {
				rerr = os.WriteFile(wrapper, append(b, "# not heartbeatd's own wrapper: forked\n"...), 0o755)
			}
			if rerr != nil {
				t.Fatal(rerr)
			}
		}
		vip := c.br[0].Addr(100).Addr().String()
		tm := timing{"20ms", "100ms", "60ms", "3"}
		for _, n := range []*hbNode{n1, n2} {
			n.writeConf(c.haCF(n, tm, "bcast eth1 eth2", "auto_failback off\n"), fmt.Sprintf("n1 IPaddr::%s/24/eth1\n", vip))
		}
		n1.launch()
		n2.launch()
		for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if s, _ := n2.clStatus("rscstatus"); n1.holdsVIP(vip) && (s == "none" || s == "local") {
				break
			}
			if time.Now().After(deadline) {
				for _, n := range []*hbNode{n1, n2} {
					b, _ := os.ReadFile(n.logfile + ".debug")
					t.Logf("==== %s's debug log ====\n%s", n.name, b)
				}
				t.Fatalf("n1 does not hold the VIP after 40 s")
			}
		}
		time.Sleep(6 * time.Second) // past the start-up deadtime
		n2mac := strings.TrimSpace(n2.ns.MustExec("cat", "/sys/class/net/eth1/address"))
		capture := filepath.Join(t.TempDir(), "arp.txt")
		f, ferr := os.Create(capture)
		if ferr != nil {
			err = ferr
			return
		}
		defer f.Close()
		dump := c.client.Command("tcpdump", "-l", "-n", "-e", "-tt", "-i", "eth1", "arp")
		dump.Stdout = f
		if err = dump.Start(); err != nil {
			return
		}
		defer func() { dump.Process.Kill(); dump.Wait() }()
		time.Sleep(500 * time.Millisecond)
		n1.crash()

		var fo struct {
			Began time.Time `json:"began"`
			Ended time.Time `json:"ended"`
			OK    bool      `json:"ok"`
		}
		waitFor(t, 10*time.Second, "n2's record of the takeover", func() bool {
			out, _ := exec.Command(binary(t), "status", "--rundir", n2.rundir, "--json").Output()
			var st struct {
				LastFailover *json.RawMessage `json:"last_failover"`
			}
			if json.Unmarshal(out, &st) != nil || st.LastFailover == nil {
				return false
			}
			return json.Unmarshal(*st.LastFailover, &fo) == nil && !fo.Ended.IsZero()
		})
		if !fo.OK {
			st, _ := exec.Command(binary(t), "status", "--rundir", n2.rundir, "--json").Output()
			t.Errorf("takeover failed: %+v; n2's status:\n%s", fo, st)
			return
		}
		daemon = fo.Ended.Sub(fo.Began)
		var arp time.Time
		waitFor(t, 5*time.Second, "the client sees n2's gratuitous ARP", func() bool {
			arp = firstGARP(capture, n2mac, vip)
			return !arp.IsZero()
		})
		client = arp.Sub(fo.Began)
		// began is rounded to the millisecond in the status record.
		if client < -time.Millisecond || client > 5*time.Second {
			t.Errorf("first ARP at %v, dead decision at %v", arp, fo.Began)
		}
	})
	if !ok && err == nil {
		err = fmt.Errorf("run failed")
	}
	return client, daemon, err
}

// firstGARP is the client's timestamp of the first ARP frame from mac that
// announces vip (sender address vip, request or reply; not a probe from
// 0.0.0.0), zero if none yet.
func firstGARP(capture, mac, vip string) time.Time {
	b, _ := os.ReadFile(capture)
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 2 || !strings.HasPrefix(strings.ToLower(fs[1]), mac) {
			continue
		}
		if !strings.Contains(line, "tell "+vip+",") && !strings.Contains(line, "Reply "+vip+" is-at") {
			continue
		}
		sec, usec, _ := strings.Cut(fs[0], ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		us, err2 := strconv.ParseInt(usec, 10, 64)
		if err1 == nil && err2 == nil && len(usec) == 6 {
			return time.Unix(s, us*1000)
		}
	}
	return time.Time{}
}
