// Package filesystem is the built-in Filesystem resource agent
// (`Filesystem::/dev/drbd0::/srv/data::ext4[::options]` in haresources),
// with the facts of Heartbeat's Filesystem (the v1 wrapper around the OCF
// agent in resource-agents): -L/-U devices, fsck before mounting
// filesystems without a journal (fsck exit >= 4 fails), unmount with
// TERM then KILL of the processes using the mount.
//
// Where it is stricter, for the shared-disk case it exists for:
//
//   - status is true only when OUR device is mounted on the mountpoint; a
//     different filesystem there makes start refuse ("mountpoint busy");
//   - a missing mountpoint is an error, not created (a typo in haresources
//     would otherwise send the service's writes to the root filesystem);
//   - stop also unmounts other mounts of the same device, finishes with a
//     lazy unmount only as the last resort, and then fails unless the
//     block device is really released, because a lazily detached
//     filesystem that is still written to must not be mounted by the peer;
//   - status says "may be running" while the device is still held by a
//     filesystem that is not mounted where we can see it;
//   - monitor (heartbeatd's) is "running" only when our filesystem is on
//     the mountpoint and writable: not read-only in the mount or the
//     superblock flags (errors=remount-ro), and a hidden probe file
//     (.heartbeatd-monitor-probe) is created, fsynced and removed within
//     10 s. Otherwise "stopped" (exit 7) when it is not mounted anywhere
//     here, or "failed: read-only", "failed: write failed", "failed: write
//     hangs", "failed: not on its mountpoint" (mounted elsewhere or held),
//     "failed: mount table unreadable" (exit 1). A resource with option ro
//     is only checked for being mounted.
package filesystem

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"heartbeatd/internal/agent"
)

func init() { agent.Register("Filesystem", Main) }

// Main is the agent entry point: DEVICE MOUNTPOINT [FSTYPE [OPTIONS]] OP.
func Main(args []string, io agent.IO) int { return New().Main(args, io) }

// Runner runs a program to completion and returns its combined output and
// exit code; err is set only when it could not be run at all.
type Runner func(name string, args ...string) (out string, code int, err error)

// Agent holds what the Filesystem agent touches of the system, so tests can
// point it elsewhere.
type Agent struct {
	ProcRoot string // "/proc": mountinfo (ProcRoot/self/mountinfo) and the holder scan
	Run      Runner
	Sleep    func(time.Duration)
	Kill     func(pid int, sig syscall.Signal) error
	// DeviceBusy reports whether a block device is held exclusively (by a
	// filesystem, even one no longer in any mount table we can see).
	DeviceBusy func(dev string) bool
	// Grace is how long signalled processes get to exit before the next
	// unmount attempt; Poll is how often the scan is repeated meanwhile.
	Grace, Poll time.Duration
	// Spare are PIDs never signalled: this process and its parent (the
	// daemon running the agent).
	Spare []int
	// Probe is monitor's write check on a mountpoint (nil: writeProbe),
	// and ProbeTimeout its bound (0: DefaultProbeTimeout).
	Probe        func(dir string) error
	ProbeTimeout time.Duration
}

// New returns the Agent for the real system.
func New() *Agent {
	return &Agent{
		ProcRoot:   "/proc",
		Run:        execRun,
		Sleep:      time.Sleep,
		Kill:       syscall.Kill,
		DeviceBusy: deviceBusy,
		Grace:      5 * time.Second,
		Poll:       200 * time.Millisecond,
		Spare:      []int{os.Getpid(), os.Getppid()},
	}
}

func execRun(name string, args ...string) (string, int, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0, nil
	case errors.As(err, &ee):
		code := ee.ExitCode()
		if code < 0 {
			code = 128
		}
		return out.String(), code, nil
	}
	return out.String(), -1, err
}

// deviceBusy opens the device with O_EXCL, which the kernel refuses with
// EBUSY while a filesystem (or md/dm, or swap) has claimed it. Read-only, so
// a DRBD 9 device is not auto-promoted.
func deviceBusy(dev string) bool {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return errors.Is(err, unix.EBUSY)
	}
	unix.Close(fd)
	return false
}

// Main runs one operation.
func (a *Agent) Main(args []string, io agent.IO) int {
	return agent.Entry[Spec]{Name: "Filesystem", Usage: "Filesystem <device> <directory> [<fstype> [<options>]] {start|stop|status|monitor}",
		Parse: ParseSpec, Start: a.start, Stop: a.stop, Status: a.status, Monitor: a.monitor}.Run(args, io)
}

