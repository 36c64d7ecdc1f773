package xdp

// Status is what `esphubctl show dataplane` prints for a backend: which
// backend runs, its queues and workers, and every counter an operator needs
// to see where packets go or why they are lost. Field names are the JSON
// names of `show dataplane -o json`.
type Status struct {
	Backend string `json:"backend"` // "af_xdp" or "portable"
	// Reason says why the backend was chosen (see Choose).
	Reason     string            `json:"reason,omitempty"`
	Interfaces []InterfaceStatus `json:"interfaces,omitempty"`
	Queues     []QueueStatus     `json:"queues,omitempty"`
	// Verdicts are the steering programs' per-verdict packet and byte
	// counters, summed over CPUs and interfaces.
	Verdicts map[string]Counter `json:"verdicts,omitempty"`
	// Drops are the engine's drop counters by reason (non-zero only).
	Drops map[string]uint64 `json:"drops"`
	// KernelPath counts packets handed to the kernel (unresolved next hop).
	KernelPath      uint64 `json:"kernel_path"`
	KernelPathError uint64 `json:"kernel_path_errors"`
	// PuntDropped counts control-plane packets dropped because the control
	// plane lagged (all punt slots full) or they were too large.
	PuntDropped uint64 `json:"punt_dropped"`
	// Neighbours is the size of the next-hop cache, NeighbourRefreshes how
	// often it was rebuilt.
	Neighbours         int      `json:"neighbours"`
	NeighbourRefreshes uint64   `json:"neighbour_refreshes"`
	Features           Features `json:"features"`
}

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// InterfaceStatus is one interface the backend attached to.
type InterfaceStatus struct {
	Name    string `json:"name"`
	Ifindex int    `json:"ifindex"`
	Role    string `json:"role"`     // wan or lan
	XDPMode string `json:"xdp_mode"` // driver or generic
	VRF     uint32 `json:"vrf"`
}

// QueueStatus is one worker: its queue, CPU and counters.
type QueueStatus struct {
	Queue     int    `json:"queue"`
	CPU       int    `json:"cpu"`
	ZeroCopy  bool   `json:"zero_copy"`
	RxWAN     uint64 `json:"rx_wan"`
	RxLAN     uint64 `json:"rx_lan"`
	TxWAN     uint64 `json:"tx_wan"`
	TxLAN     uint64 `json:"tx_lan"`
	ToKernel  uint64 `json:"to_kernel"`
	Punted    uint64 `json:"punted"`
	Consumed  uint64 `json:"consumed"`
	Dropped   uint64 `json:"dropped"` // by the engine; reasons in Status.Drops
	HandedOff uint64 `json:"handed_off"`
	HandoffRx uint64 `json:"handoff_rx"`
	// Drop reasons of the backend itself.
	NotIP        uint64 `json:"drop_not_ip"`
	TXRingFull   uint64 `json:"drop_tx_ring_full"`
	HandoffFull  uint64 `json:"drop_handoff_full"`
	NoFrame      uint64 `json:"drop_no_frame"`
	TTLExpired   uint64 `json:"drop_ttl_expired"`
	KernelRxDrop uint64 `json:"kernel_rx_dropped"` // sum of the sockets' XDP_STATISTICS rx_dropped
	FramesFree   int    `json:"frames_free"`
	FramesInUse  int    `json:"frames_in_use"`
}
