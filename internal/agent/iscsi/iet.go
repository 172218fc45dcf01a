package iscsi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// IetTarget is one target of the IET kernel module's /proc/net/iet/volume.
type IetTarget struct {
	TID  int
	Name string
	LUNs []IetLUN
}

// IetLUN is one volume line. IET numbers LUNs from 0 and has no
// controller LUN: LUN 0 is the first disk, and initiators look for it.
type IetLUN struct {
	LUN    int
	IOType string // fileio, blockio, nullio
	Path   string
}

// LUN returns the logical unit numbered n.
func (t IetTarget) LUN(n int) (IetLUN, bool) {
	for _, l := range t.LUNs {
		if l.LUN == n {
			return l, true
		}
	}
	return IetLUN{}, false
}

// ParseIetVolume parses /proc/net/iet/volume:
//
//	tid:1 name:iqn.2011-08.local.demo:storage.disk.0
//		lun:0 state:0 iotype:blockio iomode:wt blocks:104857536 blocksize:512 path:/dev/drbd1
//
// path is the last field and taken to the end of the line (a file name may
// hold blanks).
func ParseIetVolume(text string) ([]IetTarget, error) {
	var ts []IetTarget
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		switch {
		case strings.HasPrefix(line, "tid:"):
			f := strings.Fields(line)
			if len(f) < 2 || !strings.HasPrefix(f[1], "name:") {
				return nil, fmt.Errorf("volume line %d: %q: want tid:N name:IQN", i+1, line)
			}
			tid, err := strconv.Atoi(strings.TrimPrefix(f[0], "tid:"))
			name := strings.TrimPrefix(f[1], "name:")
			if err != nil || tid <= 0 || name == "" {
				return nil, fmt.Errorf("volume line %d: %q: bad tid or name", i+1, line)
			}
			ts = append(ts, IetTarget{TID: tid, Name: name})
		case strings.HasPrefix(line, "lun:"):
			if len(ts) == 0 {
				return nil, fmt.Errorf("volume line %d: %q: lun before any tid", i+1, line)
			}
			var l IetLUN
			head, path, hasPath := strings.Cut(line, " path:")
			if hasPath {
				l.Path = path
			}
			f := strings.Fields(head)
			n, err := strconv.Atoi(strings.TrimPrefix(f[0], "lun:"))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("volume line %d: %q: bad lun number", i+1, line)
			}
			l.LUN = n
			for _, kv := range f[1:] {
				if v, ok := strings.CutPrefix(kv, "iotype:"); ok {
					l.IOType = v
				}
			}
			ts[len(ts)-1].LUNs = append(ts[len(ts)-1].LUNs, l)
		default:
			return nil, fmt.Errorf("volume line %d: %q: unrecognised", i+1, line)
		}
	}
	return ts, nil
}

func findIet(ts []IetTarget, name string) (IetTarget, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return IetTarget{}, false
}

// errNoModule says the IET kernel module is not loaded.
var errNoModule = errors.New("IET kernel module not loaded")

// ietVolumes reads the kernel's target list.
func (a *Agent) ietVolumes() ([]IetTarget, error) {
	path := filepath.Join(a.IetProc, "volume")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s missing: %w", path, errNoModule)
	}
	if err != nil {
		return nil, err
	}
	ts, err := ParseIetVolume(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// ietadm runs ietadm and fails on a non-zero exit.
func (a *Agent) ietadm(args ...string) error {
	r, err := a.run(a.Ietadm, args...)
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("`%s %s` failed (exit %d): %s", a.Ietadm, strings.Join(args, " "), r.Code, r.Text())
	}
	return nil
}

// ietdPid returns the pid of the running ietd, or 0. It trusts the pid
// file only when that process is alive and is really ietd: after a crash
// the pid may have been reused.
func (a *Agent) ietdPid() int {
	data, err := os.ReadFile(a.IetdPidfile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	comm, err := os.ReadFile(filepath.Join(a.ProcRoot, strconv.Itoa(pid), "comm"))
	if err != nil {
		return 0
	}
	want := filepath.Base(a.Ietd)
	if len(want) > 15 { // the kernel keeps 15 bytes of the name
		want = want[:15]
	}
	if strings.TrimSpace(string(comm)) != want {
		return 0
	}
	// A zombie (exited, not yet reaped by its parent) is not running.
	stat, err := os.ReadFile(filepath.Join(a.ProcRoot, strconv.Itoa(pid), "stat"))
	if err == nil {
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return 0
		}
	}
	return pid
}

// ietNextTID is one more than the highest tid in use, as resource-agents'
// iSCSITarget picks it.
func ietNextTID(ts []IetTarget) int {
	max := 0
	for _, t := range ts {
		if t.TID > max {
			max = t.TID
		}
	}
	return max + 1
}
