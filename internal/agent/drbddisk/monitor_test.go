package drbddisk

import (
	"strings"
	"testing"

	"heartbeatd/internal/agent"
)

// monitor: Primary is healthy, Secondary or down is absent, a role that
// cannot be read or a half-promoted "all" is a failure; status keeps its
// meaning alongside.
func TestMonitor(t *testing.T) {
	for _, ver := range []string{"8.4", "9"} {
		t.Run(ver, func(t *testing.T) {
			c := newCluster(t, ver, healthy())
			monitor := func(step string, wantCode int, wantOut string, args ...string) {
				t.Helper()
				code, out, stderr := c.run(append(args, "monitor")...)
				if code != wantCode || out != wantOut {
					t.Fatalf("%s: monitor exit %d %q (stderr %q), want %d %q", step, code, out, stderr, wantCode, wantOut)
				}
				if (judged(out) == "running") != (wantCode == agent.OK) {
					t.Fatalf("%s: %q judged %s", step, out, judged(out))
				}
			}
			monitor("Secondary", agent.NotRunning, "stopped\n", "r0")
			if code, _, stderr := c.run("r0", "start"); code != agent.OK {
				t.Fatalf("start: %d %s", code, stderr)
			}
			monitor("Primary", agent.OK, "running\n", "r0")

			// Demoted under the running service (by hand): absent.
			st := c.read()
			st.Resources["r0"].Role = "Secondary"
			c.write(st)
			monitor("demoted", agent.NotRunning, "stopped\n", "r0")

			// Taken down: absent, and status agrees.
			st.Resources["r0"].Up = false
			c.write(st)
			monitor("down", agent.NotRunning, "stopped\n", "r0")

			// "all" with one of two Primary: present but not whole.
			st = healthy()
			st.Resources["r0"].Role = "Primary"
			st.Resources["r1"] = &resource{Minor: 1, Up: true, Role: "Secondary", PeerRole: "Secondary",
				Disk: "UpToDate", PeerDisk: "UpToDate", CState: "Connected"}
			c.write(st)
			monitor("half of all", agent.Failed, "failed: not Primary\n")
			if _, out, _ := c.run("status"); judged(out) != "running" {
				t.Fatalf("status all with one Primary: %q", out)
			}

			// Unreadable role: a failure, never health.
			st = healthy()
			st.Resources["r0"].Role = "Primary"
			st.Fail = map[string]*failure{"role": {Exit: 20, Stderr: "Command 'drbdsetup role r0' did not terminate within 5 seconds\n"}}
			c.write(st)
			code, out, stderr := c.run("r0", "monitor")
			if code != agent.Failed || out != "failed: role unknown\n" || !strings.Contains(stderr, "did not terminate") {
				t.Fatalf("unknown role: exit %d %q %q", code, out, stderr)
			}
		})
	}
}
