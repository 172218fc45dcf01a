package state

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The records reach the file; the newest wins; Close waits for the last
// write, and Puts after it are dropped.
func TestSaverWritesNewestAndFlushesOnClose(t *testing.T) {
	dir := t.TempDir()
	p, _ := OpenPeers(dir)
	s := NewSaver(p, func(err error) { t.Error(err) })
	for seq := uint64(1); seq <= 50; seq++ {
		s.Put("pa2", 7, seq, seq%10 == 0)
	}
	s.Put("pb2", 3, 1, true)
	s.Close()
	s.Put("pa2", 7, 99, true)
	recs, notes := LoadPeers(dir)
	if len(notes) != 0 || recs["pa2"] != (PeerRecord{7, 50}) || recs["pb2"] != (PeerRecord{3, 1}) {
		t.Fatalf("after Close: %v %v; want pa2 7/50 and pb2 3/1", recs, notes)
	}
}

// A write stuck on the disk does not stop Put (the daemon's loop): the
// records that arrive meanwhile, periodic ones too, are merged, and the
// merged record is written durably if any of them was.
func TestSaverPutNeverWaitsAndMergesDurable(t *testing.T) {
	type call struct {
		node    string
		rec     PeerRecord
		durable bool
	}
	var mu sync.Mutex
	var calls []call
	stuck, release := make(chan struct{}), make(chan struct{})
	s := newSaver(func(node string, r PeerRecord, durable bool) error {
		mu.Lock()
		calls = append(calls, call{node, r, durable})
		first := len(calls) == 1
		mu.Unlock()
		if first {
			close(stuck)
			<-release // fsync on a disk busy with a resync
		}
		return nil
	}, nil)
	go s.run(func() {})
	s.Put("pa2", 7, 1, true) // durable: the writer's
	<-stuck
	done := make(chan struct{})
	go func() {
		s.Put("pa2", 7, 2, true) // the death: durable
		s.Put("pa2", 7, 3, false)
		s.Put("pb2", 3, 9, false)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Put waited for a write stuck on the disk")
	}
	close(release)
	s.Close()
	want := []call{{"pa2", PeerRecord{7, 1}, true}, {"pa2", PeerRecord{7, 3}, true}, {"pb2", PeerRecord{3, 9}, false}}
	if !slices.Equal(calls, want) {
		t.Fatalf("writes %+v, want %+v", calls, want)
	}
}

// A failed write is reported and the next one tries again.
func TestSaverReportsFailures(t *testing.T) {
	dir := t.TempDir()
	p, _ := OpenPeers(dir)
	errs := make(chan error, 10)
	s := NewSaver(p, func(err error) { errs <- err })
	// hb_peers cannot be replaced while a directory holds its name.
	path := filepath.Join(dir, PeersFile)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	s.Put("pa2", 7, 1, true)
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "peer records") {
			t.Errorf("error does not say what failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed write was not reported")
	}
	os.Remove(path)
	s.Put("pa2", 7, 2, true)
	s.Close()
	if recs, _ := LoadPeers(dir); recs["pa2"] != (PeerRecord{7, 2}) {
		t.Fatalf("after the disk recovered: %v", recs)
	}
}

// With nothing under way, a periodic record is written by Put itself (one
// pwrite, no second thread woken); a durable one goes to the writer.
func TestSaverPeriodicInlineDurableQueued(t *testing.T) {
	var calls []string
	s := newSaver(func(node string, r PeerRecord, durable bool) error {
		calls = append(calls, fmt.Sprintf("%s %d/%d %v", node, r.Gen, r.Seq, durable))
		return nil
	}, nil)
	s.Put("pa2", 7, 1, false)
	s.Put("pa2", 7, 2, false)
	if want := []string{"pa2 7/1 false", "pa2 7/2 false"}; !slices.Equal(calls, want) {
		t.Fatalf("periodic records: %q, want %q written at once", calls, want)
	}
	s.Put("pa2", 7, 3, true)
	s.Put("pa2", 7, 4, false) // a durable one is queued: merged with it
	if len(calls) != 2 {
		t.Fatalf("a durable record was written by Put: %q", calls)
	}
	go s.run(func() {})
	s.Close()
	if want := []string{"pa2 7/1 false", "pa2 7/2 false", "pa2 7/4 true"}; !slices.Equal(calls, want) {
		t.Fatalf("after Close: %q, want %q", calls, want)
	}
}
