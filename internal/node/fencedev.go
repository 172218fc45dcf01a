package node

import "time"

// FenceDeviceChecked reports a fence device's status check (the shell
// checks each device at start and every fence_check_interval). The node
// only keeps it for `heartbeatd status`: a failing device changes no
// decision, a failing reset does.
type FenceDeviceChecked struct {
	Name string // as `heartbeatd status` shows it (no parameters)
	OK   bool
}

func (FenceDeviceChecked) isEvent() {}

// FenceDeviceState is a device's last check.
type FenceDeviceState struct {
	Name    string
	OK      bool
	Checked time.Time
}

// FenceDevices are the devices checked so far, in the order first seen.
func (n *Node) FenceDevices() []FenceDeviceState {
	return append([]FenceDeviceState(nil), n.fenceDevs...)
}

func (n *Node) onFenceDeviceChecked(e FenceDeviceChecked) {
	for i := range n.fenceDevs {
		if n.fenceDevs[i].Name == e.Name {
			n.fenceDevs[i].OK, n.fenceDevs[i].Checked = e.OK, n.now
			return
		}
	}
	n.fenceDevs = append(n.fenceDevs, FenceDeviceState{Name: e.Name, OK: e.OK, Checked: n.now})
}
