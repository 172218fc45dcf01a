// Package authlimit accounts for packets that fail authentication without
// letting a forger decide how much memory or log the daemon spends on them.
//
// The src of a forged packet is whatever the forger wrote, so a table keyed
// by it grows by one entry per made-up name: 200,000 forged sources used to
// mean 200,000 entries, kept forever. Here the table has a fixed number of
// slots (DefaultSources). Within one interval (DefaultInterval) the first
// failure of each source on each link is logged on its own line, as long as
// the table has room; everything else is only counted, and once the
// interval is over Summary gives one line with the totals and starts
// afresh. A flood therefore costs at most Sources+1 log lines per interval,
// and a misconfigured peer (wrong authkeys) is still named in the log.
//
// Like the protocol cores, the package reads no clock: the caller passes
// the time with every call. It is not safe for concurrent use; the daemon
// calls it from its main loop only.
package authlimit

import (
	"fmt"
	"time"
)

const (
	// DefaultInterval is how often Summary reports at most.
	DefaultInterval = 10 * time.Second
	// DefaultSources is how many sources an interval names one by one.
	DefaultSources = 16
	// MaxSrcLen bounds a stored source name (bytes); longer names are cut.
	MaxSrcLen = 64
)

// entry is one source seen on one link in the current interval.
type entry struct {
	src, link string
}

// Table is the failed-authentication accounting of one interval.
type Table struct {
	interval time.Duration
	slots    []entry // len is the number in use, cap the table size

	open     bool      // an interval is under way (a failure was noted)
	start    time.Time // when the interval began: its first failure
	packets  uint64    // failures noted in the interval
	overflow bool      // a source did not fit in the table
}

// New returns a table with the given interval and number of source slots;
// zero or negative values take DefaultInterval and DefaultSources.
func New(interval time.Duration, sources int) *Table {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if sources <= 0 {
		sources = DefaultSources
	}
	return &Table{interval: interval, slots: make([]entry, 0, sources)}
}

// Note counts one packet from src (the packet's own, unverified src
// field) received on link that failed authentication at now. It reports
// whether the caller should log a line for it: true for the first failure
// of src on link in the current interval, while the table has room for
// it. A source that finds the table full is counted, never logged alone.
func (t *Table) Note(now time.Time, src, link string) (logNow bool) {
	if !t.open {
		t.open, t.start = true, now
	} else if now.Before(t.start) {
		// The clock stepped back: restart the interval's timing rather
		// than wait out the step.
		t.start = now
	}
	t.packets++
	if len(src) > MaxSrcLen {
		src = src[:MaxSrcLen]
	}
	for _, e := range t.slots {
		if e.src == src && e.link == link {
			return false
		}
	}
	if len(t.slots) == cap(t.slots) {
		t.overflow = true
		return false
	}
	// Copies, so that a stored name never pins the packet buffer it was
	// sliced from.
	t.slots = append(t.slots, entry{src: clone(src), link: clone(link)})
	return true
}

func clone(s string) string { return string([]byte(s)) }

// Due returns when Summary will next have a line, if any failure has been
// noted since the last one, so that the caller can wake up for it.
func (t *Table) Due() (time.Time, bool) {
	if !t.open {
		return time.Time{}, false
	}
	return t.start.Add(t.interval), true
}

// Summary returns the interval's line once the interval is over (at the
// earliest Due), and then starts a new interval: the next failure of every
// source is logged again. It returns ok false while the interval runs or
// when nothing failed.
//
// The line counts packets exactly and sources exactly while they fit in
// the table; beyond that it says "more than N". The length printed is the
// interval's real one: longer than the configured interval when Summary is
// called late.
func (t *Table) Summary(now time.Time) (line string, ok bool) {
	if !t.open {
		return "", false
	}
	if now.Before(t.start) {
		t.start = now
	}
	elapsed := now.Sub(t.start)
	if elapsed < t.interval {
		return "", false
	}
	var sources string
	if t.overflow {
		sources = fmt.Sprintf("more than %d sources", cap(t.slots))
	} else {
		sources = plural(uint64(t.distinctSources()), "source")
	}
	line = fmt.Sprintf("%s failed authentication from %s in the last %s",
		plural(t.packets, "packet"), sources, seconds(elapsed))
	t.reset()
	return line, true
}

// distinctSources counts the sources in the table: one source that failed
// on two links holds two slots.
func (t *Table) distinctSources() int {
	n := 0
outer:
	for i, e := range t.slots {
		for _, f := range t.slots[:i] {
			if f.src == e.src {
				continue outer
			}
		}
		n++
	}
	return n
}

func (t *Table) reset() {
	clear(t.slots) // drop the names for the collector
	t.slots = t.slots[:0]
	t.open, t.start, t.packets, t.overflow = false, time.Time{}, 0, false
}

// Len is how many slots are in use; never more than the table size.
func (t *Table) Len() int { return len(t.slots) }

// Size is the table's number of slots.
func (t *Table) Size() int { return cap(t.slots) }

func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// seconds prints a duration as whole seconds ("10s"), as admins read it
// next to the interval; under a second (tests) it prints as is.
func seconds(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	return fmt.Sprintf("%ds", int64(d.Round(time.Second)/time.Second))
}