func (a *Agent) mounts() ([]Mount, error) {
	path := filepath.Join(a.ProcRoot, "self", "mountinfo")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	ms, err := ParseMountInfo(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ms, nil
}

// device is the resolved block device of a spec.
type device struct {
	path         string // canonical /dev path
	major, minor uint32
}

// resolve finds the block device a spec names. ok is false when it cannot
// be found (a label on a DRBD Secondary cannot be read, for instance).
func (a *Agent) resolve(s Spec) (dev device, why string, ok bool) {
	path := s.Name
	switch s.Kind {
	case BySource:
		return dev, "not a block device", false
	case ByLabel, ByUUID:
		tag := "LABEL="
		if s.Kind == ByUUID {
			tag = "UUID="
		}
		out, code, err := a.Run("blkid", "-l", "-o", "device", "-t", tag+s.Name)
		first := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
		if err != nil || code != 0 || !strings.HasPrefix(first, "/") {
			return dev, fmt.Sprintf("blkid finds no device with %s%s", tag, s.Name), false
		}
		path = first
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return dev, fmt.Sprintf("device %s: %v", path, err), false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return dev, fmt.Sprintf("%s is not a block device", path), false
	}
	return device{path: path, major: unix.Major(st.Rdev), minor: unix.Minor(st.Rdev)}, "", true
}

// isOurs says whether m is the spec's filesystem: same device number, or
// the same source as the kernel records it (btrfs shows an anonymous device
// number but the real source).
func isOurs(m Mount, s Spec, dev device, resolved bool) bool {
	if !resolved {
		return s.Kind == BySource && (m.Source == s.Name || s.FSType == "none" || hasOption(s.Options, "bind"))
	}
	if m.Major == dev.major && m.Minor == dev.minor {
		return true
	}
	src := m.Source
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	return src == dev.path
}

// view is the mount table as it concerns one spec.
type view struct {
	dev      device
	resolved bool
	why      string  // why the device is unresolved
	ours     *Mount  // our filesystem on the mountpoint (the topmost)
	foreign  *Mount  // something else on the mountpoint
	others   []Mount // our device mounted elsewhere
	all      []Mount
}

func (a *Agent) look(s Spec) (view, error) {
	var v view
	ms, err := a.mounts()
	if err != nil {
		return v, err
	}
	v.all = ms
	v.dev, v.why, v.resolved = a.resolve(s)
	mp := s.Mountpoint
	if real, err := filepath.EvalSymlinks(mp); err == nil {
		mp = real
	}
	for i := range ms {
		m := ms[i]
		switch {
		case m.Point == mp:
			// The last mount on a point is the visible one.
			if isOurs(m, s, v.dev, v.resolved) {
				v.ours, v.foreign = &ms[i], nil
			} else {
				v.ours, v.foreign = nil, &ms[i]
			}
		case v.resolved && isOurs(m, s, v.dev, true):
			v.others = append(v.others, m)
		}
	}
	if !v.resolved && v.foreign != nil && s.Kind != BySource {
		// A label or UUID we cannot resolve: ask blkid about what is
		// mounted there instead.
		if a.sourceHasTag(v.foreign.Source, s) {
			v.ours, v.foreign = v.foreign, nil
		}
	}
	return v, nil
}

func (a *Agent) sourceHasTag(src string, s Spec) bool {
	tag := "LABEL"
	if s.Kind == ByUUID {
		tag = "UUID"
	} else if s.Kind != ByLabel {
		return false
	}
	out, code, err := a.Run("blkid", "-o", "value", "-s", tag, src)
	return err == nil && code == 0 && strings.TrimSpace(out) == s.Name
}

func describe(m *Mount) string {
	return fmt.Sprintf("%s (%s) on %s", m.Source, m.FSType, m.Point)
}

// status prints fixed words only: Heartbeat greps stdout for "running" and
// "not running", and device or path names must not be able to change the
// verdict. Details go to stderr.
func (a *Agent) status(s Spec, io agent.IO) int {
	v, err := a.look(s)
	if err != nil {
		io.Errorf("Filesystem: %v", err)
		io.Printf("may be running: status unknown")
		return agent.StatusUnknown
	}
	if v.ours != nil {
		fmt.Fprintf(io.Stderr, "INFO: %s\n", describe(v.ours))
		io.Printf("running")
		return agent.StatusRunning
	}
	if held := a.heldElsewhere(v); held != "" {
		io.Errorf("Filesystem: %s", held)
		io.Printf("may be running: device in use")
		return agent.StatusUnknown
	}
	if v.foreign != nil {
		fmt.Fprintf(io.Stderr, "INFO: %s is mounted on %s, which is not %s\n", v.foreign.Source, s.Mountpoint, s.Device)
	}
	io.Printf("stopped")
	return agent.StatusStopped
}

// heldElsewhere explains why our device is active on this node although it
// is not on the mountpoint, or returns "".
func (a *Agent) heldElsewhere(v view) string {
	if !v.resolved {
		return ""
	}
	if len(v.others) > 0 {
		return fmt.Sprintf("%s is mounted on %s", v.dev.path, v.others[0].Point)
	}
	if a.DeviceBusy(v.dev.path) {
		return fmt.Sprintf("%s is held by a filesystem or another user that no mount table here shows "+
			"(lazily unmounted, or mounted in another mount namespace); the peer must not mount it", v.dev.path)
	}
	return ""
}

func (a *Agent) start(s Spec, io agent.IO) int {
	st, err := os.Stat(s.Mountpoint)
	if err != nil || !st.IsDir() {
		io.Errorf("Filesystem: mountpoint %s does not exist or is not a directory; create it on every node "+
			"(it is not created here, so a mistyped path cannot send writes to the root filesystem)", s.Mountpoint)
		return agent.Failed
	}
	v, err := a.look(s)
	if err != nil {
		io.Errorf("Filesystem: %v", err)
		return agent.Failed
	}
	if v.ours != nil {
		io.Printf("Filesystem: %s is already mounted on %s", s.Device, s.Mountpoint)
		return agent.OK
	}
	if v.foreign != nil {
		io.Errorf("Filesystem: mountpoint %s busy with %s; unmount it first", s.Mountpoint, describe(v.foreign))
		return agent.Failed
	}
	for _, m := range v.all {
		if strings.HasPrefix(m.Point, s.Mountpoint+"/") {
			io.Errorf("Filesystem: %s is mounted under %s; unmount it first", m.Point, s.Mountpoint)
			return agent.Failed
		}
	}
	source := s.Name
	if s.Kind != BySource {
		if !v.resolved {
			io.Errorf("Filesystem: cannot find %s: %s", s.Device, v.why)
			return agent.NotInstalled
		}
		if held := a.heldElsewhere(v); held != "" {
			io.Errorf("Filesystem: refusing to mount: %s", held)
			return agent.Failed
		}
		source = v.dev.path
		if s.needsFsck() {
			if code := a.fsck(s, source, io); code != agent.OK {
				return code
			}
		}
	}
	args := []string{}
	if s.FSType != "" {
		args = append(args, "-t", s.FSType)
	}
	if s.Options != "" {
		args = append(args, "-o", s.Options)
	}
	args = append(args, source, s.Mountpoint)
	io.Printf("Filesystem: mount %s", strings.Join(args, " "))
	out, code, err := a.Run("mount", args...)
	logLines(io, "mount", out)
	if err != nil {
		io.Errorf("Filesystem: mount: %v", err)
		return agent.NotInstalled
	}
	if code != 0 {
		io.Errorf("Filesystem: couldn't mount %s on %s (mount exit %d)", source, s.Mountpoint, code)
		return agent.Failed
	}
	if v, err := a.look(s); err != nil || v.ours == nil {
		io.Errorf("Filesystem: mount reported success but %s is not mounted on %s", source, s.Mountpoint)
		return agent.Failed
	}
	return agent.OK
}

// fsck runs the check the stock agent runs: fsck -t TYPE -p DEV; exit codes
// 1 (errors corrected) and 2 (reboot advised, meaningful for / only) are
// fine, 4 and up (errors left, operational error) fail the start.
func (a *Agent) fsck(s Spec, dev string, io agent.IO) int {
	args := []string{}
	if s.FSType != "" {
		args = append(args, "-t", s.FSType)
	}
	args = append(args, "-p", dev)
	io.Printf("Filesystem: starting filesystem check on %s: fsck %s", dev, strings.Join(args, " "))
	out, code, err := a.Run("fsck", args...)
	logLines(io, "fsck", out)
	if err != nil {
		io.Errorf("Filesystem: fsck: %v", err)
		return agent.NotInstalled
	}
	if code >= 4 {
		io.Errorf("Filesystem: couldn't fsck %s (exit %d); repair it by hand (fsck %s) before starting", dev, code, dev)
		return agent.Failed
	}
	io.Printf("Filesystem: fsck %s done (exit %d)", dev, code)
	return agent.OK
}

func logLines(io agent.IO, tag, out string) {
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			io.Printf("%s: %s", tag, l)
		}
	}
}

