package scst

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"heartbeatd/internal/agent"
)

const lunUsage = "usage: SCSTLun IQN DEVICE LUN PATH HANDLER [PARAMS] {start|stop|status|monitor}\n" +
	"  (haresources: SCSTLun::iqn.2011-04.ru.domain:VM_STORAGE_1::VM_STORAGE_1::0::/dev/drbd0::vdisk_fileio[::nv_cache=1])"

// LunSpec is SCSTLun's arguments.
type LunSpec struct {
	IQN, Device string
	LUN         int
	Path        string
	Handler     string // vdisk_fileio or vdisk_blockio
	// Params are extra add_device parameters (NAME=VALUE).
	Params []string
}

// ParseLunArgs checks SCSTLun's arguments.
func ParseLunArgs(rargs []string) (LunSpec, error) {
	var s LunSpec
	if len(rargs) < 5 || len(rargs) > 6 {
		return s, fmt.Errorf("want IQN DEVICE LUN PATH HANDLER [PARAMS], got %d arguments", len(rargs))
	}
	s.IQN, s.Device, s.Path, s.Handler = rargs[0], rargs[1], rargs[3], rargs[4]
	if !validName(s.IQN) {
		return s, fmt.Errorf("%q is not an iSCSI name", s.IQN)
	}
	if !validName(s.Device) || strings.Contains(s.Device, ":") {
		return s, fmt.Errorf("device name %q: want a plain name like VM_STORAGE_1", s.Device)
	}
	n, err := strconv.Atoi(rargs[2])
	if err != nil || n < 0 || n > 16383 {
		return s, fmt.Errorf("LUN %q: want a number 0..16383", rargs[2])
	}
	s.LUN = n
	if !strings.HasPrefix(s.Path, "/") || strings.ContainsAny(s.Path, "; \t\n") {
		return s, fmt.Errorf("path %q: want an absolute path without blanks or ';' (SCST splits parameters on them)", s.Path)
	}
	if s.Handler != "vdisk_fileio" && s.Handler != "vdisk_blockio" {
		return s, fmt.Errorf("handler %q: want vdisk_fileio (through the page cache) or vdisk_blockio (direct)", s.Handler)
	}
	if len(rargs) > 5 && !unset(rargs[5]) {
		for _, kv := range splitList(rargs[5]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !validName(k) || v == "" || k == "filename" {
				return s, fmt.Errorf("parameter %q: want NAME=VALUE (e.g. nv_cache=1); the path is given separately", kv)
			}
			s.Params = append(s.Params, kv)
		}
	}
	return s, nil
}

// Lun runs SCSTLun.
func (a *Agent) Lun(args []string, io agent.IO) int {
	const who = "SCSTLun"
	done := func(spec LunSpec, err error) int {
		if err != nil {
			io.Errorf("%s %s LUN %d: %v", who, spec.IQN, spec.LUN, err)
			return agent.Failed
		}
		return agent.OK
	}
	return agent.Entry[LunSpec]{Name: who, Usage: strings.TrimPrefix(lunUsage, "usage: "), Parse: ParseLunArgs,
		Start: func(spec LunSpec, io agent.IO) int { return done(spec, a.lunStart(spec, io)) },
		Stop:  func(spec LunSpec, io agent.IO) int { return done(spec, a.lunStop(spec, io)) },
		Status: func(spec LunSpec, io agent.IO) int {
			word, why := a.lunStatus(spec)
			return report(io, who, word, why)
		},
		Monitor: func(spec LunSpec, io agent.IO) int {
			word, why := a.lunStatus(spec)
			if word != "running" {
				return monitorReport(io, who, word, "state unreadable", why)
			}
			// An export whose backing store went away serves I/O errors.
			if err := pathExists(spec.Path); err != nil {
				return agent.Unhealthy(io, who, "backing store missing", err.Error())
			}
			return agent.Healthy(io)
		}}.Run(args, io)
}

func lunDir(iqn string, lun int) string {
	return path.Join(targetDir(iqn), "luns", strconv.Itoa(lun))
}

// lunDevice names the device at a LUN ("" if the LUN does not exist).
func (a *Agent) lunDevice(iqn string, lun int) (string, error) {
	dir := lunDir(iqn, lun)
	if !a.FS.Exists(dir) {
		return "", nil
	}
	link, err := a.FS.Readlink(path.Join(dir, "device"))
	if err != nil {
		return "", fmt.Errorf("LUN %d of %s: %w", lun, iqn, err)
	}
	return path.Base(link), nil
}

// deviceFile is the backing file of an SCST device ("" if no device).
func (a *Agent) deviceFile(dev string) (string, bool, error) {
	dir := path.Join("devices", dev)
	if !a.FS.Exists(dir) {
		return "", false, nil
	}
	f, err := a.FS.ReadFile(path.Join(dir, "filename"))
	if err != nil {
		return "", true, fmt.Errorf("device %s: %w", dev, err)
	}
	return attr(f), true, nil
}

