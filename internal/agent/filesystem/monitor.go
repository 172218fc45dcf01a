package filesystem

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/agent"
)

// probeName is the hidden file monitor writes on the filesystem. One fixed
// name, so that a probe left behind by a monitor killed while the
// filesystem hung is removed by the next one.
const probeName = ".heartbeatd-monitor-probe"

// DefaultProbeTimeout bounds monitor's write probe. The executor times the
// whole op out too; this bound makes the verdict say why.
const DefaultProbeTimeout = 10 * time.Second

// monitor is healthy when our filesystem is mounted on the mountpoint AND
// writable: neither the mount nor the superblock is read-only (ext4's
// errors=remount-ro makes it read-only after an I/O error), and a
// small file can be created, synced and removed there within
// ProbeTimeout. A filesystem mounted read-only on purpose (option ro) is
// only checked for being mounted.
func (a *Agent) monitor(s Spec, io agent.IO) int {
	const who = "Filesystem"
	v, err := a.look(s)
	if err != nil {
		return agent.Unhealthy(io, who, "mount table unreadable", err.Error())
	}
	if v.ours == nil {
		if held := a.heldElsewhere(v); held != "" {
			return agent.Unhealthy(io, who, "not on its mountpoint", held)
		}
		return agent.Absent(io)
	}
	if hasOption(s.Options, "ro") {
		return agent.Healthy(io)
	}
	// Older kernels flip the superblock to "ro" after errors=remount-ro;
	// ext4 on newer ones keeps "rw" and adds "emergency_ro".
	if hasOption(v.ours.Options, "ro") || hasOption(v.ours.SuperOptions, "ro") || hasOption(v.ours.SuperOptions, "emergency_ro") {
		return agent.Unhealthy(io, who, "read-only", fmt.Sprintf("%s is mounted read-only (mount %s, superblock %s): remounted after errors? see the kernel log",
			describe(v.ours), v.ours.Options, v.ours.SuperOptions))
	}
	probe := a.Probe
	if probe == nil {
		probe = writeProbe
	}
	wait := a.ProbeTimeout
	if wait <= 0 {
		wait = DefaultProbeTimeout
	}
	done := make(chan error, 1)
	// A hung filesystem blocks the probe in the kernel, where it cannot be
	// interrupted: give up waiting and leave the goroutine to it (the
	// agent's process ends; run in process, the goroutine ends if the
	// filesystem ever answers).
	go func() { done <- probe(s.Mountpoint) }()
	select {
	case err := <-done:
		switch {
		case errors.Is(err, unix.EROFS):
			// Read-only without a flag we know in mountinfo.
			return agent.Unhealthy(io, who, "read-only", err.Error())
		case err != nil:
			return agent.Unhealthy(io, who, "write failed", err.Error())
		}
		return agent.Healthy(io)
	case <-time.After(wait):
		return agent.Unhealthy(io, who, "write hangs", fmt.Sprintf("creating, syncing and removing %s took over %v: the filesystem or its device hangs",
			filepath.Join(s.Mountpoint, probeName), wait))
	}
}

// writeProbe creates, fsyncs and removes dir/probeName. The file is made
// fresh (O_EXCL, O_NOFOLLOW) after removing any leftover, so a symlink or
// hard link planted under that name is never written through.
func writeProbe(dir string) error {
	p := filepath.Join(dir, probeName)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old probe: %w", err)
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	_, werr := unix.Write(fd, []byte("heartbeatd monitor\n"))
	serr := unix.Fsync(fd)
	cerr := unix.Close(fd)
	rerr := os.Remove(p)
	if errors.Is(rerr, os.ErrNotExist) {
		rerr = nil // a concurrent probe removed it
	}
	for i, err := range []error{werr, serr, cerr, rerr} {
		if err != nil {
			return fmt.Errorf("%s %s: %w", [...]string{"write", "fsync", "close", "remove"}[i], p, err)
		}
	}
	return nil
}
