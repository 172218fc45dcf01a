package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const sample = `# A comment before the first block.

advance 1s
recv pa2 eth1 t=repnodes nodelist="pa1 pa2 " delnodelist=" "
----
@1.000s send t=status
@1.000s log WARN: something

# An empty output.
tick
----

nodes
----
pa1 active
# trailing comment
`

func TestParseBlocks(t *testing.T) {
	f, err := Parse("sample.txt", sample)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Blocks) != 3 {
		t.Fatalf("%d blocks, want 3", len(f.Blocks))
	}
	b := f.Blocks[0]
	if len(b.Cmds) != 2 || b.Cmds[0].Name != "advance" || b.Cmds[1].Line != 4 || b.Sep != 5 {
		t.Fatalf("first block %+v", b)
	}
	recv := b.Cmds[1]
	if d := cmp.Diff([]string{"pa2", "eth1"}, recv.Pos()); d != "" {
		t.Errorf("positional args (-want +got):\n%s", d)
	}
	want := []KV{{"t", "repnodes"}, {"nodelist", "pa1 pa2 "}, {"delnodelist", " "}}
	if d := cmp.Diff(want, recv.KVs()); d != "" {
		t.Errorf("key=value args (-want +got):\n%s", d)
	}
	if v, ok := recv.Get("nodelist"); !ok || v != "pa1 pa2 " {
		t.Errorf("Get(nodelist) = %q, %v", v, ok)
	}
	if len(f.Blocks[1].Output) != 0 {
		t.Errorf("empty output read as %q", f.Blocks[1].Output)
	}
	if d := cmp.Diff([]string{"pa1 active", "# trailing comment"}, f.Blocks[2].Output); d != "" {
		t.Errorf("an output line starting with # is output, not a comment (-want +got):\n%s", d)
	}
}

// Format gives a canonical file back byte for byte: -rewrite of an
// unchanged scenario must not touch the file.
func TestFormatRoundTrip(t *testing.T) {
	f, err := Parse("sample.txt", sample)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Format(); got != sample {
		t.Fatalf("Format changed the file:\n%s", cmp.Diff(sample, got))
	}
	// New output lines, and a block that gets output where it had none.
	f.Blocks[1].Output = []string{"@1.000s comm-up"}
	again, err := Parse("sample.txt", f.Format())
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Format(); got != f.Format() {
		t.Fatalf("rewritten file reads back differently:\n%s", cmp.Diff(f.Format(), got))
	}
	if d := cmp.Diff([]string{"@1.000s comm-up"}, again.Blocks[1].Output); d != "" {
		t.Fatalf("new output (-want +got):\n%s", d)
	}
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"no separator":        "# c\nstart\n",
		"separator first":     "----\nout\n",
		"unterminated quote":  "recv x=\"abc\n----\n",
		"command after block": "start\n----\n\ntick\n",
	} {
		if _, err := Parse(name, text); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "plain",
		"a b":       `"a b"`,
		"":          `""`,
		`say "hi"`:  `"say \"hi\""`,
		"tab\there": `"tab\there"`,
		"ü":         "ü",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
		c, err := parseCmd("x k="+Quote(in), 1)
		if err != nil || len(c.Args) != 1 || c.Args[0] != "k="+in {
			t.Errorf("%q does not read back: %+v %v", in, c, err)
		}
	}
}

func TestClock(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(base)
	tick := func() []string { return Render(c, []string{"tick"}, strings.ToUpper) }
	every := func() time.Time { return c.Now.Truncate(400 * time.Millisecond).Add(400 * time.Millisecond) }
	out, handled, err := c.TimeCmd(Cmd{Name: "advance", Args: []string{"1s"}}, every, tick)
	if !handled || err != nil {
		t.Fatalf("advance: handled %v err %v", handled, err)
	}
	if d := cmp.Diff([]string{"@0.400s TICK", "@0.800s TICK"}, out); d != "" {
		t.Errorf("advance output (-want +got):\n%s", d)
	}
	if c.Now != base.Add(time.Second) {
		t.Errorf("now %s after advance 1s", c.Stamp(c.Now))
	}
	if out, _, err := c.TimeCmd(Cmd{Name: "at", Args: []string{"+250ms"}}, every, tick); err != nil || len(out) != 0 {
		t.Errorf("at +250ms: %v %v (at never ticks)", out, err)
	}
	if _, _, err := c.TimeCmd(Cmd{Name: "at", Args: []string{"2s"}}, every, tick); err != nil || c.Now != base.Add(2*time.Second) {
		t.Errorf("at 2s (since the base): now %s, err %v", c.Stamp(c.Now), err)
	}
	if _, _, err := c.TimeCmd(Cmd{Name: "at", Args: []string{"1s"}}, every, tick); err == nil || !strings.Contains(err.Error(), "cannot go back") {
		t.Errorf("at 1s after 2s: err %v", err)
	}
	if _, handled, _ := c.TimeCmd(Cmd{Name: "tick"}, every, tick); handled {
		t.Error("TimeCmd took a command that is not a clock command")
	}
	stuck := func() time.Time { return c.Now }
	if _, err := c.Advance(c.Now.Add(time.Second), stuck, tick); err == nil {
		t.Error("a core whose next wake-up never moves is not reported")
	}
}

func TestLineDiff(t *testing.T) {
	if d := lineDiff([]string{"a"}, []string{"a"}); d != "" {
		t.Errorf("equal outputs: %q", d)
	}
	got := lineDiff([]string{"a", "b", "c"}, []string{"a", "x", "c", "d"})
	want := "  a\n- b\n+ x\n  c\n+ d\n"
	if got != want {
		t.Errorf("lineDiff:\n%s\nwant:\n%s", got, want)
	}
}
