package afxdp

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is the shared producer/consumer index pair of one AF_XDP ring, with
// cached copies of the side the kernel owns so that most operations touch
// no shared cache line. The kernel publishes entries before it moves its
// index, and reads ours likewise; Go's atomic loads and stores are
// sequentially consistent, which is at least the acquire/release order
// the protocol needs.
type ring struct {
	producer *uint32
	consumer *uint32
	flags    *uint32
	mask     uint32
	size     uint32

	cachedProd uint32
	cachedCons uint32

	mem []byte // the mmap'ed region, for munmap
}

// mapRing mmaps one ring of size entries of entrySize bytes.
func mapRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32, entrySize uintptr) (ring, unsafe.Pointer, error) {
	length := int(off.Desc) + int(size)*int(entrySize)
	mem, err := unix.Mmap(fd, pgoff, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return ring{}, nil, fmt.Errorf("mmap ring at %#x: %w", pgoff, err)
	}
	base := unsafe.Pointer(&mem[0])
	r := ring{
		producer: (*uint32)(unsafe.Add(base, off.Producer)),
		consumer: (*uint32)(unsafe.Add(base, off.Consumer)),
		flags:    (*uint32)(unsafe.Add(base, off.Flags)),
		mask:     size - 1,
		size:     size,
		mem:      mem,
	}
	r.cachedProd = atomic.LoadUint32(r.producer)
	r.cachedCons = atomic.LoadUint32(r.consumer)
	return r, unsafe.Add(base, off.Desc), nil
}

func (r *ring) unmap() {
	if r.mem != nil {
		_ = unix.Munmap(r.mem)
		r.mem = nil
	}
}

// needWakeup reports whether the kernel asked for a syscall to make
// progress on this ring (XDP_RING_NEED_WAKEUP).
func (r *ring) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

// prodFree returns how many entries the producer (us) may write, reading
// the kernel's consumer index only when the cached one says too few.
func (r *ring) prodFree(want uint32) uint32 {
	free := r.size - (r.cachedProd - r.cachedCons)
	if free >= want {
		return free
	}
	r.cachedCons = atomic.LoadUint32(r.consumer)
	return r.size - (r.cachedProd - r.cachedCons)
}

// prodSubmit publishes n entries written at cachedProd..cachedProd+n.
func (r *ring) prodSubmit(n uint32) {
	r.cachedProd += n
	atomic.StoreUint32(r.producer, r.cachedProd)
}

// prodPending returns how many submitted entries the kernel has not yet
// consumed.
func (r *ring) prodPending() uint32 {
	r.cachedCons = atomic.LoadUint32(r.consumer)
	return r.cachedProd - r.cachedCons
}

// consAvail returns how many entries are ready for the consumer (us).
func (r *ring) consAvail(want uint32) uint32 {
	avail := r.cachedProd - r.cachedCons
	if avail >= want {
		return avail
	}
	r.cachedProd = atomic.LoadUint32(r.producer)
	return r.cachedProd - r.cachedCons
}

// consRelease gives n consumed entries back to the kernel.
func (r *ring) consRelease(n uint32) {
	r.cachedCons += n
	atomic.StoreUint32(r.consumer, r.cachedCons)
}

// addrRing is a fill or completion ring: entries are UMEM addresses.
type addrRing struct {
	ring
	addrs []uint64
}

func mapAddrRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32) (addrRing, error) {
	r, p, err := mapRing(fd, pgoff, off, size, 8)
	if err != nil {
		return addrRing{}, err
	}
	return addrRing{ring: r, addrs: unsafe.Slice((*uint64)(p), size)}, nil
}

// descRing is an RX or TX ring: entries are xdp_desc.
type descRing struct {
	ring
	descs []Desc
}

func mapDescRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32) (descRing, error) {
	r, p, err := mapRing(fd, pgoff, off, size, unsafe.Sizeof(Desc{}))
	if err != nil {
		return descRing{}, err
	}
	return descRing{ring: r, descs: unsafe.Slice((*Desc)(p), size)}, nil
}
