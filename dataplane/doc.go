// Package dataplane is esphub's packet engine: the code every I/O backend
// (AF_XDP, portable TUN+sockets) shares to turn overlay packets into ESP and
// back. It does no I/O and starts no goroutines.
//
// Outbound, a worker takes IP packets from the overlay (LAN side), looks the
// destination up in the VRF's FIB, and for a tunnel next hop builds
// [CMD/SGT] [GRE] [MPLS] in the headroom in front of the packet, seals it in
// ESP with the tunnel's outbound SA, and adds the outer IPv4/IPv6 header
// (and UDP for NAT-T, from a header template built once per tunnel).
// Inbound, it works in phases over the batch, as VPP does: find the SA by
// SPI and check the replay window for every packet, then open the ESP
// packets, then advance the windows, then strip CMD/GRE/MPLS and route each
// inner packet: to the host side, or, between two tunnels, back out (a
// hairpin, reported to NHRP). Within a batch a worker remembers the last
// VRF's FIB and the last tunnel it looked up.
//
// Packets move in batches ([]*Packet). The engine never logs or returns
// errors per packet: it sets a Verdict and, for drops, counts a DropReason.
// Control changes (SAs, tunnels, routes, SGT and label tables) go through
// the Engine's methods (the Control interface), which publish immutable
// snapshots that the packet path reads without locks.
//
// Concurrency: each goroutine that moves packets owns a Worker. Workers may
// share SAs: an outbound SA's sequence number is an atomic counter from
// which a worker reserves a block per run of packets (returning what it
// did not use when no other worker reserved since, so that with one worker
// per SA the numbers have no gaps), and an inbound SA's replay window sits
// behind a mutex, taken once per run of packets per phase, that is
// uncontended when, as the architecture intends, one worker receives each
// SA. Per-SA and per-tunnel counters and lifetime checks work per run of
// packets on the same SA, so readers of statistics may lag by one batch
// and, with several workers on one SA, lifetimes hold to within a batch
// per worker.
package dataplane
