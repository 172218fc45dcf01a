package scenario

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// rewrite is registered in every test binary that imports this package, so
// `go test ./internal/rm/ -run Scenario -rewrite` works in each of them.
var rewrite = flag.Bool("rewrite", false, "scenario tests: write the actual output into the files instead of comparing")

// Core is the state machine under test, wrapped by its package's test:
// it carries out the commands of a file and renders what the machine did.
type Core interface {
	// Do carries out one command other than the clock commands (see
	// TimeCmd), at the clock's current instant. An error is a mistake in
	// the scenario file (unknown command, bad argument), not a behaviour
	// under test: behaviour is rendered as output so that it is compared
	// and rewritten like everything else.
	Do(c Cmd) ([]string, error)
	// NextWake is when the machine next wants a tick; zero: never.
	NextWake() time.Time
	// Tick steps the machine with its tick event at the current instant.
	Tick() []string
}

// Run runs every *.txt file in dir as a subtest named after the file, each
// on a fresh clock starting at base and a fresh core. Without -rewrite,
// each block's output is compared with the file; with it, the files are
// rewritten with what the commands produced (comments and commands are
// kept as written).
func Run(t *testing.T, dir string, base time.Time, newCore func(clk *Clock) Core) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no scenario files in %s", dir)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			clk := NewClock(base)
			runFile(t, path, clk, newCore(clk))
		})
	}
}

func runFile(t *testing.T, path string, clk *Clock, core Core) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(path, string(data))
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Blocks {
		blk := &f.Blocks[i]
		var got []string
		for _, c := range blk.Cmds {
			out, handled, err := clk.TimeCmd(c, core.NextWake, core.Tick)
			if !handled {
				out, err = core.Do(c)
			}
			if err != nil {
				t.Fatalf("%s:%d: %s: %v", path, c.Line, c.Name, err)
			}
			got = append(got, out...)
		}
		if *rewrite {
			blk.Output = got
			continue
		}
		if d := lineDiff(blk.Output, got); d != "" {
			t.Errorf("%s:%d: output differs (-want +got; go test -run %s -rewrite updates the file):\n%s", path, blk.Sep, t.Name(), d)
		}
	}
	if *rewrite {
		if out := f.Format(); out != string(data) {
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Render renders a step's actions one per line, each stamped with the
// current instant, so that a block mixing clock moves and events reads as
// a timeline.
func Render[A any](c *Clock, acts []A, render func(A) string) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = c.Stamp(c.Now) + " " + render(a)
	}
	return out
}

// lineDiff shows want and got line by line, "-" for a line only in want,
// "+" only in got, " " in both (longest common subsequence; outputs are a
// few dozen lines). Whole lines, never cut: the difference in a long log
// line is often at its end. "" when they are equal.
func lineDiff(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	// lcs[i][j]: length of the longest common subsequence of want[i:], got[j:].
	lcs := make([][]int, len(want)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(got)+1)
	}
	for i := len(want) - 1; i >= 0; i-- {
		for j := len(got) - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case i < len(want) && j < len(got) && want[i] == got[j]:
			b.WriteString("  " + want[i] + "\n")
			i, j = i+1, j+1
		case i < len(want) && (j == len(got) || lcs[i+1][j] >= lcs[i][j+1]):
			b.WriteString("- " + want[i] + "\n")
			i++
		default:
			b.WriteString("+ " + got[j] + "\n")
			j++
		}
	}
	return b.String()
}

// Clock is a scenario's fake time: a fixed base, so that every run renders
// the same times, and the current instant.
type Clock struct {
	Base, Now time.Time
}

// NewClock starts a clock at base.
func NewClock(base time.Time) *Clock { return &Clock{Base: base, Now: base} }

// Stamp renders an instant as the time since the base, "@12.250s".
func (c *Clock) Stamp(at time.Time) string {
	return fmt.Sprintf("@%.3fs", at.Sub(c.Base).Seconds())
}

// Target parses the argument of "advance D" or "at +D" / "at D": a
// duration relative to now ("600ms", "+600ms") or, for at without a plus
// sign, an instant since the base ("at 12s"). Time never goes back.
func (c *Clock) Target(arg string, relative bool) (time.Time, error) {
	rel := relative || strings.HasPrefix(arg, "+")
	d, err := time.ParseDuration(strings.TrimPrefix(arg, "+"))
	if err != nil {
		return time.Time{}, err
	}
	at := c.Base.Add(d)
	if rel {
		at = c.Now.Add(d)
	}
	if d < 0 || at.Before(c.Now) {
		return time.Time{}, fmt.Errorf("time cannot go back: %s is before now (%s)", c.Stamp(at), c.Stamp(c.Now))
	}
	return at, nil
}

// Advance runs the clock to end. next says when the core next wants a
// tick (zero: never); tick steps it at the current instant (c.Now) and
// renders what it did. Every tick due up to and including end runs.
func (c *Clock) Advance(end time.Time, next func() time.Time, tick func() []string) ([]string, error) {
	var out []string
	last := time.Time{}
	for {
		w := next()
		if w.IsZero() || w.After(end) {
			break
		}
		if w.Before(c.Now) {
			w = c.Now // overdue (the clock was moved by "at"): tick now
		}
		if w.Equal(last) {
			return out, fmt.Errorf("a tick at %s left the next wake-up at the same instant", c.Stamp(w))
		}
		last = w
		c.Now = w
		out = append(out, tick()...)
	}
	c.Now = end
	return out, nil
}

// TimeCmd carries out the clock commands every scenario file may use:
//
//	advance D   run the clock D forward, ticking whenever next says
//	at +D       move the clock D forward without ticking (an event lands
//	at D        exactly then); without "+", D is since the base
//
// handled is false for any other command.
func (c *Clock) TimeCmd(cmd Cmd, next func() time.Time, tick func() []string) (out []string, handled bool, err error) {
	if cmd.Name != "advance" && cmd.Name != "at" {
		return nil, false, nil
	}
	if len(cmd.Args) != 1 {
		return nil, true, fmt.Errorf("usage: %s DURATION", cmd.Name)
	}
	end, err := c.Target(cmd.Args[0], cmd.Name == "advance")
	if err != nil {
		return nil, true, err
	}
	if cmd.Name == "at" {
		c.Now = end
		return nil, true, nil
	}
	out, err = c.Advance(end, next, tick)
	return out, true, err
}
