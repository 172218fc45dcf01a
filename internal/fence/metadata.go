package fence

import (
	"context"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"heartbeatd/internal/config"
)

// Param is one parameter a plugin or agent takes.
type Param struct {
	Name string
	// Required: the device cannot work without it. Every name a stonith
	// plugin lists is required (-p and -F give them all, in order).
	Required bool
	// Deprecated: an old spelling kept for compatibility (fence-agents);
	// the parameter whose Obsoletes names it is the current one.
	Deprecated bool
	// Obsoletes is the older name this parameter replaces (ip obsoletes
	// ipaddr); either satisfies a requirement.
	Obsoletes string
	// Type and Default are the metadata's content type and default.
	Type, Default string
}

// Metadata is what a fence agent says about itself (`fence_X -o metadata`).
type Metadata struct {
	Agent   string
	Params  []Param
	Actions []string
}

// normKey spells a parameter name as the agents compare it: they accept
// '-' for '_'.
func normKey(k string) string { return strings.ReplaceAll(k, "-", "_") }

// Param returns the parameter called name ('-' and '_' alike).
func (m *Metadata) Param(name string) (Param, bool) {
	name = normKey(name)
	for _, p := range m.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// HasAction reports whether the agent offers action.
func (m *Metadata) HasAction(action string) bool { return slices.Contains(m.Actions, action) }

// ResetAction is the action that fences: reboot, or off for agents that
// cannot reboot (fabric fencing such as fence_scsi), or "" for neither.
func (m *Metadata) ResetAction() string {
	for _, a := range []string{"reboot", "off"} {
		if m.HasAction(a) {
			return a
		}
	}
	return ""
}

// StatusAction is the action that checks the device: monitor (the device
// itself, no plug needed), else status, else "".
func (m *Metadata) StatusAction() string {
	for _, a := range []string{"monitor", "status"} {
		if m.HasAction(a) {
			return a
		}
	}
	return ""
}

// HostParam is the parameter that names the node to fence for dev: plug,
// else port, else nodename, the first the agent offers. It is "" when the
// agent offers none (fence_dummy, whose device is one machine), when the
// agent takes its plug as the device's address (port_as_ip: fence_ipmilan
// and the other management boards fence the one machine at ip=), or when
// dev's line sets the parameter itself (a virtual machine whose name is
// not its node's).
func (m *Metadata) HostParam(dev config.FenceDevice) string {
	if _, ok := m.Param("port_as_ip"); ok {
		return ""
	}
	set := func(keys ...string) bool {
		for _, a := range dev.Args {
			if slices.Contains(keys, normKey(a.Key)) {
				return true
			}
		}
		return false
	}
	for _, key := range []string{"plug", "port", "nodename"} {
		if _, ok := m.Param(key); !ok {
			continue
		}
		if key == "nodename" && set("nodename") || key != "nodename" && set("plug", "port") {
			return ""
		}
		return key
	}
	return ""
}

// ParseMetadata reads an agent's metadata XML.
func ParseMetadata(agent string, data []byte) (*Metadata, error) {
	var doc struct {
		XMLName    xml.Name `xml:"resource-agent"`
		Parameters []struct {
			Name       string `xml:"name,attr"`
			Required   string `xml:"required,attr"`
			Deprecated string `xml:"deprecated,attr"`
			Obsoletes  string `xml:"obsoletes,attr"`
			Content    struct {
				Type    string `xml:"type,attr"`
				Default string `xml:"default,attr"`
			} `xml:"content"`
		} `xml:"parameters>parameter"`
		Actions []struct {
			Name string `xml:"name,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: metadata is not resource-agent XML: %w", agent, err)
	}
	m := &Metadata{Agent: agent}
	for _, p := range doc.Parameters {
		if p.Name == "" {
			continue
		}
		m.Params = append(m.Params, Param{
			Name: normKey(p.Name), Required: p.Required == "1", Deprecated: p.Deprecated == "1",
			Obsoletes: normKey(p.Obsoletes), Type: p.Content.Type, Default: p.Content.Default,
		})
	}
	for _, a := range doc.Actions {
		m.Actions = append(m.Actions, a.Name)
	}
	if len(m.Actions) == 0 {
		return nil, fmt.Errorf("%s: metadata lists no actions", agent)
	}
	return m, nil
}

// Metadata runs `AGENT -o metadata` once per agent and Runner and keeps
// the parsed answer.
func (r *Runner) Metadata(ctx context.Context, agent string) (*Metadata, Result) {
	if !strings.HasPrefix(agent, "fence_") {
		agent = "fence_" + agent
	}
	if strings.ContainsRune(agent, '/') {
		return nil, Result{Outcome: Failed, RC: -1, Command: agent, Err: fmt.Errorf("%q is not a fence agent name", agent)}
	}
	path := filepath.Join(r.agentDir(), agent)
	r.mu.Lock()
	m := r.meta[path]
	r.mu.Unlock()
	if m != nil {
		return m, Result{Outcome: OK, RC: 0, Command: agent + " -o metadata"}
	}
	ctx, cancel := r.deadline(ctx)
	defer cancel()
	res := r.run(ctx, call{path: path, args: []string{"-o", "metadata"}, shown: agent + " -o metadata"})
	if res.Outcome == NotInstalled {
		res.Err = fmt.Errorf("fence agent %s is not installed (no %s; install fence-agents): %w", agent, path, res.Err)
	}
	if !res.OK() {
		return nil, res
	}
	if res.Truncated {
		res.Outcome, res.Err = Failed, fmt.Errorf("%s: metadata is larger than %d bytes", agent, len(res.Stdout))
		return nil, res
	}
	m, err := ParseMetadata(agent, []byte(res.Stdout))
	if err != nil {
		res.Outcome, res.Err = Failed, err
		return nil, res
	}
	r.mu.Lock()
	if r.meta == nil {
		r.meta = map[string]*Metadata{}
	}
	r.meta[path] = m
	r.mu.Unlock()
	return m, res
}
