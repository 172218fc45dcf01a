package state

import (
	"sort"
	"sync"
)

// Saver writes a Peers' records on a goroutine of its own, so that the
// daemon's loop never waits for the disk. A durable record is a synced new
// file and a rename: about a millisecond on an idle disk, and much more on
// one busy with a DRBD resync or a RAID check. The record of a peer's death
// comes in the same step as the takeover it starts, and a loop stopped in
// fsync runs neither the takeover's first script nor its keepalives.
//
// A live peer's periodic record, the common case, is still written by Put
// itself when no other write is under way or queued: it is one pwrite into
// the page cache (Peers.Put), and handing it to the writer would wake a
// second thread every second of an idle cluster. Records that arrive while
// a write is under way are merged, per node: the newest record is
// written, durably if any of those merged was durable.
// A crash before a record reaches the disk loses it, as a crash a moment
// earlier would have; the floor it sets is then the previous record's, at
// most a second older for a live peer.
type Saver struct {
	write func(node string, r PeerRecord, durable bool) error
	onErr func(error)

	mu      sync.Mutex
	pending map[string]pendingRecord
	busy    bool // a write is under way (Put's or the writer's): Peers is in use
	closed  bool
	wake    chan struct{} // a record is pending; capacity 1
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the writer has ended
}

type pendingRecord struct {
	rec     PeerRecord
	durable bool
}

// NewSaver starts the writer of p's records. onErr receives each failed
// write (the daemon logs it).
func NewSaver(p *Peers, onErr func(error)) *Saver {
	s := newSaver(func(node string, r PeerRecord, durable bool) error { return p.Put(node, r.Gen, r.Seq, durable) }, onErr)
	go s.run(p.Close)
	return s
}

func newSaver(write func(string, PeerRecord, bool) error, onErr func(error)) *Saver {
	return &Saver{write: write, onErr: onErr, pending: map[string]pendingRecord{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Put queues a record of node; it never waits for the disk. Puts after
// Close are dropped.
func (s *Saver) Put(node string, gen, seq uint64, durable bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if !durable && !s.busy && len(s.pending) == 0 {
		s.busy = true
		s.mu.Unlock()
		s.report(s.write(node, PeerRecord{Gen: gen, Seq: seq}, false))
		s.mu.Lock()
		s.busy = false
		queued := len(s.pending) > 0 // only the writer's wake-up can have been lost
		s.mu.Unlock()
		if queued {
			s.kick()
		}
		return
	}
	p := s.pending[node]
	s.pending[node] = pendingRecord{PeerRecord{Gen: gen, Seq: seq}, p.durable || durable}
	s.mu.Unlock()
	s.kick()
}

// kick wakes the writer.
func (s *Saver) kick() {
	select {
	case s.wake <- struct{}{}:
	default: // the writer has been woken already
	}
}

func (s *Saver) report(err error) {
	if err != nil && s.onErr != nil {
		s.onErr(err)
	}
}

// Close writes what is pending, waits for the writer to end, and releases
// the file. The daemon calls it after the last records of a clean stop.
func (s *Saver) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
}

func (s *Saver) run(release func()) {
	defer close(s.done)
	defer release()
	for {
		select {
		case <-s.wake:
			s.flush()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

// flush writes the pending records, in node order. While Put writes a
// periodic record itself, the batch waits for the next wake-up, which that
// Put gives once it is done.
func (s *Saver) flush() {
	s.mu.Lock()
	if s.busy || len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	s.busy = true
	batch := s.pending
	s.pending = map[string]pendingRecord{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}()
	nodes := make([]string, 0, len(batch))
	for n := range batch {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		s.report(s.write(n, batch[n].rec, batch[n].durable))
	}
}
