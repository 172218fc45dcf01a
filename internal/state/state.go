// Package state keeps the two small files that make a node's identity
// survive restarts, in Heartbeat's own formats and paths so that a node
// migrated from Heartbeat keeps its uuid and its generation keeps going up:
//
//   - hb_generation: the restart counter. Peers drop packets with a lower
//     generation as replays and treat an equal one after a death as a
//     partition, so it must increase at every start and never be reused.
//   - hb_uuid: the node's 16-byte uuid, sent as srcuuid in every packet.
package state

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	GenerationFile = "hb_generation"
	UUIDFile       = "hb_uuid"
)

// NextGeneration reads dir/hb_generation, adds one, writes it back durably
// and returns the new value. Without a readable file it starts from the Unix
// time, as Heartbeat does ("No Previous generation - starting at N"); the
// returned note says so for the log. A value that could not be persisted is
// an error: running with a generation that the next start might reuse would
// make peers drop our packets as replays.
func NextGeneration(dir string, now time.Time) (gen uint64, note string, err error) {
	path := filepath.Join(dir, GenerationFile)
	prev, rerr := readGeneration(path)
	switch {
	case rerr == nil:
		gen = prev + 1
	case errors.Is(rerr, fs.ErrNotExist):
		gen = uint64(now.Unix()) + 1
		note = fmt.Sprintf("No Previous generation - starting at %d", gen)
	default:
		gen = uint64(now.Unix()) + 1
		note = fmt.Sprintf("Cannot read %s (%v) - starting at %d", path, rerr, gen)
	}
	if err := writeGeneration(path, gen); err != nil {
		return 0, note, err
	}
	return gen, note, nil
}

func readGeneration(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := string(bytes.TrimSpace(b))
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || len(b) > 64 {
		return 0, fmt.Errorf("%s: not a generation number: %q", path, truncate(s))
	}
	return n, nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// writeGeneration writes Heartbeat's exact format: the decimal number
// right-aligned in 15 columns and a newline (16 bytes), synced to disk
// before it is used.
func writeGeneration(path string, gen uint64) error {
	return writeAtomic(path, []byte(fmt.Sprintf("%15d\n", gen)), "generation")
}

// writeAtomic replaces path with data so that a crash at any point leaves
// either the old file or the new one, never a torn one: a synced temporary
// file renamed over it, and the directory synced. what names the file in
// errors.
func writeAtomic(path string, data []byte, what string) error {
	return writeFile(path, data, what, true)
}

// writeFile is writeAtomic; without durable it skips the syncs: a crash
// of the process still leaves the old file or the new one, a crash of the
// machine may leave the old one.
func writeFile(path string, data []byte, what string, durable bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tmp := path + ".tmp"
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if durable {
		flags |= os.O_SYNC
	}
	f, err := os.OpenFile(tmp, flags, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("%s: write %s: %w", what, tmp, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("%s: sync %s: %w", what, tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !durable {
		return nil
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadUUID returns the node uuid from dir/hb_uuid (16 raw bytes), creating a
// random one on first start.
func LoadUUID(dir string) ([16]byte, error) {
	var u [16]byte
	path := filepath.Join(dir, UUIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 16 {
			return u, fmt.Errorf("%s: %d bytes, want 16 (remove it to create a new uuid)", path, len(b))
		}
		copy(u[:], b)
		return u, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return u, fmt.Errorf("uuid: %w", err)
	}
	if _, err := rand.Read(u[:]); err != nil {
		return u, fmt.Errorf("uuid: %w", err)
	}
	// Version 4 / RFC 4122 variant bits, as libuuid sets them.
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return u, fmt.Errorf("uuid: %w", err)
	}
	if err := os.WriteFile(path, u[:], 0o644); err != nil {
		return u, fmt.Errorf("uuid: %w", err)
	}
	return u, nil
}
