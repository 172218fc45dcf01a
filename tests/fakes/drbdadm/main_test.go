package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func twoNode() *State {
	return &State{Resources: map[string]*Resource{
		"r0": {Minor: 0, Up: true, Role: "Secondary", PeerRole: "Secondary",
			Disk: "UpToDate", PeerDisk: "UpToDate", CState: "Connected"},
	}}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name       string
		ver        version
		mod        func(*Resource)
		args       []string
		wantCode   int
		wantOut    string
		wantErrHas string
		check      func(*testing.T, *Resource)
	}{
		{name: "role 8.4", ver: v84, args: []string{"role", "r0"}, wantOut: "Secondary/Secondary\n"},
		{name: "role 9", ver: v9, args: []string{"role", "r0"}, wantOut: "Secondary\n"},
		{name: "role 8.4 disconnected", ver: v84, mod: func(r *Resource) { r.CState = "WFConnection"; r.PeerRole = "Primary" },
			args: []string{"role", "r0"}, wantOut: "Secondary/Unknown\n"},
		{name: "dstate", ver: v9, args: []string{"dstate", "r0"}, wantOut: "UpToDate/UpToDate\n"},
		{name: "dstate disconnected", ver: v84, mod: func(r *Resource) { r.CState = "StandAlone" },
			args: []string{"dstate", "r0"}, wantOut: "UpToDate/DUnknown\n"},
		{name: "cstate", ver: v84, args: []string{"cstate", "r0"}, wantOut: "Connected\n"},
		{name: "role down 8.4", ver: v84, mod: func(r *Resource) { r.Up = false },
			args: []string{"role", "r0"}, wantCode: 10, wantErrHas: "0: Failure: (127) Device minor not allocated"},
		{name: "role down 9", ver: v9, mod: func(r *Resource) { r.Up = false },
			args: []string{"role", "r0"}, wantCode: 10, wantErrHas: "r0: Unknown resource\nCommand 'drbdsetup role r0' terminated with exit code 10"},
		{name: "primary ok", ver: v9, args: []string{"primary", "r0"},
			check: func(t *testing.T, r *Resource) { want(t, r.Role, "Primary") }},
		{name: "primary against primary peer", ver: v84, mod: func(r *Resource) { r.PeerRole = "Primary" },
			args: []string{"primary", "r0"}, wantCode: 11,
			wantErrHas: "0: State change failed: (-1) Multiple primaries not allowed by config\nCommand 'drbdsetup-84 primary 0' terminated with exit code 11",
			check:      func(t *testing.T, r *Resource) { want(t, r.Role, "Secondary") }},
		{name: "primary dual-primary allowed", ver: v9, mod: func(r *Resource) { r.PeerRole = "Primary"; r.TwoPrimaries = true },
			args: []string{"primary", "r0"}, check: func(t *testing.T, r *Resource) { want(t, r.Role, "Primary") }},
		{name: "primary peer primary but disconnected", ver: v9, mod: func(r *Resource) { r.PeerRole = "Primary"; r.CState = "Connecting" },
			args: []string{"primary", "r0"}, check: func(t *testing.T, r *Resource) { want(t, r.Role, "Primary") }},
		{name: "primary outdated", ver: v9, mod: func(r *Resource) { r.Disk = "Outdated"; r.CState = "Connecting" },
			args: []string{"primary", "r0"}, wantCode: 17, wantErrHas: "r0: State change failed: (-2) Need access to UpToDate data"},
		{name: "primary --force outdated", ver: v9, mod: func(r *Resource) { r.Disk = "Outdated"; r.CState = "Connecting" },
			args:  []string{"primary", "--force", "r0"},
			check: func(t *testing.T, r *Resource) { want(t, r.Role, "Primary"); want(t, r.Disk, "UpToDate") }},
		{name: "primary down", ver: v9, mod: func(r *Resource) { r.Up = false },
			args: []string{"primary", "r0"}, wantCode: 10, wantErrHas: "r0: Failure: (158) Unknown resource"},
		{name: "secondary in use", ver: v84, mod: func(r *Resource) { r.Role = "Primary"; r.Open = true },
			args: []string{"secondary", "r0"}, wantCode: 11, wantErrHas: "(-12) Device is held open by someone"},
		{name: "secondary when secondary", ver: v84, args: []string{"secondary", "r0"}},
		{name: "outdate primary", ver: v84, mod: func(r *Resource) { r.Role = "Primary"; r.CState = "WFConnection" },
			args: []string{"outdate", "r0"}, wantCode: 17},
		{name: "outdate inconsistent", ver: v84, mod: func(r *Resource) { r.Disk = "Inconsistent"; r.CState = "WFConnection" },
			args: []string{"outdate", "r0"}, wantCode: 5},
		{name: "outdate disconnected secondary", ver: v84, mod: func(r *Resource) { r.CState = "WFConnection" },
			args: []string{"outdate", "r0"}, check: func(t *testing.T, r *Resource) { want(t, r.Disk, "Outdated") }},
		{name: "outdate connected", ver: v84, args: []string{"outdate", "r0"}, wantCode: 20, wantErrHas: "Device '0' is configured!",
			check: func(t *testing.T, r *Resource) { want(t, r.Disk, "UpToDate") }},
		{name: "outdate down uses drbdmeta", ver: v9, mod: func(r *Resource) { r.Up = false },
			args: []string{"outdate", "r0"}, check: func(t *testing.T, r *Resource) { want(t, r.Disk, "Outdated") }},
		{name: "down while open", ver: v9, mod: func(r *Resource) { r.Open = true }, args: []string{"down", "r0"}, wantCode: 11},
		{name: "down then up", ver: v9, args: []string{"down", "r0"},
			check: func(t *testing.T, r *Resource) { want(t, r.Up, false); want(t, r.CState, "StandAlone") }},
		{name: "unknown resource", ver: v9, args: []string{"role", "r9"}, wantCode: 1,
			wantErrHas: "'r9' not defined in your config (for this host)."},
		{name: "unknown command", ver: v9, args: []string{"frobnicate", "r0"}, wantCode: 1, wantErrHas: "drbdadm: Unknown command 'frobnicate'"},
		{name: "no resource", ver: v9, args: []string{"primary"}, wantCode: 1, wantErrHas: "No resource names specified"},
		{name: "no command", ver: v9, args: nil, wantCode: 1, wantErrHas: "No command specified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := twoNode()
			if tc.mod != nil {
				tc.mod(st.Resources["r0"])
			}
			r := run(st, tc.ver, tc.args)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.wantCode, r.stderr.String())
			}
			if tc.wantOut != "" && r.stdout.String() != tc.wantOut {
				t.Errorf("stdout %q, want %q", r.stdout.String(), tc.wantOut)
			}
			if !strings.Contains(r.stderr.String(), tc.wantErrHas) {
				t.Errorf("stderr %q does not contain %q", r.stderr.String(), tc.wantErrHas)
			}
			if tc.check != nil {
				tc.check(t, st.Resources["r0"])
			}
		})
	}
}

