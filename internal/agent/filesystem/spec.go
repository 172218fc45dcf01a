package filesystem

import (
	"fmt"
	"path/filepath"
	"strings"
)

// DeviceKind says how the device argument names the filesystem.
type DeviceKind int

const (
	ByPath   DeviceKind = iota // /dev/sdb1, /dev/drbd0
	ByLabel                    // -LLABEL, --label=LABEL, LABEL=LABEL
	ByUUID                     // -UUUID, --uuid=UUID, UUID=UUID
	BySource                   // not a block device: server:/export, tmpfs, a bind source
)

// Spec is one Filesystem resource: haresources
// `Filesystem::DEVICE::MOUNTPOINT[::FSTYPE[::OPTIONS]]`.
type Spec struct {
	Device     string // as written
	Kind       DeviceKind
	Name       string // path, label or UUID without the -L/-U/LABEL= prefix
	Mountpoint string // cleaned, no trailing slash
	FSType     string // "" lets mount probe
	Options    string // for mount -o
}

// nonBlockTypes never sit on a local block device (the stock agent's list).
var nonBlockTypes = map[string]bool{
	"nfs": true, "nfs4": true, "efs": true, "smbfs": true, "cifs": true, "none": true,
	"glusterfs": true, "ceph": true, "tmpfs": true, "overlay": true, "overlayfs": true,
	"rozofs": true, "zfs": true, "cvfs": true, "lustre": true,
}

// noFsckTypes are journaled or network filesystems that the stock agent
// mounts without fsck (run_fsck=auto); anything else, including an empty
// fstype, is checked first.
var noFsckTypes = map[string]bool{
	"ext4": true, "ext4dev": true, "ext3": true, "reiserfs": true, "reiser4": true,
	"nss": true, "xfs": true, "jfs": true, "vfat": true, "fat": true, "btrfs": true,
	"nfs4": true, "nfs": true, "efs": true, "cifs": true, "smbfs": true, "ocfs2": true,
	"gfs2": true, "none": true, "lustre": true, "glusterfs": true, "ceph": true,
	"tmpfs": true, "overlay": true, "overlayfs": true, "rozofs": true, "zfs": true, "cvfs": true,
}

// ParseSpec checks the resource arguments (everything before the operation):
// the Heartbeat wrapper's usage is
// `Filesystem <device> <directory> [<fstype> [<options>]]`.
func ParseSpec(args []string) (Spec, error) {
	var s Spec
	if len(args) < 2 || len(args) > 4 {
		return s, fmt.Errorf("want DEVICE MOUNTPOINT [FSTYPE [OPTIONS]], got %d arguments", len(args))
	}
	s.Device = args[0]
	if len(args) > 2 {
		s.FSType = args[2]
	}
	if len(args) > 3 {
		s.Options = args[3]
	}
	if strings.ContainsAny(s.FSType, " \t\n,") {
		return s, fmt.Errorf("fstype %q is not a filesystem type", s.FSType)
	}
	if strings.ContainsAny(s.Options, " \t\n") {
		return s, fmt.Errorf("options %q contain white space", s.Options)
	}

	mp := args[1]
	if !strings.HasPrefix(mp, "/") {
		return s, fmt.Errorf("mountpoint %q is not an absolute path", mp)
	}
	s.Mountpoint = filepath.Clean(mp)
	if s.Mountpoint == "/" {
		// Stopping it would kill every process on the node.
		return s, fmt.Errorf("refusing to manage / as a mountpoint")
	}

	dev := s.Device
	switch {
	case dev == "":
		return s, fmt.Errorf("empty device")
	case strings.HasPrefix(dev, "--label="):
		s.Kind, s.Name = ByLabel, dev[len("--label="):]
	case strings.HasPrefix(dev, "--uuid="):
		s.Kind, s.Name = ByUUID, dev[len("--uuid="):]
	case strings.HasPrefix(dev, "-L"):
		s.Kind, s.Name = ByLabel, dev[2:]
	case strings.HasPrefix(dev, "-U"):
		s.Kind, s.Name = ByUUID, dev[2:]
	case strings.HasPrefix(dev, "LABEL="):
		s.Kind, s.Name = ByLabel, dev[len("LABEL="):]
	case strings.HasPrefix(dev, "UUID="):
		s.Kind, s.Name = ByUUID, dev[len("UUID="):]
	case strings.HasPrefix(dev, "-"):
		return s, fmt.Errorf("device %q: unknown option (want a path, -LLABEL or -UUUID)", dev)
	case nonBlockTypes[s.FSType] || hasOption(s.Options, "loop") || hasOption(s.Options, "bind"):
		s.Kind, s.Name = BySource, dev
	default:
		if !strings.HasPrefix(dev, "/") {
			return s, fmt.Errorf("device %q is not an absolute path (for %s give the fstype)", dev, "a network filesystem")
		}
		s.Kind, s.Name = ByPath, filepath.Clean(dev)
	}
	if s.Name == "" {
		return s, fmt.Errorf("device %q: empty label or UUID", dev)
	}
	return s, nil
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// needsFsck follows the stock agent's run_fsck=auto.
func (s Spec) needsFsck() bool { return s.Kind != BySource && !noFsckTypes[s.FSType] }
