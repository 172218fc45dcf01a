//go:build netns

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"heartbeatd/internal/status"
)

// metricsAddr is where every node serves its metrics: each namespace has
// its own loopback.
const metricsAddr = "127.0.0.1:9694"

// statusJSON is `heartbeatd status --json` on n.
func (n *hbNode) statusJSON() *status.Snapshot {
	n.c.t.Helper()
	out, err := exec.Command(binary(n.c.t), "status", "--rundir", n.rundir, "--json").Output()
	if err != nil {
		n.c.t.Fatalf("heartbeatd status --json on %s: %v", n.name, err)
	}
	s, err := status.Parse(out)
	if err != nil {
		n.c.t.Fatalf("heartbeatd status --json on %s: %v: %s", n.name, err, out)
	}
	return s
}

// scrape GETs /metrics inside n's namespace: the socket is created there
// (netlab's Do), the request is plain HTTP/1.0 over it. Samples are keyed
// by name and labels as written.
func (n *hbNode) scrape() (map[string]string, error) {
	var conn net.Conn
	err := n.ns.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", metricsAddr, 2*time.Second)
		return err
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", metricsAddr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s %v", resp.Status, err)
	}
	samples := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			samples[line[:i]] = line[i+1:]
		}
	}
	return samples, nil
}

func findGroup(s *status.Snapshot, key string) status.Group {
	for _, g := range s.Groups {
		if g.Key == key {
			return g
		}
	}
	return status.Group{}
}

