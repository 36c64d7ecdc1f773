package xdp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nextHop is how to put a packet for one destination on the wire: the
// egress interface and the Ethernet addresses. resolved is false while the
// kernel has no usable neighbour entry; such packets go to the kernel.
type nextHop struct {
	ifindex  int
	src, dst [6]byte
	resolved bool
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
	snap atomic.Pointer[map[netip.Addr]nextHop]
	miss chan netip.Addr

	mu     sync.Mutex // guards wanted
	wanted map[netip.Addr]struct{}

	refreshes atomic.Uint64
	errors    atomic.Uint64
}

// newNeighbours opens a netlink handle in the calling thread's network
// namespace.
func newNeighbours(log *slog.Logger) (*neighbours, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("neighbour table: %w", err)
	}
	n := &neighbours{h: h, log: log, miss: make(chan netip.Addr, 1024), wanted: map[netip.Addr]struct{}{}}
	empty := map[netip.Addr]nextHop{}
	n.snap.Store(&empty)
	return n, nil
}

// lookup returns dst's next hop; found is false on a cache miss, which it
// reports to the resolver without blocking.
func (n *neighbours) lookup(dst netip.Addr) (nh nextHop, found bool) {
	nh, found = (*n.snap.Load())[dst]
	if !found {
		select {
		case n.miss <- dst:
		default:
		}
	}
	return nh, found
}

// run resolves misses and refreshes the cache until ctx ends. events, when
// not nil, are the kernel's neighbour notifications.
func (n *neighbours) run(ctx context.Context, every time.Duration, events <-chan netlink.NeighUpdate) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-n.miss:
			n.mu.Lock()
			if len(n.wanted) < maxNeighbours {
				n.wanted[a] = struct{}{}
			}
			n.mu.Unlock()
			// Collect the burst of misses before one refresh.
		drain:
			for {
				select {
				case a := <-n.miss:
					n.mu.Lock()
					if len(n.wanted) < maxNeighbours {
						n.wanted[a] = struct{}{}
					}
					n.mu.Unlock()
				default:
					break drain
				}
			}
			n.refresh()
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			n.refresh()
		case <-tick.C:
			n.refresh()
		}
	}
}

// refresh rebuilds the snapshot for every wanted destination.
func (n *neighbours) refresh() {
	n.mu.Lock()
	want := make([]netip.Addr, 0, len(n.wanted))
	for a := range n.wanted {
		want = append(want, a)
	}
	n.mu.Unlock()
	n.refreshes.Add(1)
	type linkInfo struct {
		mac    [6]byte
		neighs map[netip.Addr][6]byte
	}
	links := map[int]*linkInfo{}
	getLink := func(idx int) *linkInfo {
		if li, ok := links[idx]; ok {
			return li
		}
		li := &linkInfo{neighs: map[netip.Addr][6]byte{}}
		links[idx] = li
		if l, err := n.h.LinkByIndex(idx); err == nil && len(l.Attrs().HardwareAddr) == 6 {
			copy(li.mac[:], l.Attrs().HardwareAddr)
		}
		neighs, err := n.h.NeighList(idx, netlink.FAMILY_ALL)
		if err != nil {
			n.errors.Add(1)
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
	next := make(map[netip.Addr]nextHop, len(want))
	for _, dst := range want {
		routes, err := n.h.RouteGet(net.IP(dst.AsSlice()))
		if err != nil || len(routes) == 0 {
			n.errors.Add(1)
			next[dst] = nextHop{}
			continue
		}
		r := routes[0]
		gw := dst
		if r.Gw != nil {
			if a, ok := netip.AddrFromSlice(r.Gw); ok {
				gw = a.Unmap()
			}
		}
		li := getLink(r.LinkIndex)
		nh := nextHop{ifindex: r.LinkIndex, src: li.mac}
		nh.dst, nh.resolved = li.neighs[gw]
		next[dst] = nh
	}
	n.snap.Store(&next)
}

// close releases the netlink handle.
func (n *neighbours) close() { n.h.Close() }
