package pacemaker

import (
	"fmt"
	"strings"

	"heartbeatd/haresources"
)

// wrapper is one of Heartbeat's resource.d scripts that only set
// OCF_RESKEY_* from their positional arguments and run the OCF agent of
// the same name (heartbeat 3.0.6's /etc/ha.d/resource.d). Params names the
// arguments in order; Rest means the last one takes all remaining
// arguments, blank-separated (AudibleAlarm's node list).
type wrapper struct {
	Params []string
	Rest   bool
}

var wrappers = map[string]wrapper{
	"AudibleAlarm": {Params: []string{"nodelist"}, Rest: true},
	"Delay":        {Params: []string{"startdelay", "stopdelay"}},
	"ICP":          {Params: []string{"driveid", "device"}},
	"IPsrcaddr":    {Params: []string{"ipaddress"}},
	"LVM":          {Params: []string{"volgrpname"}},
	"LinuxSCSI":    {Params: []string{"scsi"}},
	"MailTo":       {Params: []string{"email", "subject"}},
	"Raid1":        {Params: []string{"raidconf", "raiddev"}},
	"ServeRAID":    {Params: []string{"serveraid", "mergegroup"}},
	"WinPopup":     {Params: []string{"hostfile"}},
	"Xinetd":       {Params: []string{"service"}},
	"apache":       {Params: []string{"configfile"}},
	"db2":          {Params: []string{"instance"}},
	"portblock":    {Params: []string{"protocol", "portno", "action"}},
}

// wrapper maps a resource of one of the wrappers above to its OCF agent.
func (b *builder) wrapper(g haresources.Group, r haresources.Resource, w wrapper) (*Primitive, *Clone) {
	args := r.Args
	if len(args) > len(w.Params) && !w.Rest {
		b.errorf(g.File, g.Line, "resource %s: %s takes at most %d arguments (%s), got %d", r.Raw, r.Script, len(w.Params), strings.Join(w.Params, ", "), len(args))
		return nil, nil
	}
	var params []NV
	for i, a := range args {
		if i >= len(w.Params)-1 && w.Rest {
			params = append(params, NV{Name: w.Params[len(w.Params)-1], Value: strings.Join(args[i:], " ")})
			break
		}
		params = append(params, NV{Name: w.Params[i], Value: a})
	}
	id := strings.ToLower(r.Script)
	if len(args) > 0 {
		id += "_" + slug(strings.Join(args, "_"))
	}
	p := b.prim(id, "ocf", "heartbeat", r.Script, params, monitorFast)
	p.Notes = append(p.Notes, fmt.Sprintf("%s: Heartbeat's resource.d wrapper runs this OCF agent with the same arguments", r.Raw))
	return p, nil
}
