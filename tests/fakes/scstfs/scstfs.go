// Package scstfs is a fake of SCST's sysfs tree (/sys/kernel/scst_tgt) for
// tests: a real directory tree in a temp dir, and a Tree value whose
// WriteFile applies writes the way the kernel does, synchronously.
//
// Why not a plain directory the agent writes into: a sysfs mgmt write is a
// command whose refusal is the write(2)'s own error (EINVAL, EEXIST...),
// and a regular file cannot return one; FUSE is not available, and a FIFO
// served by a goroutine can neither fail the write nor order the result
// deterministically. So the agent writes through a small interface
// (scst.Sysfs) and Tree implements it: reads come from the directory tree
// (which tests and people can inspect), writes are interpreted at once,
// errors are *fs.PathError with the errno SCST returns, and Async makes
// mgmt writes answer EAGAIN with the result in last_sysfs_mgmt_res, as
// SCST does for queued commands. Tree records every write in Writes.
//
// What it models (scst/README, iscsi-scst/README, scst_sysfs.c,
// iscsi-scst/usr/event.c): handlers/<h>/mgmt add_device NAME
// k=v;k=v / del_device NAME; targets/iscsi/mgmt add_target IQN [k=v;...],
// del_target IQN, add_target_attribute IQN allowed_portal PATTERN;
// targets/iscsi/IQN/luns/mgmt add DEV LUN [read_only=1] / del LUN /
// clear; enabled attributes (0/1); per-target iSCSI parameters and
// io_grouping_type as writable attributes; sessions/<ini>/force_close.
package scstfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Tree is a fake SCST sysfs tree rooted at Root.
type Tree struct {
	Root string
	// Async makes mgmt writes return EAGAIN; the result is then read from
	// last_sysfs_mgmt_res (EAGAIN on the first read, then 0 or -errno).
	Async bool
	// Writes records "REL <- VALUE" for every write, accepted or not.
	Writes []string

	pendingReads int
	lastRes      int
}

// targetParams are the per-target attributes iSCSI-SCST creates (with
// defaults), plus SCST core's io_grouping_type.
var targetParams = map[string]string{
	"InitialR2T": "No", "ImmediateData": "Yes", "MaxRecvDataSegmentLength": "1048576",
	"MaxXmitDataSegmentLength": "1048576", "MaxBurstLength": "1048576", "FirstBurstLength": "65536",
	"MaxOutstandingR2T": "32", "HeaderDigest": "None", "DataDigest": "None", "QueuedCommands": "32",
	"MaxSessions": "0", "NopInInterval": "30", "NopInTimeout": "30", "RspTimeout": "90",
	"io_grouping_type": "auto", "per_portal_acl": "0", "redirect": "", "alias": "",
}