func (a *Agent) lunStatus(s LunSpec) (string, string) {
	dev, err := a.lunDevice(s.IQN, s.LUN)
	if err != nil {
		return "may be running", err.Error()
	}
	file, exists, err := a.deviceFile(s.Device)
	if err != nil {
		return "may be running", err.Error()
	}
	switch {
	case dev == s.Device && file == s.Path:
		return "running", ""
	case dev != "" && dev != s.Device:
		return "stopped", fmt.Sprintf("LUN %d of %s holds device %s, not %s", s.LUN, s.IQN, dev, s.Device)
	case dev == s.Device:
		return "stopped", fmt.Sprintf("device %s exports %s, not %s", s.Device, file, s.Path)
	case exists:
		return "stopped", fmt.Sprintf("device %s is open on %s but not LUN %d of %s", s.Device, file, s.LUN, s.IQN)
	default:
		return "stopped", ""
	}
}

func (a *Agent) lunStart(s LunSpec, io agent.IO) error {
	if !a.FS.Exists(targetDir(s.IQN)) {
		return fmt.Errorf("target %s does not exist: put SCSTTarget::%s before this resource", s.IQN, s.IQN)
	}
	dev, err := a.lunDevice(s.IQN, s.LUN)
	if err != nil {
		return err
	}
	if dev != "" && dev != s.Device {
		return fmt.Errorf("LUN %d of %s already holds device %s: two resources with one LUN number?", s.LUN, s.IQN, dev)
	}
	file, exists, err := a.deviceFile(s.Device)
	if err != nil {
		return err
	}
	if exists && file != s.Path {
		return fmt.Errorf("SCST device %s already exists on %s, not %s: device names must be unique on the host", s.Device, file, s.Path)
	}
	if dev == s.Device {
		io.Printf("SCSTLun: LUN %d of %s already exports %s", s.LUN, s.IQN, s.Path)
		return nil
	}
	if !exists {
		if err := pathExists(s.Path); err != nil {
			return fmt.Errorf("backing store: %w (is the DRBD device Primary here?)", err)
		}
		params := append([]string{"filename=" + s.Path}, s.Params...)
		for _, p := range s.Params {
			if p == "nv_cache=1" {
				io.Errorf("SCSTLun: warning: nv_cache=1: SCST ignores the initiators' cache flushes on %s; a crash of this node loses writes they were told are on disk", s.Device)
			}
		}
		if !a.FS.Exists(path.Join("handlers", s.Handler, "mgmt")) {
			return fmt.Errorf("handler %s is not loaded (%s/handlers/%s missing): modprobe scst_vdisk", s.Handler, a.Root, s.Handler)
		}
		if err := a.mgmt(path.Join("handlers", s.Handler, "mgmt"), "add_device "+s.Device+" "+strings.Join(params, "; ")); err != nil {
			return err
		}
	}
	if err := a.mgmt(path.Join(targetDir(s.IQN), "luns", "mgmt"), fmt.Sprintf("add %s %d", s.Device, s.LUN)); err != nil {
		if !exists {
			if derr := a.mgmt(path.Join("handlers", s.Handler, "mgmt"), "del_device "+s.Device); derr != nil {
				io.Errorf("SCSTLun: closing the device again: %v", derr)
			}
		}
		return err
	}
	a.warnNoLUN0(io, "SCSTLun", s.IQN)
	io.Printf("SCSTLun: LUN %d of %s exports %s (%s)", s.LUN, s.IQN, s.Path, s.Handler)
	return nil
}

func (a *Agent) lunStop(s LunSpec, io agent.IO) error {
	dev, err := a.lunDevice(s.IQN, s.LUN)
	if err != nil {
		return err
	}
	switch {
	case dev == s.Device:
		if err := a.mgmt(path.Join(targetDir(s.IQN), "luns", "mgmt"), fmt.Sprintf("del %d", s.LUN)); err != nil {
			return err
		}
		if s.LUN == 0 {
			a.warnNoLUN0(io, "SCSTLun", s.IQN)
		}
	case dev != "":
		io.Errorf("SCSTLun: LUN %d of %s holds device %s, not %s; leaving it", s.LUN, s.IQN, dev, s.Device)
	}
	// The device keeps the backing store (the DRBD device) open even
	// without a LUN: close it, or drbddisk cannot demote.
	_, exists, err := a.deviceFile(s.Device)
	if err != nil {
		return err
	}
	if exists {
		if exp, _ := a.FS.ReadDir(path.Join("devices", s.Device, "exported")); len(exp) > 0 {
			return fmt.Errorf("device %s is still exported elsewhere (%s/devices/%s/exported: %s); remove those LUNs first", s.Device, a.Root, s.Device, strings.Join(exp, ", "))
		}
		handler := s.Handler
		if link, err := a.FS.Readlink(path.Join("devices", s.Device, "handler")); err == nil {
			handler = path.Base(link)
		}
		if err := a.mgmt(path.Join("handlers", handler, "mgmt"), "del_device "+s.Device); err != nil {
			return err
		}
	}
	io.Printf("SCSTLun: LUN %d of %s and device %s removed", s.LUN, s.IQN, s.Device)
	return nil
}
