package config

import "testing"

func TestMetricsListen(t *testing.T) {
	if cfg, l := parseString(t, minimal); cfg.MetricsListen != "" || l.HasErrors() {
		t.Fatalf("default: %q %v", cfg.MetricsListen, findingStrings(l))
	}
	for _, ok := range []string{"127.0.0.1:9694", ":9694", "[::1]:9694", "localhost:9694"} {
		if cfg, l := parseString(t, minimal+"metrics_listen "+ok+"\n"); cfg.MetricsListen != ok || len(l) > 0 {
			t.Errorf("metrics_listen %s: got %q, %v", ok, cfg.MetricsListen, findingStrings(l))
		}
	}
	for bad, msg := range map[string]string{
		"9694":            `ha.cf:5: error: metrics_listen: "9694" is not ADDRESS:PORT`,
		"127.0.0.1:http":  `port "http" is not a number from 1 to 65535`,
		"127.0.0.1:70000": `port "70000" is not a number`,
		"":                "metrics_listen: missing value",
	} {
		cfg, l := parseString(t, minimal+"metrics_listen "+bad+"\n")
		wantFinding(t, l, msg)
		if cfg.MetricsListen != "" {
			t.Errorf("metrics_listen %q kept as %q", bad, cfg.MetricsListen)
		}
	}
}
