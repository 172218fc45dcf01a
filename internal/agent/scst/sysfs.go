package scst

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Sysfs is the part of SCST's sysfs tree (/sys/kernel/scst_tgt) the agents
// use; paths are relative to its root. Writes to mgmt files are commands
// the kernel executes during write(2): a refused command is the write's
// error (EINVAL, EEXIST, ENOENT...), and EAGAIN means "queued, poll
// last_sysfs_mgmt_res" (scst/README).
type Sysfs interface {
	ReadFile(rel string) (string, error)
	WriteFile(rel, value string) error
	ReadDir(rel string) ([]string, error)
	Readlink(rel string) (string, error)
	Exists(rel string) bool
}

// OSFS is the real tree under Root.
type OSFS struct{ Root string }

func (f OSFS) path(rel string) string { return filepath.Join(f.Root, rel) }

// ReadFile reads an attribute.
func (f OSFS) ReadFile(rel string) (string, error) {
	b, err := os.ReadFile(f.path(rel))
	return string(b), err
}

// WriteFile writes one command or value in a single write(2), as `echo`
// does, and never creates a file: writing to an attribute that does not
// exist must fail, not leave a stray file in a test tree.
func (f OSFS) WriteFile(rel, value string) error {
	fh, err := os.OpenFile(f.path(rel), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := fh.Write([]byte(value + "\n"))
	cerr := fh.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// ReadDir lists a directory's entry names.
func (f OSFS) ReadDir(rel string) ([]string, error) {
	ents, err := os.ReadDir(f.path(rel))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// Readlink reads a symlink (a LUN's "device").
func (f OSFS) Readlink(rel string) (string, error) { return os.Readlink(f.path(rel)) }

// Exists reports whether the entry exists.
func (f OSFS) Exists(rel string) bool {
	_, err := os.Lstat(f.path(rel))
	return err == nil
}

// attr strips SCST's "[key]" marker line and blanks from an attribute's
// value.
func attr(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimSuffix(s, "[key]"))
	return s
}

// mgmt writes a management command and waits for its result: on EAGAIN
// SCST has queued it, and last_sysfs_mgmt_res answers EAGAIN until it is
// done, then 0 or -errno.
func (a *Agent) mgmt(rel, cmd string) error {
	err := a.FS.WriteFile(rel, cmd)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EAGAIN) {
		return fmt.Errorf("echo %q > %s: %w", cmd, filepath.Join(a.Root, rel), err)
	}
	for try := 0; try < max(a.Tries, 1); try++ {
		res, rerr := a.FS.ReadFile("last_sysfs_mgmt_res")
		if errors.Is(rerr, syscall.EAGAIN) {
			a.Sleep(a.Interval)
			continue
		}
		if rerr != nil {
			return fmt.Errorf("echo %q > %s queued; reading last_sysfs_mgmt_res: %w", cmd, filepath.Join(a.Root, rel), rerr)
		}
		if v := attr(res); v != "0" {
			n := 0
			fmt.Sscanf(v, "%d", &n)
			return fmt.Errorf("echo %q > %s: %w (last_sysfs_mgmt_res %s)", cmd, filepath.Join(a.Root, rel), syscall.Errno(-n), v)
		}
		return nil
	}
	return fmt.Errorf("echo %q > %s: still queued after %d polls of last_sysfs_mgmt_res", cmd, filepath.Join(a.Root, rel), a.Tries)
}
