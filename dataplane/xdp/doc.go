// Package xdp is esphub's fast dataplane backend: the XDP steering programs
// (package bpf) send ESP arriving on the WAN interfaces and protected
// traffic arriving on LAN interfaces (each matched against its VRF's
// protected prefixes) to AF_XDP sockets (package afxdp), and
// one worker per receive queue, pinned to a CPU, runs the shared packet
// engine (dataplane.Worker) over each received batch in place in UMEM,
// rewrites the Ethernet header from the kernel's neighbour table and
// transmits the batch on the egress interface's socket. It implements
// dataplane.Control like the portable backend and shares all packet code
// with it.
//
// Packets whose next hop has no resolved neighbour (or leaves through an
// interface the backend does not own) are handed to the kernel through a raw
// IP socket, so the kernel resolves ARP/ND and routes them; the neighbour
// table the workers read is refreshed from netlink notifications and
// periodically. Next hops are looked up per VRF: the global table through
// the kernel's own route lookup, a VRF in its kernel routing table
// (Config.VRFs); a VRF's packets to unresolved next hops go to the VRF's
// device (Config.VRFs[id].Kernel) so that the kernel routes them in the
// VRF.
//
// Interfaces: SetInterfaces replaces the served WANs and LANs while Run
// runs (hotplug); the workers stop between batches, every interface is
// detached and the new set attached, and engine state, the neighbour cache
// and the protected-prefix maps are kept.
//
// Punts: control-plane packets the engine punts (NHRP) are copied into
// preallocated slots and delivered to Config.Punt by one goroutine, so the
// callback may call Inject, which waits for a worker.
//
// Checksums: XDP sees a frame's bytes only, not the kernel's note that a
// TCP or UDP checksum is still to be filled in by the device. Frames from
// real NICs always carry complete checksums, but a LAN interface that is a
// veth (containers, network namespaces) receives its peer's unfinished
// checksums unless transmit checksum offload is off on the peer
// (`ethtool -K PEER tx off`; `offload: off` on a lab link). The backend
// cannot repair them: in the frame, an unfinished checksum looks like a
// wrong one. esphubd warns at start for every veth LAN interface.
//
// Queues: the backend serves receive queues 0..Config.Queues-1. Packets on
// other queues find no socket in the XSKMAP and pass to the kernel, as do
// packets on interfaces it does not own; esphubd keeps its portable path
// (TUN device, underlay sockets) on the same engine for them and for the
// host's own traffic into the overlay.
//
// SA affinity: with several workers, an inbound ESP packet is processed by
// the worker that owns its SPI (SPI modulo the number of workers) and an
// outbound packet by the worker that owns its tunnel, so an SA's replay
// window and sequence numbers have one writer. A packet that arrives on
// another worker's queue is copied into a lock-free single-producer,
// single-consumer ring towards its owner; nothing on the packet path takes
// a lock.
package xdp
