package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerationContinuesFromHeartbeatFile(t *testing.T) {
	dir := t.TempDir()
	// The exact file real Heartbeat 3.0.6 left behind in the A-main capture.
	if err := os.WriteFile(filepath.Join(dir, GenerationFile), []byte("     1795311647\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gen, note, err := NextGeneration(dir, time.Unix(5, 0))
	if err != nil || gen != 1795311648 || note != "" {
		t.Fatalf("gen=%d note=%q err=%v", gen, note, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, GenerationFile))
	if string(b) != "     1795311648\n" || len(b) != 16 {
		t.Fatalf("file = %q, want Heartbeat's 16-byte format", b)
	}
	gen2, _, _ := NextGeneration(dir, time.Unix(5, 0))
	if gen2 != gen+1 {
		t.Fatalf("second start gen=%d, want %d", gen2, gen+1)
	}
}

func TestGenerationStartsFromTimeWithoutFile(t *testing.T) {
	dir := t.TempDir()
	gen, note, err := NextGeneration(dir, time.Unix(1795311000, 0))
	if err != nil || gen != 1795311001 || !strings.Contains(note, "No Previous generation - starting at 1795311001") {
		t.Fatalf("gen=%d note=%q err=%v", gen, note, err)
	}
}

func TestGenerationGarbageFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, GenerationFile), []byte("\x00\xffjunk"), 0o644)
	gen, note, err := NextGeneration(dir, time.Unix(100, 0))
	if err != nil || gen != 101 || !strings.Contains(note, "not a generation number") {
		t.Fatalf("gen=%d note=%q err=%v", gen, note, err)
	}
}

func TestGenerationUnwritableIsAnError(t *testing.T) {
	if os.Getuid() == 0 {
		// root ignores directory permissions; use a path under a file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o644)
		if _, _, err := NextGeneration(filepath.Join(f, "sub"), time.Unix(1, 0)); err == nil {
			t.Fatal("no error when the generation cannot be persisted")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if _, _, err := NextGeneration(dir, time.Unix(1, 0)); err == nil {
		t.Fatal("no error when the generation cannot be persisted")
	}
}

func TestUUIDCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadUUID(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadUUID(dir)
	if err != nil || a != b {
		t.Fatalf("uuid changed across loads: %x %x %v", a, b, err)
	}
	os.WriteFile(filepath.Join(dir, UUIDFile), []byte("short"), 0o644)
	if _, err := LoadUUID(dir); err == nil {
		t.Fatal("a damaged uuid file was accepted")
	}
}