// TestStatusAndMetrics runs a pair with metrics on, reads `heartbeatd
// status` (JSON and table) and /metrics, powers n1 off and follows the
// failover on n2's /metrics while it happens.
func TestStatusAndMetrics(t *testing.T) {
	c := newCluster(t, "status", true)
	n1, n2 := c.addNode("n1", 1), c.addNode("n2", 2)
	t.Cleanup(func() { dumpLogs(t, c) })
	vip := c.br[0].Addr(100).Addr().String()
	c.shared = t.TempDir()
	vipKey := fmt.Sprintf("IPaddr::%s/24/eth1", vip)
	for _, n := range []*hbNode{n1, n2} {
		n.writeConf(c.haCF(n, failoverTiming, "bcast eth1 eth2", "auto_failback on\nmetrics_listen "+metricsAddr+"\n"),
			fmt.Sprintf("n1 %s marker\nn2 marker::two\n", vipKey))
		n.installIPaddr(nativeIPaddr)
		os.WriteFile(filepath.Join(n.confdir, "resource.d", "marker"), []byte(fmt.Sprintf(markerScript, c.shared)), 0o755)
	}
	startN1ThenN2(c, vip)
	waitFor(t, 20*time.Second, "n2 runs its own group", func() bool {
		on := c.runsOn("two")
		return len(on) == 1 && on[0] == "n2"
	})

	// The whole picture on n1, as JSON.
	var s *status.Snapshot
	waitFor(t, 10*time.Second, "n1's status shows both groups home", func() bool {
		s = n1.statusJSON()
		return findGroup(s, vipKey).Owner == "n1" && findGroup(s, "marker::two").Owner == "n2"
	})
	if s.Local != "n1" || len(s.Nodes) != 2 || s.Schema != status.Schema {
		t.Fatalf("status of n1: %+v", s)
	}
	for _, nd := range s.Nodes {
		if nd.Status != "active" || nd.Generation == 0 || len(nd.Links) != 2 {
			t.Errorf("node %+v", nd)
		}
		for _, l := range nd.Links {
			if l.Status != "up" || l.LastHeard == nil {
				t.Errorf("link %s:%s %+v", nd.Name, l.Name, l)
			}
		}
	}
	if g := findGroup(s, vipKey); g.State != "running" || g.Home != "n1" ||
		strings.Join(g.Resources, " ") != vipKey+" marker" {
		t.Errorf("n1's group: %+v", g)
	}
	if s.LastFailover != nil {
		t.Errorf("failover before any: %+v", s.LastFailover)
	}
	// And as the table.
	out, err := exec.Command(binary(t), "status", "--rundir", n1.rundir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), vipKey) || !strings.Contains(string(out), "Last failover: none") {
		t.Errorf("heartbeatd status on n1: %v\n%s", err, out)
	}
	t.Logf("heartbeatd status on n1:\n%s", out)

	m, err := n2.scrape()
	if err != nil {
		t.Fatalf("scrape n2: %v", err)
	}
	for series, want := range map[string]string{
		`heartbeatd_node_up{node="n1"}`:                                  "1",
		`heartbeatd_link_up{link="eth2",node="n1"}`:                      "1",
		`heartbeatd_group_owner{group="marker::two",node="n2"}`:          "1",
		`heartbeatd_group_state{group="` + vipKey + `",state="running"}`: "1",
		"heartbeatd_failovers_total":                                     "0",
		"heartbeatd_packets_auth_failed_total":                           "0",
	} {
		if got := m[series]; got != want {
			t.Errorf("n2 %s = %q, want %s", series, got, want)
		}
	}

	// Power n1 off and watch the failover on n2's metrics as it happens.
	c.pastStartupDeadtime()
	off := time.Now()
	c.powerOff(n1)
	var seen []string
	waitFor(t, 15*time.Second, "n2's metrics show the failover", func() bool {
		m, err := n2.scrape()
		if err != nil {
			t.Logf("scrape during the failover: %v", err)
			return false
		}
		state := ""
		for _, st := range []string{"stopped", "starting", "running"} {
			if m[`heartbeatd_group_state{group="`+vipKey+`",state="`+st+`"}`] == "1" {
				state = st
			}
		}
		step := fmt.Sprintf("n1 up %s, %s %s owned by n2 %s", m[`heartbeatd_node_up{node="n1"}`], vipKey, state,
			m[`heartbeatd_group_owner{group="`+vipKey+`",node="n2"}`])
		if len(seen) == 0 || seen[len(seen)-1] != step {
			seen = append(seen, step)
			t.Logf("%6v after power-off: %s", time.Since(off).Round(time.Millisecond), step)
		}
		return m["heartbeatd_failovers_total"] == "1"
	})
	m, _ = n2.scrape()
	for series, want := range map[string]string{
		`heartbeatd_node_up{node="n1"}`:                                          "0",
		`heartbeatd_link_up{link="eth1",node="n1"}`:                              "0",
		`heartbeatd_group_owner{group="` + vipKey + `",node="n2"}`:               "1",
		`heartbeatd_failover_duration_seconds_count{peer="n1"}`:                  "1",
		`heartbeatd_script_runs_total{op="start",resource="marker",result="ok"}`: "1",
	} {
		if got := m[series]; got != want {
			t.Errorf("n2 after the failover: %s = %q, want %s", series, got, want)
		}
	}
	if age, err := strconv.ParseFloat(m["heartbeatd_snapshot_age_seconds"], 64); err != nil || age > 2 {
		t.Errorf("n2's snapshot is %v s old (%v)", age, err)
	}

	s = n2.statusJSON()
	f := s.LastFailover
	if f == nil || f.Peer != "n1" || !f.OK || s.Failovers != 1 || !strings.HasPrefix(f.Reason, "node n1 dead") {
		t.Fatalf("n2's last failover: %d %+v", s.Failovers, f)
	}
	if len(f.Groups) != 1 || f.Groups[0] != vipKey || f.DurationMS <= 0 || f.DurationMS > 10000 {
		t.Errorf("n2's last failover: %+v", f)
	}
	if g := findGroup(s, vipKey); g.Owner != "n2" || g.State != "running" {
		t.Errorf("n1's group after the failover: %+v", g)
	}
	if s.Nodes[0].Status != "dead" {
		t.Errorf("n1 seen from n2: %+v", s.Nodes[0])
	}
	out, _ = exec.Command(binary(t), "status", "--rundir", n2.rundir).CombinedOutput()
	t.Logf("heartbeatd status on n2:\n%s", out)
	t.Logf("failover: %s; took %d ms after the death was declared %v after n1's last status", f.Reason, f.DurationMS,
		f.Began.Sub(*f.PeerLastHeard).Round(time.Millisecond))
}
