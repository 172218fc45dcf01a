// Command fuzzlist prints every fuzz target of the module as
// "PKGDIR:FuzzName:EXECS", one per line, so `make fuzz` runs each of them (go
// test -fuzz accepts only one target per invocation) without a hand-kept list
// that drifts.
//
// EXECS is the target's budget in executions, for `-fuzztime EXECSx`. A
// wall-clock -fuzztime races Go's fuzz coordinator (go.dev/issue/75804, not
// fixed in any Go 1.26 release): when the deadline fires while a worker is
// mid-call, the target fails with a bare "context deadline exceeded" and no
// crasher. CI hit it. A count has no deadline to race. The default suits a
// target that runs tens of thousands of inputs a second; a slower target says
// its own budget in a "// fuzz-execs: N" line of its doc comment, sized to
// roughly 15 s on two cores.
package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var (
	fuzzFunc  = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)
	execsLine = regexp.MustCompile(`^//\s*fuzz-execs:\s*([0-9]+)\s*$`)
)

// defaultExecs is about 10 s of a fast target (50 000 inputs/s) on two cores.
const defaultExecs = 500000

func main() {
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "vendor" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		execs := ""
		for sc.Scan() {
			line := sc.Text()
			if m := execsLine.FindStringSubmatch(line); m != nil {
				execs = m[1]
				continue
			}
			if m := fuzzFunc.FindStringSubmatch(line); m != nil {
				if execs == "" {
					execs = fmt.Sprint(defaultExecs)
				}
				out = append(out, "./"+filepath.Dir(path)+":"+m[1]+":"+execs)
			}
			// A budget belongs to the doc comment right above its function.
			if !strings.HasPrefix(line, "//") {
				execs = ""
			}
		}
		return sc.Err()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzlist:", err)
		os.Exit(1)
	}
	sort.Strings(out)
	for _, s := range out {
		fmt.Println(s)
	}
}
