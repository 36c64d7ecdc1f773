package xdp

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/dataplane/internal/cow"
)

// nextHop is how to put a packet for one destination on the wire: the
// egress interface and the Ethernet addresses. resolved is false while the
// kernel has no usable neighbour entry; such packets go to the kernel.
type nextHop struct {
	ifindex  int
	src, dst [6]byte
	resolved bool
}

// nkey is a destination in a VRF: the global table (VRF 0) and each VRF
// resolve next hops in routing tables of their own, and the same address
// may be a different host in each.
type nkey struct {
	vrf uint32
	a   netip.Addr
}

// maxNeighbours bounds the destination cache; destinations beyond it are
// handed to the kernel.
const maxNeighbours = 1 << 16

// neighbours caches, per destination address, the next hop the kernel's
// routing and neighbour tables give. Workers read an immutable snapshot
// (lookup never blocks nor allocates); misses are queued for the resolver
// goroutine, which rebuilds the snapshot on misses, on netlink neighbour
// notifications and periodically.
type neighbours struct {
	h    *netlink.Handle
	log  *slog.Logger
	snap atomic.Pointer[cow.Map[nkey, nextHop]]
	miss chan nkey
	// tables maps a VRF to the kernel routing table its next hops are
	// looked up in; VRF 0 and VRFs not in it use the kernel's own lookup
	// (the main table through the policy rules).
	tables map[uint32]int

	mu     sync.Mutex // guards wanted
	wanted map[nkey]struct{}

	refreshes atomic.Uint64
	errors    atomic.Uint64
}

// newNeighbours opens a netlink handle in the calling thread's network
// namespace. tables maps VRFs to their kernel routing tables (see
// neighbours.tables).
func newNeighbours(log *slog.Logger, tables map[uint32]int) (*neighbours, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("neighbour table: %w", err)
	}
	n := &neighbours{h: h, log: log, miss: make(chan nkey, 1024), wanted: map[nkey]struct{}{}, tables: tables}
	n.snap.Store(new(cow.Map[nkey, nextHop]))
	return n, nil
}

// lookup returns the next hop of dst in vrf; found is false on a cache
// miss. Misses and unresolved next hops are reported to the resolver
// without blocking, so a neighbour the kernel resolves (after the packets
// handed to it) is picked up with the next packet rather than at the next
// refresh.
func (n *neighbours) lookup(vrf uint32, dst netip.Addr) (nh nextHop, found bool) {
	k := nkey{vrf, dst}
	nh, found = n.snap.Load().Get(keyHash(k), k)
	if !found || !nh.resolved {
		select {
		case n.miss <- k:
		default:
		}
	}
	return nh, found
}

// keyHash is the cow.Map hash of a destination in a VRF.
func keyHash(k nkey) uint32 {
	b := k.a.As16()
	return cow.Hash128([2]uint64{binary.BigEndian.Uint64(b[:8]) ^ uint64(k.vrf)<<32, binary.BigEndian.Uint64(b[8:])})
}

// retryUnresolved is how often at most the resolver asks the kernel again
// about a next hop it found unresolved.
const retryUnresolved = 5 * time.Millisecond

// run resolves misses and refreshes the cache until ctx ends. events, when
// not nil, are the kernel's neighbour notifications. New destinations are
// resolved at once and merged into the snapshot; notifications mark the
// cache stale and trigger at most one full rebuild per 50 ms, so a busy
// LAN's neighbour churn does not turn into a rebuild per event.
func (n *neighbours) run(ctx context.Context, every time.Duration, events <-chan netlink.NeighUpdate) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	soon := time.NewTicker(50 * time.Millisecond)
	defer soon.Stop()
	stale := false
	var fresh []nkey
	tried := map[nkey]time.Time{} // unresolved next hops: last asked
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-n.miss:
			fresh = append(fresh[:0], a)
			// Take the burst of misses in one go.
		drain:
			for len(fresh) < 1024 {
				select {
				case a := <-n.miss:
					fresh = append(fresh, a)
				default:
					break drain
				}
			}
			n.add(fresh, tried)
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			stale = true
		case <-soon.C:
			if stale {
				stale = false
				n.refresh()
			}
		case <-tick.C:
			stale = false
			n.refresh()
			clear(tried)
		}
	}
}

// add resolves destinations not yet cached, and again those cached as
// unresolved that were not asked about within retryUnresolved (tried
// records when), and publishes a snapshot with them.
func (n *neighbours) add(addrs []nkey, tried map[nkey]time.Time) {
	cur := *n.snap.Load()
	now := time.Now()
	n.mu.Lock()
	var todo []nkey
	for _, a := range addrs {
		if nh, ok := cur.Get(keyHash(a), a); ok {
			if nh.resolved || now.Sub(tried[a]) < retryUnresolved || slices.Contains(todo, a) {
				continue
			}
			todo = append(todo, a)
			continue
		}
		if len(n.wanted) >= maxNeighbours {
			continue
		}
		if _, ok := n.wanted[a]; !ok {
			n.wanted[a] = struct{}{}
			todo = append(todo, a)
		}
	}
	n.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	// Copy-on-write of the changed parts only: a batch of new destinations
	// costs the same with 100 or 50,000 cached.
	next, o := cur, new(cow.Owner)
	r := newResolver(n)
	for _, a := range todo {
		nh := r.resolve(a)
		next, _ = next.With(keyHash(a), a, nh, false, o)
		if nh.resolved {
			delete(tried, a)
		} else {
			tried[a] = now
		}
	}
	n.snap.Store(&next)
}

