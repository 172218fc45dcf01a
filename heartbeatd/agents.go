package main

// The built-in resource agents register themselves with internal/agent.
import (
	_ "heartbeatd/internal/agent/drbddisk"
	_ "heartbeatd/internal/agent/filesystem"
	_ "heartbeatd/internal/agent/ipaddr"
	_ "heartbeatd/internal/agent/ipv6addr"
	_ "heartbeatd/internal/agent/iscsi"
	_ "heartbeatd/internal/agent/scst"
)
