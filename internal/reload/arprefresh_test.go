package reload

import (
	"slices"
	"strings"
	"testing"

	"heartbeatd/internal/agent"
	"heartbeatd/internal/config"
)

// ha.cf's arp_refresh reaches the resource scripts as HA_ARP_REFRESH_MS,
// and is absent when the directive is.
func TestScriptEnvARPRefresh(t *testing.T) {
	for _, tc := range []struct {
		hacf string
		want string
	}{
		{"node a b\nbcast eth0\narp_refresh 30s\n", agent.EnvARPRefresh + "=30000"},
		{"node a b\nbcast eth0\n", ""},
	} {
		cfg, l := config.ParseHACF(strings.NewReader(tc.hacf), "ha.cf")
		if l.HasErrors() {
			t.Fatal(l.Err())
		}
		env := (&Set{Cfg: cfg}).ScriptEnv("a", "/usr/sbin/heartbeatd", 42)
		got := ""
		if i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, agent.EnvARPRefresh+"=") }); i >= 0 {
			got = env[i]
		}
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.hacf, got, tc.want)
		}
	}
}
