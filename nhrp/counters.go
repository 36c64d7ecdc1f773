package nhrp

import (
	"sync/atomic"

	"github.com/esphub/esphub/nhrp/wire"
)

// DropReason says why a received packet or event was not acted on.
type DropReason uint8

// Drop reasons, each with a counter.
const (
	DropMalformed       DropReason = iota // failed to decode (any code)
	DropChecksum                          // bad checksum or truncated header: silently dropped
	DropUnknownTunnel                     // arrived on a tunnel the Node does not know
	DropAuth                              // authentication extension missing or wrong
	DropHopCount                          // hop count exhausted while forwarding
	DropLoop                              // our own record already in the transit list
	DropNoRoute                           // no route toward the destination
	DropNotOwned                          // resolution for a prefix this node does not serve
	DropNoShortcut                        // shortcut or redirect not configured
	DropUnexpectedReply                   // reply with no matching request
	DropInvalidReply                      // reply that does not answer the request
	DropUnsupportedType                   // registration, purge
	DropRateLimited                       // redirect suppressed by the redirect timeout
	DropNotSameNetwork                    // hairpin between different network-ids
	DropBadIndication                     // traffic indication without a usable quoted packet
	DropBusy                              // too many replies waiting for tunnels
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropMalformed:       "malformed",
	DropChecksum:        "checksum",
	DropUnknownTunnel:   "unknown_tunnel",
	DropAuth:            "authentication",
	DropHopCount:        "hop_count_exceeded",
	DropLoop:            "loop_detected",
	DropNoRoute:         "no_route",
	DropNotOwned:        "prefix_not_owned",
	DropNoShortcut:      "shortcut_disabled",
	DropUnexpectedReply: "unexpected_reply",
	DropInvalidReply:    "invalid_reply",
	DropUnsupportedType: "unsupported_type",
	DropRateLimited:     "redirect_rate_limited",
	DropNotSameNetwork:  "different_network_id",
	DropBadIndication:   "bad_traffic_indication",
	DropBusy:            "pending_replies_full",
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// counters are the Node's NHRP traffic counters (`show ip nhrp traffic`).
// They are updated atomically; read them with Node.Stats.
type counters struct {
	Received                 atomic.Uint64
	TrafficIndicationsSent   atomic.Uint64
	TrafficIndicationsRecv   atomic.Uint64
	ResolutionRequestsSent   atomic.Uint64
	ResolutionRequestsRecv   atomic.Uint64
	ResolutionRequestsFwd    atomic.Uint64
	ResolutionRepliesSent    atomic.Uint64
	ResolutionRepliesRecv    atomic.Uint64
	ResolutionRepliesFwd     atomic.Uint64
	ResolutionRetries        atomic.Uint64
	ResolutionTimeouts       atomic.Uint64
	ErrorIndicationsSent     atomic.Uint64
	ErrorIndicationsRecv     atomic.Uint64
	ShortcutsInstalled       atomic.Uint64
	ShortcutsRemoved         atomic.Uint64
	ShortcutsRefreshed       atomic.Uint64
	ShortcutsMoved           atomic.Uint64
	TunnelsReleased          atomic.Uint64
	TunnelsRequested         atomic.Uint64
	SendErrors, EncodeErrors atomic.Uint64
	drops                    [numDropReasons]atomic.Uint64
}

// Stats is a snapshot of the Node's counters, JSON friendly.
type Stats struct {
	Received               uint64 `json:"received"`
	TrafficIndicationsSent uint64 `json:"traffic_indications_sent"`
	TrafficIndicationsRecv uint64 `json:"traffic_indications_received"`
	ResolutionRequestsSent uint64 `json:"resolution_requests_sent"`
	ResolutionRequestsRecv uint64 `json:"resolution_requests_received"`
	ResolutionRequestsFwd  uint64 `json:"resolution_requests_forwarded"`
	ResolutionRepliesSent  uint64 `json:"resolution_replies_sent"`
	ResolutionRepliesRecv  uint64 `json:"resolution_replies_received"`
	ResolutionRepliesFwd   uint64 `json:"resolution_replies_forwarded"`
	ResolutionRetries      uint64 `json:"resolution_retries"`
	ResolutionTimeouts     uint64 `json:"resolution_timeouts"`
	ErrorIndicationsSent   uint64 `json:"error_indications_sent"`
	ErrorIndicationsRecv   uint64 `json:"error_indications_received"`
	ShortcutsInstalled     uint64 `json:"shortcuts_installed"`
	ShortcutsRemoved       uint64 `json:"shortcuts_removed"`
	ShortcutsRefreshed     uint64 `json:"shortcuts_refreshed"`
	// ShortcutsMoved counts cache entries moved to the surviving tunnel
	// when a redundant spoke-to-spoke tunnel to the same peer went down.
	ShortcutsMoved uint64 `json:"shortcuts_moved"`
	// TunnelsReleased counts spoke-to-spoke tunnels closed because no
	// entry used them any more.
	TunnelsReleased  uint64            `json:"tunnels_released"`
	TunnelsRequested uint64            `json:"tunnels_requested"`
	SendErrors       uint64            `json:"send_errors"`
	EncodeErrors     uint64            `json:"encode_errors"`
	Drops            map[string]uint64 `json:"drops"`
}

// Stats returns a snapshot of the counters. Drops lists every reason, zero
// or not, so that metrics keep a stable label set.
func (n *Node) Stats() Stats {
	c := &n.ctr
	s := Stats{
		Received:               c.Received.Load(),
		TrafficIndicationsSent: c.TrafficIndicationsSent.Load(),
		TrafficIndicationsRecv: c.TrafficIndicationsRecv.Load(),
		ResolutionRequestsSent: c.ResolutionRequestsSent.Load(),
		ResolutionRequestsRecv: c.ResolutionRequestsRecv.Load(),
		ResolutionRequestsFwd:  c.ResolutionRequestsFwd.Load(),
		ResolutionRepliesSent:  c.ResolutionRepliesSent.Load(),
		ResolutionRepliesRecv:  c.ResolutionRepliesRecv.Load(),
		ResolutionRepliesFwd:   c.ResolutionRepliesFwd.Load(),
		ResolutionRetries:      c.ResolutionRetries.Load(),
		ResolutionTimeouts:     c.ResolutionTimeouts.Load(),
		ErrorIndicationsSent:   c.ErrorIndicationsSent.Load(),
		ErrorIndicationsRecv:   c.ErrorIndicationsRecv.Load(),
		ShortcutsInstalled:     c.ShortcutsInstalled.Load(),
		ShortcutsRemoved:       c.ShortcutsRemoved.Load(),
		ShortcutsRefreshed:     c.ShortcutsRefreshed.Load(),
		ShortcutsMoved:         c.ShortcutsMoved.Load(),
		TunnelsReleased:        c.TunnelsReleased.Load(),
		TunnelsRequested:       c.TunnelsRequested.Load(),
		SendErrors:             c.SendErrors.Load(),
		EncodeErrors:           c.EncodeErrors.Load(),
		Drops:                  make(map[string]uint64, numDropReasons),
	}
	for r := DropReason(0); r < numDropReasons; r++ {
		s.Drops[r.String()] = c.drops[r].Load()
	}
	return s
}

// Dropped returns the counter of one drop reason.
func (n *Node) Dropped(r DropReason) uint64 {
	if r >= numDropReasons {
		return 0
	}
	return n.ctr.drops[r].Load()
}

func (n *Node) drop(r DropReason) { n.ctr.drops[r].Add(1) }

func (n *Node) countSent(p *wire.Packet) {
	switch p.Type {
	case wire.TypeTrafficIndication:
		n.ctr.TrafficIndicationsSent.Add(1)
	case wire.TypeResolutionRequest:
		n.ctr.ResolutionRequestsSent.Add(1)
	case wire.TypeResolutionReply:
		n.ctr.ResolutionRepliesSent.Add(1)
	case wire.TypeErrorIndication:
		n.ctr.ErrorIndicationsSent.Add(1)
	}
}

func (n *Node) countReceived(p *wire.Packet) {
	switch p.Type {
	case wire.TypeTrafficIndication:
		n.ctr.TrafficIndicationsRecv.Add(1)
	case wire.TypeResolutionRequest:
		n.ctr.ResolutionRequestsRecv.Add(1)
	case wire.TypeResolutionReply:
		n.ctr.ResolutionRepliesRecv.Add(1)
	case wire.TypeErrorIndication:
		n.ctr.ErrorIndicationsRecv.Add(1)
	}
}

// Metric is one counter as a metrics exporter (Prometheus, in the daemon)
// publishes it: a name, at most one label, and a monotonically increasing
// value.
type Metric struct {
	Name       string
	Help       string
	LabelName  string // empty: no label
	LabelValue string
	Value      uint64
}

// Metrics lists the counters of s under stable Prometheus-style names.
func (s Stats) Metrics() []Metric {
	typ := func(dir, t string, v uint64) Metric {
		return Metric{Name: "esphub_nhrp_packets_" + dir + "_total", Help: "NHRP packets " + dir + " by type.",
			LabelName: "type", LabelValue: t, Value: v}
	}
	out := []Metric{
		typ("sent", "traffic_indication", s.TrafficIndicationsSent),
		typ("sent", "resolution_request", s.ResolutionRequestsSent),
		typ("sent", "resolution_reply", s.ResolutionRepliesSent),
		typ("sent", "error_indication", s.ErrorIndicationsSent),
		typ("received", "traffic_indication", s.TrafficIndicationsRecv),
		typ("received", "resolution_request", s.ResolutionRequestsRecv),
		typ("received", "resolution_reply", s.ResolutionRepliesRecv),
		typ("received", "error_indication", s.ErrorIndicationsRecv),
		typ("forwarded", "resolution_request", s.ResolutionRequestsFwd),
		typ("forwarded", "resolution_reply", s.ResolutionRepliesFwd),
		{Name: "esphub_nhrp_resolution_retries_total", Help: "Resolution requests retransmitted.", Value: s.ResolutionRetries},
		{Name: "esphub_nhrp_resolution_timeouts_total", Help: "Resolutions abandoned without an answer.", Value: s.ResolutionTimeouts},
		{Name: "esphub_nhrp_shortcut_routes_installed_total", Help: "Shortcut routes installed.", Value: s.ShortcutsInstalled},
		{Name: "esphub_nhrp_shortcut_routes_removed_total", Help: "Shortcut routes removed.", Value: s.ShortcutsRemoved},
		{Name: "esphub_nhrp_shortcut_refreshes_total", Help: "Shortcuts re-resolved while in use.", Value: s.ShortcutsRefreshed},
		{Name: "esphub_nhrp_shortcut_entries_moved_total", Help: "Cache entries moved to a surviving spoke-to-spoke tunnel to the same peer.", Value: s.ShortcutsMoved},
		{Name: "esphub_nhrp_tunnels_requested_total", Help: "Spoke-to-spoke tunnels asked of IKEv2.", Value: s.TunnelsRequested},
		{Name: "esphub_nhrp_tunnels_released_total", Help: "Spoke-to-spoke tunnels closed because no NHRP entry used them.", Value: s.TunnelsReleased},
		{Name: "esphub_nhrp_send_errors_total", Help: "Packets the tunnel refused.", Value: s.SendErrors},
	}
	for r := DropReason(0); r < numDropReasons; r++ {
		out = append(out, Metric{Name: "esphub_nhrp_drops_total", Help: "NHRP packets and events dropped, by reason.",
			LabelName: "reason", LabelValue: r.String(), Value: s.Drops[r.String()]})
	}
	return out
}