func (a *Agent) stop(s Spec, io agent.IO) int {
	v, err := a.look(s)
	if err != nil {
		io.Errorf("Filesystem: %v", err)
		return agent.Failed
	}
	targets := unmountTargets(v)
	if len(targets) == 0 {
		if v.foreign != nil {
			io.Printf("Filesystem: %s is not ours (%s); leaving it", s.Mountpoint, describe(v.foreign))
		}
		if held := a.heldElsewhere(v); held != "" {
			io.Errorf("Filesystem: %s is not mounted, but %s", s.Device, held)
			return agent.Failed
		}
		io.Printf("Filesystem: %s is not mounted on %s", s.Device, s.Mountpoint)
		return agent.OK
	}
	busy := busyTarget{mountIDs: map[int]bool{}, devs: map[[2]uint32]bool{}}
	for _, m := range targets {
		busy.points = append(busy.points, m.Point)
		busy.mountIDs[m.ID] = true
		busy.devs[[2]uint32{m.Major, m.Minor}] = true
	}
	failed := false
	for _, m := range targets {
		if !a.unmount(m, busy, io) {
			failed = true
		}
	}
	if failed {
		return agent.Failed
	}
	if v.resolved && a.DeviceBusy(v.dev.path) {
		io.Errorf("Filesystem: %s is unmounted but the filesystem is still active (a process in uninterruptible "+
			"sleep or another mount namespace holds it); it is NOT safe for the peer to mount it. Reboot this node.", v.dev.path)
		return agent.Failed
	}
	return agent.OK
}