// refresh rebuilds the snapshot for every wanted destination.
func (n *neighbours) refresh() {
	n.mu.Lock()
	want := make([]nkey, 0, len(n.wanted))
	for a := range n.wanted {
		want = append(want, a)
	}
	n.mu.Unlock()
	n.refreshes.Add(1)
	r := newResolver(n)
	var next cow.Map[nkey, nextHop]
	o := new(cow.Owner)
	for _, k := range want {
		next, _ = next.With(keyHash(k), k, r.resolve(k), false, o)
	}
	n.snap.Store(&next)
}

// resolver answers next-hop questions from one reading of each link's
// neighbour table.
type resolver struct {
	n      *neighbours
	links  map[int]*linkInfo
	tables map[int][]netlink.Route // VRF tables read so far
}

type linkInfo struct {
	mac    [6]byte
	neighs map[netip.Addr][6]byte
}

func newResolver(n *neighbours) *resolver {
	return &resolver{n: n, links: map[int]*linkInfo{}, tables: map[int][]netlink.Route{}}
}

func (r *resolver) link(idx int) *linkInfo {
	if li, ok := r.links[idx]; ok {
		return li
	}
	li := &linkInfo{neighs: map[netip.Addr][6]byte{}}
	r.links[idx] = li
	if l, err := r.n.h.LinkByIndex(idx); err == nil && len(l.Attrs().HardwareAddr) == 6 {
		copy(li.mac[:], l.Attrs().HardwareAddr)
	}
	neighs, err := r.n.h.NeighList(idx, netlink.FAMILY_ALL)
	if err != nil {
		r.n.errors.Add(1)
		return li
	}
	const usable = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT
	for _, e := range neighs {
		if e.State&usable == 0 || len(e.HardwareAddr) != 6 {
			continue
		}
		a, ok := netip.AddrFromSlice(e.IP)
		if !ok {
			continue
		}
		var mac [6]byte
		copy(mac[:], e.HardwareAddr)
		li.neighs[a.Unmap()] = mac
	}
	return li
}

// resolve returns the next hop of k from the kernel's route and neighbour
// tables: unresolved when there is no route or no usable neighbour entry.
func (r *resolver) resolve(k nkey) nextHop {
	dst := k.a
	var rt netlink.Route
	if t, ok := r.n.tables[k.vrf]; ok && k.vrf != 0 {
		var found bool
		if rt, found = r.lookupTable(t, dst); !found {
			return nextHop{}
		}
	} else {
		routes, err := r.n.h.RouteGet(net.IP(dst.AsSlice()))
		if err != nil || len(routes) == 0 {
			r.n.errors.Add(1)
			return nextHop{}
		}
		rt = routes[0]
	}
	if rt.LinkIndex == 0 {
		return nextHop{}
	}
	gw := dst
	if rt.Gw != nil {
		if a, ok := netip.AddrFromSlice(rt.Gw); ok {
			gw = a.Unmap()
		}
	}
	li := r.link(rt.LinkIndex)
	nh := nextHop{ifindex: rt.LinkIndex, src: li.mac}
	nh.dst, nh.resolved = li.neighs[gw]
	return nh
}

// close releases the netlink handle.
func (n *neighbours) close() { n.h.Close() }

// lookupTable returns the longest unicast route of a kernel routing table
// that covers dst. The kernel has no "route get" in a given table without
// an input interface, and a VRF's table is small: its connected subnets and
// its routes into the tunnels.
func (r *resolver) lookupTable(table int, dst netip.Addr) (best netlink.Route, found bool) {
	routes, ok := r.tables[table]
	if !ok {
		var err error
		routes, err = r.n.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
		if err != nil {
			r.n.errors.Add(1)
		}
		r.tables[table] = routes
	}
	bits := -1
	for _, rt := range routes {
		if rt.Type != unix.RTN_UNICAST {
			continue
		}
		var p netip.Prefix
		if rt.Dst == nil {
			if rt.Family == netlink.FAMILY_V6 {
				p = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
			} else {
				p = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			}
		} else {
			a, ok := netip.AddrFromSlice(rt.Dst.IP)
			if !ok {
				continue
			}
			ones, _ := rt.Dst.Mask.Size()
			p = netip.PrefixFrom(a.Unmap(), ones)
		}
		if p.Contains(dst) && p.Bits() > bits {
			best, bits, found = rt, p.Bits(), true
		}
	}
	return best, found
}
