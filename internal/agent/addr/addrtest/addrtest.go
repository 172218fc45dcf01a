// Package addrtest runs the address agents (IPaddr, IPv6addr) inside the
// network namespaces of tests/netlab and reads back what the kernel did:
// the helpers their netns tests, and garp's, share.
package addrtest

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"heartbeatd/internal/agent"
	"heartbeatd/tests/netlab"
)

// Agent is the agent under test.
type Agent struct {
	Name string // for the log: "IPaddr"
	Main func(args []string, io agent.IO) int
}

// Result is one run of the agent.
type Result struct {
	RC             int
	Stdout, Stderr string
}

// Run calls a.Main inside n's namespace with env as its whole environment.
func (a Agent) Run(t *testing.T, n *netlab.Node, env map[string]string, args ...string) Result {
	t.Helper()
	var out, errs bytes.Buffer
	var rc int
	if err := n.Do(func() error {
		rc = a.Main(args, agent.IO{Stdout: &out, Stderr: &errs, Getenv: func(k string) string { return env[k] }})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := Result{rc, out.String(), errs.String()}
	t.Logf("%s: %s %s → rc %d\n%s%s", n.Name, a.Name, strings.Join(args, " "), rc, r.Stdout, r.Stderr)
	return r
}

// MustRun is Run, failing the test unless the agent exits 0.
func (a Agent) MustRun(t *testing.T, n *netlab.Node, env map[string]string, args ...string) Result {
	t.Helper()
	r := a.Run(t, n, env, args...)
	if r.RC != 0 {
		t.Fatalf("%s: %s %s: rc %d: %s", n.Name, a.Name, strings.Join(args, " "), r.RC, r.Stderr)
	}
	return r
}

// TailCommand is an addr.Announcer.Command for tests: the background
// sender, in production heartbeatd re-executed through the resource
// dispatcher, is the test binary re-executing itself as the helper test
// named helper (which calls TailArgs), started from the node's namespace
// like the real one.
func TailCommand(helper string) func(argv []string) (*exec.Cmd, error) {
	return func(argv []string) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), netlab.HelperEnv+"="+helper, tailArgsEnv+"="+strings.Join(argv, "\x1f"))
		return cmd, nil
	}
}

const tailArgsEnv = "ADDRTEST_TAIL_ARGS"

// TailArgs is the command line TailCommand handed to the helper.
func TailArgs() []string { return strings.Split(os.Getenv(tailArgsEnv), "\x1f") }

// MAC is the hardware address of iface in n.
func MAC(t *testing.T, n *netlab.Node, iface string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := n.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// AddrLines returns the `ip -o -4|-6 addr show` lines of n that carry ip.
func AddrLines(t *testing.T, n *netlab.Node, ip netip.Addr) []string {
	t.Helper()
	family, word := "-6", " inet6 "
	if ip.Is4() {
		family, word = "-4", " inet "
	}
	var out []string
	for _, l := range strings.Split(n.MustExec("ip", "-o", family, "addr", "show"), "\n") {
		if strings.Contains(l, word+ip.String()+"/") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return out
}