// unmountTargets lists what stop unmounts, deepest first: our mount, other
// mounts of our device (bind mounts), and everything mounted below them.
func unmountTargets(v view) []Mount {
	var roots []Mount
	if v.ours != nil {
		roots = append(roots, *v.ours)
	}
	roots = append(roots, v.others...)
	if len(roots) == 0 {
		return nil
	}
	seen := map[int]bool{}
	var out []Mount
	for _, m := range v.all {
		for _, r := range roots {
			if m.ID == r.ID || strings.HasPrefix(m.Point, strings.TrimSuffix(r.Point, "/")+"/") {
				if !seen[m.ID] {
					seen[m.ID] = true
					out = append(out, m)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := strings.Count(out[i].Point, "/"), strings.Count(out[j].Point, "/")
		if di != dj {
			return di > dj
		}
		return out[i].ID > out[j].ID // stacked mounts: the later one is on top
	})
	return out
}

// unmount removes one mount: plain umount; if busy, TERM the users, wait,
// retry; KILL, wait, retry; and as the very last step umount -l.
func (a *Agent) unmount(m Mount, busy busyTarget, io agent.IO) bool {
	if a.tryUmount(m, io) {
		return true
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		holders := a.holders(busy, io)
		if len(holders) == 0 {
			io.Printf("Filesystem: %s is busy but no process uses it", m.Point)
		}
		for _, h := range holders {
			io.Printf("Filesystem: sending %s to %s", signalName(sig), h)
			if err := a.Kill(h.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				io.Errorf("Filesystem: kill %d: %v", h.PID, err)
			}
		}
		a.waitGone(busy, io)
		if a.tryUmount(m, io) {
			return true
		}
	}
	io.Printf("Filesystem: WARNING: lazy unmount of %s (umount -l) as a last resort", m.Point)
	out, code, err := a.Run("umount", "-l", m.Point)
	logLines(io, "umount", out)
	if err != nil || code != 0 || a.stillMounted(m, io) {
		io.Errorf("Filesystem: couldn't unmount %s, even lazily", m.Point)
		return false
	}
	return true
}

func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "KILL"
	}
	return "TERM"
}

func (a *Agent) holders(busy busyTarget, io agent.IO) []Holder {
	spare := map[int]bool{}
	for _, p := range a.Spare {
		spare[p] = true
	}
	hs, err := findHolders(a.ProcRoot, busy, spare)
	if err != nil {
		io.Errorf("Filesystem: %v", err)
	}
	return hs
}

// waitGone polls until no process holds the mounts or Grace has passed.
// Time is counted in Poll steps, not read from a clock.
func (a *Agent) waitGone(busy busyTarget, io agent.IO) {
	poll := max(a.Poll, time.Millisecond)
	for waited := time.Duration(0); waited < a.Grace; waited += poll {
		if len(a.holders(busy, io)) == 0 {
			return
		}
		a.Sleep(poll)
	}
}

func (a *Agent) tryUmount(m Mount, io agent.IO) bool {
	io.Printf("Filesystem: umount %s", m.Point)
	out, code, err := a.Run("umount", m.Point)
	logLines(io, "umount", out)
	if err != nil {
		io.Errorf("Filesystem: umount: %v", err)
		return false
	}
	if code == 0 && !a.stillMounted(m, io) {
		io.Printf("Filesystem: unmounted %s", m.Point)
		return true
	}
	return false
}

func (a *Agent) stillMounted(m Mount, io agent.IO) bool {
	ms, err := a.mounts()
	if err != nil {
		io.Errorf("Filesystem: %v", err)
		return true
	}
	for _, x := range ms {
		if x.ID == m.ID {
			return true
		}
	}
	return false
}
