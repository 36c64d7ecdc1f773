package mpls

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
)

// Key names what a label stands for: a VRF (per-VRF, "aggregate" label,
// Prefix invalid) or one prefix in a VRF (per-prefix label).
type Key struct {
	VRF    uint32
	Prefix netip.Prefix
}

func (k Key) String() string {
	if !k.Prefix.IsValid() {
		return fmt.Sprintf("vrf %d", k.VRF)
	}
	return fmt.Sprintf("vrf %d %s", k.VRF, k.Prefix)
}

// Errors of the Allocator.
var (
	ErrExhausted = errors.New("mpls: label range exhausted")
	ErrConflict  = errors.New("mpls: label already bound to something else")
	ErrNotHeld   = errors.New("mpls: client holds no label for this key")
)

// Allocator hands out local labels from a range, one per Key, shared by
// every client that asks for the same Key: BGP and NHRP asking for the
// label of VRF cust1 get the same label, as IOS's MFI does, and it is freed
// only when the last client releases it. Freed labels go back to the pool
// but the allocator walks the range round-robin, so a label is not reused
// until the rest of the range has been, which keeps packets still carrying
// an old label from landing in a new VRF.
//
// An Allocator is safe for concurrent use.
type Allocator struct {
	mu       sync.Mutex
	min, max Label
	next     Label
	byKey    map[Key]*allocation
	byLabel  map[Label]*allocation
}

type allocation struct {
	key     Key
	label   Label
	clients map[string]int // client -> reference count
}

// NewAllocator returns an allocator for the labels min..max inclusive,
// which must be unreserved (≥ 16) 20-bit labels.
func NewAllocator(min, max Label) (*Allocator, error) {
	if min < MinUnreserved || max > MaxLabel || min > max {
		return nil, fmt.Errorf("mpls: label range %d-%d: want %d ≤ min ≤ max ≤ %d", min, max, MinUnreserved, MaxLabel)
	}
	return &Allocator{min: min, max: max, next: min, byKey: map[Key]*allocation{}, byLabel: map[Label]*allocation{}}, nil
}

// Get returns the label for k, allocating one if k has none, and adds a
// reference for client.
func (a *Allocator) Get(k Key, client string) (Label, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if al := a.byKey[k]; al != nil {
		al.clients[client]++
		return al.label, nil
	}
	size := uint32(a.max-a.min) + 1
	if uint32(len(a.byLabel)) >= size {
		return 0, fmt.Errorf("get label for %v: %w", k, ErrExhausted)
	}
	for {
		l := a.next
		if a.next == a.max {
			a.next = a.min
		} else {
			a.next++
		}
		if a.byLabel[l] == nil {
			a.bind(k, l, client)
			return l, nil
		}
	}
}

// VRFLabel is Get for the per-VRF label of vrf.
func (a *Allocator) VRFLabel(vrf uint32, client string) (Label, error) {
	return a.Get(Key{VRF: vrf}, client)
}

// Adopt records a label chosen elsewhere (a BGP daemon that allocated its
// VPN label itself) for k, with a reference for client, so that later Get
// calls for k return it. It fails if k already has another label or the
// label belongs to another key.
func (a *Allocator) Adopt(k Key, l Label, client string) error {
	if l.Reserved() || !l.Valid() {
		return fmt.Errorf("adopt label %d for %v: %w", l, k, ErrBadLabel)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if al := a.byKey[k]; al != nil {
		if al.label != l {
			return fmt.Errorf("adopt label %d for %v: it has label %d: %w", l, k, al.label, ErrConflict)
		}
		al.clients[client]++
		return nil
	}
	if al := a.byLabel[l]; al != nil {
		return fmt.Errorf("adopt label %d for %v: bound to %v: %w", l, k, al.key, ErrConflict)
	}
	a.bind(k, l, client)
	return nil
}

func (a *Allocator) bind(k Key, l Label, client string) {
	al := &allocation{key: k, label: l, clients: map[string]int{client: 1}}
	a.byKey[k] = al
	a.byLabel[l] = al
}

// Release drops one reference of client on k's label. It reports the label
// and whether it was freed (no references left).
func (a *Allocator) Release(k Key, client string) (Label, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	al := a.byKey[k]
	if al == nil || al.clients[client] == 0 {
		return 0, false, fmt.Errorf("release %v for %s: %w", k, client, ErrNotHeld)
	}
	al.clients[client]--
	if al.clients[client] == 0 {
		delete(al.clients, client)
	}
	if len(al.clients) > 0 {
		return al.label, false, nil
	}
	delete(a.byKey, k)
	delete(a.byLabel, al.label)
	return al.label, true, nil
}

// ReleaseClient drops every reference client holds (the client went away)
// and returns the labels that were freed, in ascending order.
func (a *Allocator) ReleaseClient(client string) []Label {
	a.mu.Lock()
	defer a.mu.Unlock()
	var freed []Label
	for k, al := range a.byKey {
		if al.clients[client] == 0 {
			continue
		}
		delete(al.clients, client)
		if len(al.clients) == 0 {
			delete(a.byKey, k)
			delete(a.byLabel, al.label)
			freed = append(freed, al.label)
		}
	}
	sort.Slice(freed, func(i, j int) bool { return freed[i] < freed[j] })
	return freed
}

// Owner returns what label l stands for and its clients (sorted).
func (a *Allocator) Owner(l Label) (Key, []string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	al := a.byLabel[l]
	if al == nil {
		return Key{}, nil, false
	}
	cs := make([]string, 0, len(al.clients))
	for c := range al.clients {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return al.key, cs, true
}

// InUse returns how many labels are allocated.
func (a *Allocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byLabel)
}