// New makes a tree with iSCSI-SCST loaded and iscsi-scstd connected, and
// the vdisk_fileio and vdisk_blockio handlers.
func New(root string) (*Tree, error) {
	t := &Tree{Root: root}
	for _, d := range []string{"targets/iscsi", "handlers/vdisk_fileio", "handlers/vdisk_blockio", "devices"} {
		if err := os.MkdirAll(t.abs(d), 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"targets/iscsi/mgmt": "", "targets/iscsi/enabled": "0", "targets/iscsi/open_state": "open",
		"handlers/vdisk_fileio/mgmt": "", "handlers/vdisk_blockio/mgmt": "",
		"last_sysfs_mgmt_res": "0", "version": "3.8.0",
	}
	for f, v := range files {
		if err := t.put(f, v); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Tree) abs(rel string) string { return filepath.Join(t.Root, filepath.FromSlash(rel)) }

func (t *Tree) put(rel, v string) error {
	return os.WriteFile(t.abs(rel), []byte(v+"\n"), 0o644)
}

func perr(op, rel string, e syscall.Errno) error { return &fs.PathError{Op: op, Path: rel, Err: e} }

// ReadFile reads an attribute; last_sysfs_mgmt_res follows Async.
func (t *Tree) ReadFile(rel string) (string, error) {
	if rel == "last_sysfs_mgmt_res" && t.pendingReads > 0 {
		t.pendingReads--
		return "", perr("read", rel, syscall.EAGAIN)
	}
	if rel == "last_sysfs_mgmt_res" {
		return strconv.Itoa(t.lastRes) + "\n", nil
	}
	b, err := os.ReadFile(t.abs(rel))
	return string(b), err
}

// ReadDir lists entry names.
func (t *Tree) ReadDir(rel string) ([]string, error) {
	ents, err := os.ReadDir(t.abs(rel))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, nil
}

// Readlink reads a symlink.
func (t *Tree) Readlink(rel string) (string, error) { return os.Readlink(t.abs(rel)) }

// Exists reports whether an entry exists.
func (t *Tree) Exists(rel string) bool {
	_, err := os.Lstat(t.abs(rel))
	return err == nil
}

// SetOpenState sets targets/iscsi/open_state ("open" while iscsi-scstd is
// connected).
func (t *Tree) SetOpenState(v string) error { return t.put("targets/iscsi/open_state", v) }

// AddSession makes an initiator session on a target, as a login would.
func (t *Tree) AddSession(iqn, initiator string) error {
	d := path.Join("targets/iscsi", iqn, "sessions", initiator)
	if err := os.MkdirAll(t.abs(d), 0o755); err != nil {
		return err
	}
	return t.put(path.Join(d, "force_close"), "")
}

// WriteFile applies a write the way SCST does.
func (t *Tree) WriteFile(rel, value string) error {
	value = strings.TrimSuffix(value, "\n")
	t.Writes = append(t.Writes, rel+" <- "+value)
	st, err := os.Lstat(t.abs(rel))
	if err != nil {
		return perr("open", rel, syscall.ENOENT)
	}
	if st.IsDir() {
		return perr("open", rel, syscall.EISDIR)
	}
	isMgmt := path.Base(rel) == "mgmt"
	e := t.apply(rel, value)
	if isMgmt && t.Async {
		t.lastRes = -int(e)
		t.pendingReads = 1
		return perr("write", rel, syscall.EAGAIN)
	}
	if e != 0 {
		return perr("write", rel, e)
	}
	return nil
}

func (t *Tree) apply(rel, value string) syscall.Errno {
	parts := strings.Split(rel, "/")
	switch {
	case len(parts) == 3 && parts[0] == "handlers" && parts[2] == "mgmt":
		return t.handlerMgmt(parts[1], value)
	case rel == "targets/iscsi/mgmt":
		return t.iscsiMgmt(value)
	case rel == "targets/iscsi/enabled":
		return t.setBool(rel, value)
	case len(parts) == 5 && parts[0] == "targets" && parts[3] == "luns" && parts[4] == "mgmt":
		return t.lunMgmt(parts[2], value)
	case len(parts) == 4 && parts[0] == "targets" && parts[3] == "enabled":
		return t.setBool(rel, value)
	case len(parts) == 6 && parts[3] == "sessions" && parts[5] == "force_close":
		if value != "1" {
			return syscall.EINVAL
		}
		if err := os.RemoveAll(t.abs(path.Join("targets/iscsi", parts[2], "sessions", parts[4]))); err != nil {
			return syscall.EIO
		}
		return 0
	case len(parts) == 4 && parts[0] == "targets":
		if _, ok := targetParams[parts[3]]; !ok || strings.TrimSpace(value) == "" {
			return syscall.EINVAL
		}
		if err := t.put(rel, value); err != nil {
			return syscall.EIO
		}
		return 0
	}
	return syscall.EACCES // a read-only attribute
}

func (t *Tree) setBool(rel, v string) syscall.Errno {
	if v != "0" && v != "1" {
		return syscall.EINVAL
	}
	if err := t.put(rel, v); err != nil {
		return syscall.EIO
	}
	return 0
}

// parseParams splits "k=v; k=v" the way SCST does (';' separated).
func parseParams(s string) (map[string]string, bool) {
	m := map[string]string{}
	for _, p := range strings.Split(s, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, false
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, true
}

var vdiskParams = map[string]bool{
	"filename": true, "nv_cache": true, "blocksize": true, "read_only": true, "write_through": true,
	"o_direct": true, "removable": true, "rotational": true, "thin_provisioned": true, "t10_dev_id": true,
	"active": true, "async": true, "cluster_mode": true, "numa_node_id": true,
}

func (t *Tree) handlerMgmt(handler, cmd string) syscall.Errno {
	f := strings.Fields(cmd)
	if len(f) < 2 {
		return syscall.EINVAL
	}
	name := f[1]
	devDir := path.Join("devices", name)
	switch f[0] {
	case "add_device":
		if t.Exists(devDir) {
			return syscall.EEXIST
		}
		params, ok := parseParams(strings.Join(f[2:], " "))
		if !ok {
			return syscall.EINVAL
		}
		for k := range params {
			if !vdiskParams[k] {
				return syscall.EINVAL
			}
		}
		file := params["filename"]
		if file == "" || !strings.HasPrefix(file, "/") {
			return syscall.EINVAL
		}
		if _, err := os.Stat(file); err != nil {
			return syscall.ENOENT // vdisk cannot open the backing store
		}
		if err := os.MkdirAll(t.abs(path.Join(devDir, "exported")), 0o755); err != nil {
			return syscall.EIO
		}
		nv := params["nv_cache"]
		if nv == "" {
			nv = "0"
		}
		t.put(path.Join(devDir, "filename"), file+"\n[key]")
		t.put(path.Join(devDir, "nv_cache"), nv)
		os.Symlink("../../handlers/"+handler, t.abs(path.Join(devDir, "handler")))
		os.Symlink("../../devices/"+name, t.abs(path.Join("handlers", handler, name)))
		return 0
	case "del_device":
		if len(f) != 2 || !t.Exists(path.Join("handlers", handler, name)) {
			return syscall.EINVAL
		}
		// Unregistering a device removes it from every LUN.
		t.forEachLUN(func(iqn, lun, dev string) {
			if dev == name {
				os.RemoveAll(t.abs(path.Join("targets/iscsi", iqn, "luns", lun)))
			}
		})
		os.Remove(t.abs(path.Join("handlers", handler, name)))
		os.RemoveAll(t.abs(devDir))
		return 0
	}
	return syscall.EINVAL
}

func (t *Tree) forEachLUN(f func(iqn, lun, dev string)) {
	targets, _ := t.ReadDir("targets/iscsi")
	for _, iqn := range targets {
		luns, _ := t.ReadDir(path.Join("targets/iscsi", iqn, "luns"))
		for _, l := range luns {
			if link, err := t.Readlink(path.Join("targets/iscsi", iqn, "luns", l, "device")); err == nil {
				f(iqn, l, path.Base(link))
			}
		}
	}
}

func (t *Tree) iscsiMgmt(cmd string) syscall.Errno {
	f := strings.Fields(cmd)
	if len(f) < 2 {
		return syscall.EINVAL
	}
	iqn := f[1]
	dir := path.Join("targets/iscsi", iqn)
	switch f[0] {
	case "add_target":
		if st, _ := t.ReadFile("targets/iscsi/open_state"); strings.TrimSpace(st) != "open" {
			return syscall.ENOTCONN // nobody to carry the command out
		}
		if t.Exists(dir) {
			return syscall.EEXIST
		}
		params, ok := parseParams(strings.Join(f[2:], " "))
		if !ok {
			return syscall.EINVAL
		}
		for k := range params {
			if _, ok := targetParams[k]; !ok {
				return syscall.EINVAL
			}
		}
		for _, d := range []string{"luns", "sessions", "ini_groups"} {
			if err := os.MkdirAll(t.abs(path.Join(dir, d)), 0o755); err != nil {
				return syscall.EIO
			}
		}
		t.put(path.Join(dir, "luns", "mgmt"), "")
		t.put(path.Join(dir, "ini_groups", "mgmt"), "")
		t.put(path.Join(dir, "enabled"), "0")
		targets, _ := t.ReadDir("targets/iscsi")
		t.put(path.Join(dir, "tid"), strconv.Itoa(len(targets)))
		for k, v := range targetParams {
			if p, ok := params[k]; ok {
				v = p
			}
			t.put(path.Join(dir, k), v)
		}
		return 0
	case "del_target":
		if len(f) != 2 {
			return syscall.EINVAL
		}
		if !t.Exists(dir) {
			return syscall.ENOENT
		}
		t.forEachLUN(func(tiqn, lun, dev string) {
			if tiqn == iqn {
				t.unexport(dev, iqn, lun)
			}
		})
		os.RemoveAll(t.abs(dir))
		return 0
	case "add_target_attribute":
		if len(f) != 4 || !t.Exists(dir) {
			return syscall.EINVAL
		}
		if f[2] != "allowed_portal" {
			return syscall.EINVAL
		}
		name := "allowed_portal"
		for i := 1; t.Exists(path.Join(dir, name)); i++ {
			name = "allowed_portal" + strconv.Itoa(i)
		}
		t.put(path.Join(dir, name), f[3]+"\n[key]")
		return 0
	}
	return syscall.EINVAL
}

func (t *Tree) lunMgmt(iqn, cmd string) syscall.Errno {
	f := strings.Fields(cmd)
	lunsDir := path.Join("targets/iscsi", iqn, "luns")
	if len(f) == 0 {
		return syscall.EINVAL
	}
	switch f[0] {
	case "add":
		if len(f) < 3 {
			return syscall.EINVAL
		}
		dev, lun := f[1], f[2]
		if n, err := strconv.Atoi(lun); err != nil || n < 0 {
			return syscall.EINVAL
		}
		if !t.Exists(path.Join("devices", dev)) {
			return syscall.EINVAL // "Device %s not found"
		}
		if t.Exists(path.Join(lunsDir, lun)) {
			return syscall.EEXIST
		}
		if p, ok := parseParams(strings.Join(f[3:], " ")); !ok || (len(p) > 0 && p["read_only"] == "") {
			return syscall.EINVAL
		}
		if err := os.MkdirAll(t.abs(path.Join(lunsDir, lun)), 0o755); err != nil {
			return syscall.EIO
		}
		os.Symlink("../../../../../devices/"+dev, t.abs(path.Join(lunsDir, lun, "device")))
		t.put(path.Join(lunsDir, lun, "read_only"), "0")
		exp, _ := t.ReadDir(path.Join("devices", dev, "exported"))
		os.Symlink("../../../targets/iscsi/"+iqn+"/luns/"+lun, t.abs(path.Join("devices", dev, "exported", "export"+strconv.Itoa(len(exp)))))
		return 0
	case "del":
		if len(f) != 2 || !t.Exists(path.Join(lunsDir, f[1])) {
			return syscall.EINVAL
		}
		link, _ := t.Readlink(path.Join(lunsDir, f[1], "device"))
		t.unexport(path.Base(link), iqn, f[1])
		os.RemoveAll(t.abs(path.Join(lunsDir, f[1])))
		return 0
	case "clear":
		luns, _ := t.ReadDir(lunsDir)
		for _, l := range luns {
			if l != "mgmt" {
				link, _ := t.Readlink(path.Join(lunsDir, l, "device"))
				t.unexport(path.Base(link), iqn, l)
				os.RemoveAll(t.abs(path.Join(lunsDir, l)))
			}
		}
		return 0
	}
	return syscall.EINVAL
}

// unexport drops the device's exported/exportN link to iqn's LUN.
func (t *Tree) unexport(dev, iqn, lun string) {
	dir := path.Join("devices", dev, "exported")
	links, _ := t.ReadDir(dir)
	for _, l := range links {
		if dest, _ := t.Readlink(path.Join(dir, l)); strings.HasSuffix(dest, "/"+iqn+"/luns/"+lun) {
			os.Remove(t.abs(path.Join(dir, l)))
		}
	}
}

// Targets lists the targets, sorted.
func (t *Tree) Targets() []string {
	names, _ := t.ReadDir("targets/iscsi")
	var out []string
	for _, n := range names {
		if st, err := os.Stat(t.abs(path.Join("targets/iscsi", n))); err == nil && st.IsDir() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Attr reads an attribute's value without SCST's "[key]" marker.
func (t *Tree) Attr(rel string) (string, error) {
	s, err := t.ReadFile(rel)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "[key]")), nil
}

// LUNs maps a target's LUN numbers to device names.
func (t *Tree) LUNs(iqn string) map[int]string {
	out := map[int]string{}
	t.forEachLUN(func(tiqn, lun, dev string) {
		if n, err := strconv.Atoi(lun); err == nil && tiqn == iqn {
			out[n] = dev
		}
	})
	return out
}

// ErrnoOf extracts the errno of a write error, for tests.
func ErrnoOf(err error) (syscall.Errno, bool) {
	var e syscall.Errno
	ok := errors.As(err, &e)
	return e, ok
}

// String summarises the tree for failure messages.
func (t *Tree) String() string {
	var b strings.Builder
	for _, tg := range t.Targets() {
		en, _ := t.Attr(path.Join("targets/iscsi", tg, "enabled"))
		fmt.Fprintf(&b, "%s enabled=%s luns=%v\n", tg, en, t.LUNs(tg))
	}
	devs, _ := t.ReadDir("devices")
	fmt.Fprintf(&b, "devices=%v", devs)
	return b.String()
}