func want[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAllWalksEveryResourceAndKeepsWorstCode(t *testing.T) {
	st := twoNode()
	st.Resources["r1"] = &Resource{Minor: 1, Up: true, Role: "Secondary", PeerRole: "Primary",
		Disk: "UpToDate", PeerDisk: "UpToDate", CState: "Connected"}
	r := run(st, v84, []string{"primary", "all"})
	want(t, r.code, 11)
	want(t, st.Resources["r0"].Role, "Primary")
	want(t, st.Resources["r1"].Role, "Secondary")
	r = run(st, v84, []string{"role", "all"})
	want(t, r.stdout.String(), "Primary/Secondary\nSecondary/Primary\n")
}

func TestInjectedFailureCountsDown(t *testing.T) {
	st := twoNode()
	st.Fail = map[string]*Failure{"role r0": {Exit: 20, Stderr: "cannot lock\n", Times: 2}}
	for i := 0; i < 2; i++ {
		r := run(st, v9, []string{"role", "r0"})
		want(t, r.code, 20)
		want(t, r.stderr.String(), "cannot lock\n")
	}
	r := run(st, v9, []string{"role", "r0"})
	want(t, r.code, 0)
	want(t, r.stdout.String(), "Secondary\n")
	want(t, len(st.Calls), 3)
}

// TestBinary runs the built program: state file round trip and call log.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "drbdadm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	statePath := filepath.Join(dir, "state.json")
	data, _ := json.Marshal(twoNode())
	if err := os.WriteFile(statePath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	runBin := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "FAKE_DRBD_STATE="+statePath, "FAKE_DRBD_VERSION=8.4")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := runBin("primary", "r0"); code != 0 {
		t.Fatalf("primary: %d %s", code, out)
	}
	out, code := runBin("role", "r0")
	want(t, code, 0)
	want(t, out, "Primary/Secondary\n")

	var st State
	data, _ = os.ReadFile(statePath)
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	want(t, strings.Join(st.Calls, ","), "primary r0,role r0")

	cmd := exec.Command(bin, "role", "r0")
	cmd.Env = append(os.Environ(), "FAKE_DRBD_STATE=")
	if err := cmd.Run(); err == nil {
		t.Error("ran without FAKE_DRBD_STATE")
	}
}
