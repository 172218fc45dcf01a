package authlimit

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

// A misconfigured peer (wrong authkeys) sending a status every second: its
// first failure is logged on its own, the rest are counted, and after the
// interval one summary line gives the count and starts a new interval in
// which the peer is logged again.
func TestOnePeerLoggedOncePerInterval(t *testing.T) {
	tb := New(0, 0)
	if tb.Size() != DefaultSources {
		t.Fatalf("size %d, want %d", tb.Size(), DefaultSources)
	}
	if _, ok := tb.Due(); ok {
		t.Fatal("due with nothing noted")
	}
	if !tb.Note(at(0), "pa1", "eth0") {
		t.Fatal("first failure not logged")
	}
	for i := 1; i < 10; i++ {
		if tb.Note(at(time.Duration(i)*time.Second), "pa1", "eth0") {
			t.Fatalf("failure %d logged again within the interval", i)
		}
		if line, ok := tb.Summary(at(time.Duration(i) * time.Second)); ok {
			t.Fatalf("summary %q before the interval ended", line)
		}
	}
	if due, ok := tb.Due(); !ok || !due.Equal(at(10*time.Second)) {
		t.Fatalf("due %v %v, want +10s", due, ok)
	}
	line, ok := tb.Summary(at(10 * time.Second))
	if want := "10 packets failed authentication from 1 source in the last 10s"; !ok || line != want {
		t.Fatalf("summary %q %v, want %q", line, ok, want)
	}
	if line, ok := tb.Summary(at(30 * time.Second)); ok {
		t.Fatalf("second summary %q without new failures", line)
	}
	if _, ok := tb.Due(); ok {
		t.Fatal("due after the summary with nothing new")
	}
	if !tb.Note(at(31*time.Second), "pa1", "eth0") {
		t.Fatal("peer not logged again in the next interval")
	}
	// A late Summary says how long the interval really was.
	line, ok = tb.Summary(at(45 * time.Second))
	if want := "1 packet failed authentication from 1 source in the last 14s"; !ok || line != want {
		t.Fatalf("late summary %q %v, want %q", line, ok, want)
	}
}

// The same source on a second link gets its own line (it tells the admin
// both links carry the bad packets) but counts as one source.
func TestSourceOnTwoLinks(t *testing.T) {
	tb := New(time.Second, 4)
	for _, c := range []struct {
		src, link string
		want      bool
	}{{"pa1", "eth0", true}, {"pa1", "eth1", true}, {"pa1", "eth0", false}, {"pb", "eth0", true}, {"pa1", "eth1", false}} {
		if got := tb.Note(at(0), c.src, c.link); got != c.want {
			t.Errorf("Note(%s, %s) = %v, want %v", c.src, c.link, got, c.want)
		}
	}
	line, ok := tb.Summary(at(time.Second))
	if want := "5 packets failed authentication from 2 sources in the last 1s"; !ok || line != want {
		t.Fatalf("summary %q %v, want %q", line, ok, want)
	}
}

// Past the table's size new sources are counted but not logged, and the
// summary says "more than" instead of a count it cannot know.
func TestFullTableStopsIndividualLines(t *testing.T) {
	tb := New(10*time.Second, 3)
	logged := 0
	for i := 0; i < 10; i++ {
		if tb.Note(at(time.Duration(i)*time.Millisecond), fmt.Sprintf("forged%d", i), "eth0") {
			logged++
		}
	}
	if logged != 3 || tb.Len() != 3 {
		t.Fatalf("%d lines, %d slots; want 3 and 3", logged, tb.Len())
	}
	// A source already in the table stays quiet; one that is not, too.
	if tb.Note(at(time.Second), "forged1", "eth0") || tb.Note(at(time.Second), "forged9", "eth0") {
		t.Fatal("logged with the table full")
	}
	line, ok := tb.Summary(at(10 * time.Second))
	if want := "12 packets failed authentication from more than 3 sources in the last 10s"; !ok || line != want {
		t.Fatalf("summary %q %v, want %q", line, ok, want)
	}
	if tb.Len() != 0 {
		t.Fatalf("%d slots in use after the summary", tb.Len())
	}
	if !tb.Note(at(11*time.Second), "forged9", "eth0") {
		t.Fatal("a new interval does not log a new source")
	}
}

// A clock that steps back does not hold the summary back by the step.
func TestClockStepsBack(t *testing.T) {
	tb := New(10*time.Second, 0)
	tb.Note(at(time.Hour), "pa1", "eth0")
	tb.Note(at(0), "pa1", "eth0")
	if due, _ := tb.Due(); !due.Equal(at(10 * time.Second)) {
		t.Fatalf("due %v after the step back, want +10s", due)
	}
	if _, ok := tb.Summary(at(10 * time.Second)); !ok {
		t.Fatal("no summary an interval after the step back")
	}
}

// 200,000 forged sources, with long names, never hold more than the table's
// slots and MaxSrcLen bytes per name, and log no more than the table size
// per interval, plus one summary line.
func TestMemoryBoundedUnderFlood(t *testing.T) {
	tb := New(10*time.Second, 0)
	long := strings.Repeat("x", 4096)
	logged, summaries := 0, 0
	for i := 0; i < 200_000; i++ {
		now := at(time.Duration(i) * 100 * time.Microsecond) // 20 s in all
		if tb.Note(now, fmt.Sprintf("%d%s", i, long), "eth0") {
			logged++
		}
		if tb.Len() > DefaultSources {
			t.Fatalf("after %d sources: %d slots", i+1, tb.Len())
		}
		if _, ok := tb.Summary(now); ok {
			summaries++
		}
	}
	held := 0
	for _, e := range tb.slots {
		held += len(e.src)
	}
	if held > DefaultSources*MaxSrcLen || cap(tb.slots) != DefaultSources {
		t.Fatalf("holding %d bytes of names in %d slots", held, cap(tb.slots))
	}
	// Two intervals: the first, from 0 to 10 s, summed up at 10 s; the
	// second began at 10.0001 s and is not over at the last note.
	if logged != 2*DefaultSources || summaries != 1 {
		t.Fatalf("%d individual lines and %d summaries, want %d and 1", logged, summaries, 2*DefaultSources)
	}
	line, ok := tb.Summary(at(20*time.Second + 100*time.Microsecond))
	if want := "99999 packets failed authentication from more than 16 sources in the last 10s"; !ok || line != want {
		t.Fatalf("summary %q %v, want %q", line, ok, want)
	}
}

// Note does not allocate once the table is full (the flood case), and
// only for the copy of a new name otherwise.
func TestNoteAllocations(t *testing.T) {
	tb := New(time.Hour, 0)
	for i := 0; i < DefaultSources; i++ {
		tb.Note(t0, fmt.Sprint(i), "eth0")
	}
	srcs := []string{"a", "b", "c", "0"}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		tb.Note(t0, srcs[i%len(srcs)], "eth0")
		i++
	}); n != 0 {
		t.Fatalf("%v allocations per Note with the table full", n)
	}
}

func BenchmarkNote(b *testing.B) {
	srcs := make([]string, 1024)
	for i := range srcs {
		srcs[i] = fmt.Sprintf("forged-%d", i)
	}
	tb := New(0, 0)
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Microsecond)
		tb.Note(now, srcs[i%len(srcs)], "eth0")
		if i%1024 == 0 {
			tb.Summary(now)
		}
	}
}
