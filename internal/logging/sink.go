package logging

import (
	"fmt"
	"sync/atomic"
	"time"
)

// QueueLen is how many lines each sink holds for its writer. At a few
// hundred bytes a line that is a few hundred kB per sink: enough for a burst
// (a takeover logs a few dozen lines), small enough that a sink stuck for
// good costs little memory.
const QueueLen = 1024

// drainWait bounds how long Close and Flush wait for a sink's writer, and how
// long a new sink waits for the one it replaces (Reconfigure) before writing.
const drainWait = 2 * time.Second

// sinkWriter is one destination: stderr, a log file, the syslog socket. Its
// methods run on the sink's writer goroutine only, so they may block.
type sinkWriter interface {
	// write writes one line, already in the destination's format.
	write(line []byte) error
	// own formats a line of the logging package itself (the drop report)
	// in the destination's format.
	own(text string) []byte
	// close releases the destination; the writer calls it once, last.
	close() error
}

// record is one queue entry: a line, or a Flush marker.
type record struct {
	line []byte
	// gap is how many lines were dropped, for a full queue, right before
	// this one: the drop report goes where the hole is.
	gap   uint64
	flush chan struct{} // a marker: closed once every line before it is out
}

// sink puts one destination behind a bounded queue and a writer goroutine,
// so that a slow or stuck destination (a full pipe on stderr, a log file on
// a hung NFS mount, a syslog socket nobody reads) costs its own lines, never
// the caller's time: the daemon's main loop logs between keepalives.
//
// Lines that find the queue full are dropped and counted; so are lines the
// destination refused. Once the writer can write again it writes its own
// line, "logging: N lines dropped, sink NAME slow" (queue full) or
// "... unavailable" (write failed), where the lines are missing.
type sink struct {
	name  string
	w     sinkWriter
	queue chan record // never closed: a racing put must not panic
	quit  chan struct{}
	done  chan struct{} // closed when the writer has exited

	closed  atomic.Bool
	dropped atomic.Uint64 // every line lost, for Dropped
	gap     atomic.Uint64 // queue-full drops not yet attached to a queued line
	// werr is the destination's close error, set before done is closed
	// and read only after.
	werr error
}

// newSink starts the writer. With after set, the writer holds its lines
// until after is closed (or drainWait passed): a sink replacing another
// for the same file must not write before the old queue is out.
func newSink(name string, w sinkWriter, after <-chan struct{}) *sink {
	s := &sink{name: name, w: w, queue: make(chan record, QueueLen),
		quit: make(chan struct{}), done: make(chan struct{})}
	go s.run(after)
	return s
}

// put queues one line; it never blocks.
func (s *sink) put(line []byte) {
	if s.closed.Load() {
		s.dropped.Add(1)
		return
	}
	gap := s.gap.Swap(0)
	select {
	case s.queue <- record{line: line, gap: gap}:
	default:
		s.gap.Add(gap + 1)
		s.dropped.Add(1)
	}
}

func (s *sink) run(after <-chan struct{}) {
	defer close(s.done)
	defer func() { s.werr = s.w.close() }()
	if after != nil {
		t := time.NewTimer(drainWait)
		select {
		case <-after:
		case <-t.C:
		}
		t.Stop()
	}
	var slow, failed uint64 // drops not yet reported
	handle := func(r record) {
		slow += r.gap
		if r.flush != nil {
			slow += s.gap.Swap(0)
			s.report(&slow, &failed)
			close(r.flush)
			return
		}
		s.report(&slow, &failed)
		if err := s.w.write(r.line); err != nil {
			failed++
			s.dropped.Add(1)
		}
	}
	for {
		select {
		case r := <-s.queue:
			handle(r)
		case <-s.quit:
			for {
				select {
				case r := <-s.queue:
					handle(r)
				default:
					slow += s.gap.Swap(0)
					s.report(&slow, &failed)
					return
				}
			}
		}
	}
}

// report writes the drop lines that are due; a count whose line could not
// be written stays due.
func (s *sink) report(slow, failed *uint64) {
	if *slow > 0 && s.w.write(s.w.own(dropLine(*slow, s.name, "slow"))) == nil {
		*slow = 0
	}
	if *failed > 0 && s.w.write(s.w.own(dropLine(*failed, s.name, "unavailable"))) == nil {
		*failed = 0
	}
}

func dropLine(n uint64, name, why string) string {
	if n == 1 {
		return fmt.Sprintf("logging: 1 line dropped, sink %s %s", name, why)
	}
	return fmt.Sprintf("logging: %d lines dropped, sink %s %s", n, name, why)
}

// flush waits until every line queued before it has been written (or
// dropped, and the drop reported), or until deadline. It reports whether
// the sink drained.
func (s *sink) flush(deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	marker := make(chan struct{})
	select {
	case s.queue <- record{flush: marker}:
	case <-s.done:
		return true
	case <-t.C:
		return false
	}
	select {
	case <-marker:
		return true
	case <-s.done:
		return true
	case <-t.C:
		return false
	}
}

// close stops the sink: lines put from now on are dropped, the queue is
// written out and the destination closed. With wait false it returns at
// once (the writer finishes on its own); otherwise it waits until
// deadline and reports whether the writer finished.
func (s *sink) close(wait bool, deadline time.Time) bool {
	if s.closed.CompareAndSwap(false, true) {
		close(s.quit)
	}
	if !wait {
		return false
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-s.done:
		return true
	case <-t.C:
		return false
	}
}

// closeErr is the destination's close error; call it only once done is
// closed.
func (s *sink) closeErr() error { return s.werr }

// allDone is closed once every sink in sinks has finished; it is never
// closed if one is still busy after drainWait (a stuck destination).
func allDone(sinks []*sink) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		t := time.NewTimer(drainWait)
		defer t.Stop()
		for _, s := range sinks {
			select {
			case <-s.done:
			case <-t.C:
				return
			}
		}
		close(ch)
	}()
	return ch
}
