package script

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"heartbeatd/internal/clock"
	"heartbeatd/internal/level"
)

// logRecord is one Logger call.
type logRecord struct {
	entity string
	level  level.Level
	text   string
}

func (r logRecord) String() string { return r.entity + " " + string(r.level) + ": " + r.text }

type recLogger struct {
	mu   sync.Mutex
	recs []logRecord
}

func (l *recLogger) Log(entity string, lv level.Level, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, logRecord{entity, lv, text})
}

func (l *recLogger) records() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), l.recs...)
}

// ofEntity returns "level: text" of the records logged under entity,
// leaving out debug lines unless withDebug.
func (l *recLogger) ofEntity(entity string, withDebug bool) []string {
	var out []string
	for _, r := range l.records() {
		if r.entity == entity && (withDebug || r.level != LevelDebug) {
			out = append(out, string(r.level)+": "+r.text)
		}
	}
	return out
}

// count is how many records have exactly this level and text.
func (l *recLogger) count(lv level.Level, text string) int {
	n := 0
	for _, r := range l.records() {
		if r.level == lv && r.text == text {
			n++
		}
	}
	return n
}

func (l *recLogger) contains(lv level.Level, text string) bool { return l.count(lv, text) > 0 }

// writeScript puts an executable /bin/sh script into dir.
func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// resourceScript is a well-behaved R1 script keeping its state in a file:
// it journals every call, prints "running"/"stopped" for status, and can be
// told to fail: $STATE/<name>.failstart makes start fail; a number in
// $STATE/<name>.failstop makes that many stops fail (999: for ever);
// $STATE/<name>.liar makes status say stopped whatever the state.
const resourceScript = `name=$(basename "$0")
for a; do action=$a; done
echo "$name $*" >> "$STATE/journal"
state="$STATE/$name.up"
case $action in
start)
	[ -f "$STATE/$name.failstart" ] && { echo "start of $name failed" >&2; exit 1; }
	touch "$state" ;;
stop)
	if [ -f "$STATE/$name.failstop" ]; then
		n=$(cat "$STATE/$name.failstop")
		if [ "$n" -gt 0 ]; then
			[ "$n" -lt 999 ] && echo $((n - 1)) > "$STATE/$name.failstop"
			echo "stop of $name failed" >&2
			exit 1
		fi
	fi
	rm -f "$state" ;;
status)
	if [ -f "$state" ] && ! [ -f "$STATE/$name.liar" ]; then echo running; else echo stopped; fi ;;
esac
exit 0
`

// testbed is a resource dir with resourceScript installed under some names.
type testbed struct {
	t      *testing.T
	dir    string // scripts
	state  string // $STATE
	log    *recLogger
	runner *Runner
}

func newTestbed(t *testing.T, names ...string) *testbed {
	t.Helper()
	tb := &testbed{t: t, dir: t.TempDir(), state: t.TempDir(), log: &recLogger{}}
	for _, n := range names {
		writeScript(t, tb.dir, n, resourceScript)
	}
	tb.runner = &Runner{
		Dirs: []string{tb.dir},
		Env:  []string{"STATE=" + tb.state},
		Log:  tb.log,
	}
	return tb
}

func (tb *testbed) journal() []string {
	b, err := os.ReadFile(filepath.Join(tb.state, "journal"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (tb *testbed) setState(name, suffix, content string) {
	tb.t.Helper()
	if err := os.WriteFile(filepath.Join(tb.state, name+suffix), []byte(content), 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func (tb *testbed) isUp(name string) bool {
	_, err := os.Stat(filepath.Join(tb.state, name+".up"))
	return err == nil
}

func fmtLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "\t%s\n", l)
	}
	return b.String()
}

// steppedClock is a fake clock that reports every wait, so a test can
// advance it exactly when the code under test is waiting: no sleeps.
type steppedClock struct {
	*clock.Fake
	waits chan time.Duration
}

func newSteppedClock() *steppedClock {
	return &steppedClock{Fake: clock.NewFake(time.Unix(1_000_000, 0)), waits: make(chan time.Duration)}
}

func (c *steppedClock) After(d time.Duration) <-chan time.Time {
	ch := c.Fake.After(d)
	c.waits <- d
	return ch
}
