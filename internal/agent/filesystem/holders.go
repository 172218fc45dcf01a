package filesystem

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Holder is a process that keeps a filesystem busy.
type Holder struct {
	PID  int
	Comm string
	Why  string // first reason found: "cwd /srv/data", "fd 3 /srv/data/f", ...
}

func (h Holder) String() string { return fmt.Sprintf("%d (%s): %s", h.PID, h.Comm, h.Why) }

// busyTarget is what counts as "using the filesystem": a path at or under
// one of the mount points, a file descriptor on one of the mounts (fdinfo
// mnt_id, which also catches files opened through another path), or a
// memory mapping of a file on the device.
type busyTarget struct {
	points   []string
	mountIDs map[int]bool
	devs     map[[2]uint32]bool
}

func (t busyTarget) hasPath(p string) bool {
	p = strings.TrimSuffix(p, " (deleted)")
	for _, mp := range t.points {
		if p == mp || strings.HasPrefix(p, mp+"/") {
			return true
		}
	}
	return false
}

// findHolders scans procRoot (normally /proc) like fuser -m does, but only
// by reading links and text files: it never stats through a link, since a
// stat of another process's file on a dead NFS server would hang the stop.
func findHolders(procRoot string, t busyTarget, skip map[int]bool) ([]Holder, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", procRoot, err)
	}
	var out []Holder
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || skip[pid] {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		if why := holdReason(dir, t); why != "" {
			comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
			out = append(out, Holder{PID: pid, Comm: strings.TrimSpace(string(comm)), Why: why})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// holdReason says why the process at dir holds the target, or "". Processes
// that vanish mid-scan simply yield no reason.
func holdReason(dir string, t busyTarget) string {
	for _, l := range []string{"cwd", "root", "exe"} {
		if p, err := os.Readlink(filepath.Join(dir, l)); err == nil && t.hasPath(p) {
			return l + " " + p
		}
	}
	fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join(dir, "fd", fd.Name())); err == nil && t.hasPath(p) {
			return "fd " + fd.Name() + " " + p
		}
		if id, ok := fdMountID(filepath.Join(dir, "fdinfo", fd.Name())); ok && t.mountIDs[id] {
			return "fd " + fd.Name() + " on mount " + strconv.Itoa(id)
		}
	}
	if why := mapsReason(filepath.Join(dir, "maps"), t); why != "" {
		return why
	}
	return ""
}

func fdMountID(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "mnt_id:"); ok {
			id, err := strconv.Atoi(strings.TrimSpace(v))
			return id, err == nil
		}
	}
	return 0, false
}

// mapsReason reads /proc/PID/maps lines
// "7f..-7f.. r-xp 00000000 fd:01 1234   /path": the dev column is hex
// major:minor, so a mapping is matched without touching the file.
func mapsReason(path string, t busyTarget) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		maj, min, ok := strings.Cut(fields[3], ":")
		if !ok {
			continue
		}
		ma, err1 := strconv.ParseUint(maj, 16, 32)
		mi, err2 := strconv.ParseUint(min, 16, 32)
		name := strings.Join(fields[5:], " ")
		if err1 == nil && err2 == nil && (ma != 0 || mi != 0) && t.devs[[2]uint32{uint32(ma), uint32(mi)}] {
			return "maps " + name
		}
		if strings.HasPrefix(name, "/") && t.hasPath(name) {
			return "maps " + name
		}
	}
	return ""
}
