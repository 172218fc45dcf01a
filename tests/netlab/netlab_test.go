//go:build netns

package netlab

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// twoNodes is the Heartbeat lab topology: two nodes, two bridged links.
func twoNodes(t *testing.T) (*Lab, *Node, *Node) {
	l := New(t, t.Name())
	b1, b2 := l.AddBridge("link1"), l.AddBridge("link2")
	a, b := l.AddNode("a"), l.AddNode("b")
	for _, n := range []*Node{a, b} {
		n.Connect(b1, "eth1", "")
		n.Connect(b2, "eth2", "")
	}
	return l, a, b
}

// pings sends count UDP datagrams from node from to address to (port 7,
// answered by an echo socket living in node at) and returns how many came
// back. Sockets are made inside the namespaces with Do, which also tests Do.
// A send refused by the local firewall counts as lost.
func pings(t *testing.T, from, at *Node, to string, count int) int {
	t.Helper()
	var srv net.PacketConn
	if err := at.Do(func() (err error) {
		srv, err = net.ListenPacket("udp4", net.JoinHostPort(to, "7"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, addr, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			srv.WriteTo(buf[:n], addr)
		}
	}()
	var cli net.PacketConn
	if err := from.Do(func() (err error) {
		cli, err = net.ListenPacket("udp4", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dst := &net.UDPAddr{IP: net.ParseIP(to), Port: 7}
	for i := 0; i < count; i++ {
		cli.WriteTo([]byte(fmt.Sprint(i)), dst)
	}
	seen := map[string]bool{}
	buf := make([]byte, 64)
	cli.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		n, _, err := cli.ReadFrom(buf)
		if err != nil {
			break
		}
		seen[string(buf[:n])] = true
	}
	return len(seen)
}

func TestTopologyAddressesAndBroadcast(t *testing.T) {
	_, a, b := twoNodes(t)
	if a.Addr("eth1").Addr() == b.Addr("eth1").Addr() {
		t.Fatalf("two nodes got the same address %v", a.Addr("eth1"))
	}
	if a.Addr("eth1").Masked() == a.Addr("eth2").Masked() {
		t.Fatalf("both links share subnet %v", a.Addr("eth1").Masked())
	}
	// "brd +" must have given the interface a broadcast address: without
	// it Heartbeat's bcast medium sends to 0.0.0.0.
	out := a.MustExec("ip", "-4", "-o", "addr", "show", "dev", "eth1")
	if !strings.Contains(out, " brd ") {
		t.Fatalf("eth1 has no broadcast address: %s", out)
	}
	for _, ifname := range []string{"eth1", "eth2"} {
		if got := pings(t, a, b, b.Addr(ifname).Addr().String(), 3); got != 3 {
			t.Fatalf("ping b over %s: %d/3 replies", ifname, got)
		}
	}
}

func TestCutHealAndLossAffectOneLinkOnly(t *testing.T) {
	_, a, b := twoNodes(t)
	b1, b2 := b.Addr("eth1").Addr().String(), b.Addr("eth2").Addr().String()

	a.Cut("eth1")
	if got := pings(t, a, b, b1, 2); got != 0 {
		t.Fatalf("eth1 cut on a, yet %d pings answered", got)
	}
	if got := pings(t, a, b, b2, 3); got != 3 {
		t.Fatalf("eth1 cut must not affect eth2: %d/3", got)
	}
	// A cut on one side only must also silence the other side's view.
	if got := pings(t, b, a, a.Addr("eth1").Addr().String(), 2); got != 0 {
		t.Fatalf("eth1 cut on a, yet b reached a over eth1 %d times", got)
	}
	a.Heal("eth1")
	if got := pings(t, a, b, b1, 3); got != 3 {
		t.Fatalf("healed eth1: %d/3", got)
	}

	a.Loss("eth2", 100)
	if got := pings(t, a, b, b2, 3); got != 0 {
		t.Fatalf("100%% loss on eth2: %d/3 answered", got)
	}
	// 50% each way: a round trip survives with p=0.25. 400 samples keep
	// the result inside [40,180] with overwhelming probability.
	a.Loss("eth2", 50)
	if got := pings(t, a, b, b2, 400); got < 40 || got > 180 {
		t.Fatalf("50%% loss on eth2: %d/400 round trips, want about 100", got)
	}
	a.Loss("eth2", 0)
	if got := pings(t, a, b, b2, 3); got != 3 {
		t.Fatalf("loss removed: %d/3", got)
	}
}

func TestCloseKillsProcessesAndRemovesNamespaces(t *testing.T) {
	l, a, _ := twoNodes(t)
	cmd := a.Start("sleep", "600")
	prefix := l.Prefix
	l.Close()
	// The killed process must be gone (a zombie until reaped counts as dead:
	// Wait reaps it and reports the signal).
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if err == nil || !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("sleep ended with %v, want killed by SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("process started in the lab survived Close")
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	if strings.Contains(string(out), prefix) {
		t.Fatalf("namespaces with prefix %s left behind:\n%s", prefix, out)
	}
	l.Close() // idempotent
}

func TestWithNetnsSeesOnlyNodeInterfaces(t *testing.T) {
	_, a, _ := twoNodes(t)
	var names []string
	err := a.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "lo,eth1,eth2" {
		t.Fatalf("interfaces inside node a: %s, want lo,eth1,eth2", got)
	}
	// And the goroutine is back home afterwards.
	host, _ := os.Readlink("/proc/self/ns/net")
	mine, _ := os.Readlink("/proc/thread-self/ns/net")
	if host != mine {
		t.Fatalf("thread still in %s after Do, process is in %s", mine, host)
	}
}

func TestStartHelperRunsTestBinaryInNode(t *testing.T) {
	_, a, _ := twoNodes(t)
	cmd := a.StartHelper("TestHelperPrintInterfaces")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "IFACES "); ok {
			seen = s
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if seen != "lo,eth1,eth2" {
		t.Fatalf("helper saw interfaces %q, want lo,eth1,eth2", seen)
	}
}

func TestHelperPrintInterfaces(t *testing.T) {
	if !IsHelper("TestHelperPrintInterfaces") {
		return // only meaningful as the helper process of TestStartHelperRunsTestBinaryInNode
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	fmt.Println("IFACES " + strings.Join(names, ","))
}

func TestRenderRulesetIsAtomicSwap(t *testing.T) {
	empty := renderRuleset(nil)
	if strings.Contains(empty, "chain") || !strings.Contains(empty, "delete table inet netlab") {
		t.Fatalf("empty ruleset should only drop the tables:\n%s", empty)
	}
	rs := renderRuleset(map[string]ifaceFilter{"eth2": {loss: 30}, "eth1": {cut: true}})
	for _, want := range []string{
		`iifname "eth1" drop`, `oifname "eth1" drop`,
		`iifname "eth2" numgen random mod 100 < 30 drop`,
	} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	if strings.Contains(rs, `"eth2" drop`) {
		t.Errorf("loss must not become a cut:\n%s", rs)
	}
}
