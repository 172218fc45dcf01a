package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../../ha.cf.example from the directive table")

// The shipped example must be exactly what the table generates (run
// `go test ./internal/config -run TestExample -update` after editing the
// table), and it must parse cleanly as the example cluster's node1.
func TestExampleIsGeneratedAndValid(t *testing.T) {
	path := filepath.Join("..", "..", "ha.cf.example")
	want := ExampleHACF()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with the directive table; run: go test ./internal/config -run TestExample -update", path)
	}
	cfg, l := ParseHACF(strings.NewReader(want), "ha.cf.example")
	l = append(l, cfg.Validate("node1")...)
	if l.HasErrors() {
		t.Fatalf("example does not parse: %v", l.Err())
	}
	for _, d := range Directives {
		if !strings.Contains(want, "# "+d.Name) {
			t.Errorf("directive %s is not documented in the example", d.Name)
		}
	}
	if cfg.Keepalive.Seconds() != 2 || len(cfg.Media) != 2 || len(cfg.Nodes) != 2 {
		t.Errorf("example values: keepalive %v, %d media, %d nodes", cfg.Keepalive, len(cfg.Media), len(cfg.Nodes))
	}
}
