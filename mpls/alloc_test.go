package mpls

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func TestAllocatorSharesPerVRFLabel(t *testing.T) {
	a, err := NewAllocator(16, 100)
	if err != nil {
		t.Fatal(err)
	}
	bgp, err := a.VRFLabel(1, "bgp")
	if err != nil {
		t.Fatal(err)
	}
	nhrp, _ := a.VRFLabel(1, "nhrp")
	if bgp != nhrp || bgp != 16 {
		t.Fatalf("bgp %d nhrp %d: one label per VRF expected", bgp, nhrp)
	}
	other, _ := a.VRFLabel(2, "nhrp")
	pfx, _ := a.Get(Key{VRF: 1, Prefix: netip.MustParsePrefix("198.19.12.0/24")}, "bgp")
	if other == bgp || pfx == bgp || pfx == other {
		t.Fatalf("distinct keys share labels: %d %d %d", bgp, other, pfx)
	}
	if k, cs, ok := a.Owner(bgp); !ok || k != (Key{VRF: 1}) || fmt.Sprint(cs) != "[bgp nhrp]" {
		t.Fatalf("owner %v %v %v", k, cs, ok)
	}
	// Freed only when the last client lets go.
	if _, freed, _ := a.Release(Key{VRF: 1}, "bgp"); freed {
		t.Fatal("freed while NHRP still holds it")
	}
	if l, freed, err := a.Release(Key{VRF: 1}, "nhrp"); !freed || l != bgp || err != nil {
		t.Fatalf("release: %d %v %v", l, freed, err)
	}
	if _, _, err := a.Release(Key{VRF: 1}, "nhrp"); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("double release: %v", err)
	}
	// Not reused at once: the next label comes from further up the range.
	l, _ := a.VRFLabel(3, "nhrp")
	if l == bgp {
		t.Fatalf("label %d reused immediately", l)
	}
}

func TestAllocatorRefcountPerClient(t *testing.T) {
	a, _ := NewAllocator(16, 20)
	k := Key{VRF: 7}
	a.Get(k, "nhrp")
	a.Get(k, "nhrp")
	if _, freed, _ := a.Release(k, "nhrp"); freed {
		t.Fatal("freed with one reference left")
	}
	if _, freed, _ := a.Release(k, "nhrp"); !freed {
		t.Fatal("not freed after the last reference")
	}
}

func TestAllocatorExhaustionAndWrap(t *testing.T) {
	a, _ := NewAllocator(16, 19)
	var got []Label
	for v := uint32(0); v < 4; v++ {
		l, err := a.VRFLabel(v, "x")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	if fmt.Sprint(got) != "[16 17 18 19]" {
		t.Fatalf("labels %v", got)
	}
	if _, err := a.VRFLabel(9, "x"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("exhaustion: %v", err)
	}
	a.Release(Key{VRF: 1}, "x") // frees 17
	if l, err := a.VRFLabel(9, "x"); err != nil || l != 17 {
		t.Fatalf("after wrap: %d %v", l, err)
	}
	if a.InUse() != 4 {
		t.Fatalf("in use %d", a.InUse())
	}
}

func TestAllocatorAdopt(t *testing.T) {
	a, _ := NewAllocator(16, 1000)
	k := Key{VRF: 1}
	if err := a.Adopt(k, 500, "bgp"); err != nil {
		t.Fatal(err)
	}
	if l, _ := a.Get(k, "nhrp"); l != 500 {
		t.Fatalf("NHRP got %d, want BGP's 500", l)
	}
	if err := a.Adopt(k, 501, "bgp"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second label for a key: %v", err)
	}
	if err := a.Adopt(Key{VRF: 2}, 500, "bgp"); !errors.Is(err, ErrConflict) {
		t.Fatalf("label of another key: %v", err)
	}
	if err := a.Adopt(Key{VRF: 2}, 3, "bgp"); !errors.Is(err, ErrBadLabel) {
		t.Fatalf("reserved label adopted: %v", err)
	}
	if freed := a.ReleaseClient("bgp"); len(freed) != 0 {
		t.Fatalf("freed %v while NHRP holds it", freed)
	}
	if freed := a.ReleaseClient("nhrp"); fmt.Sprint(freed) != "[500]" {
		t.Fatalf("freed %v", freed)
	}
}

func TestNewAllocatorRange(t *testing.T) {
	for _, r := range [][2]Label{{0, 100}, {15, 20}, {20, 16}, {16, MaxLabel + 1}} {
		if _, err := NewAllocator(r[0], r[1]); err == nil {
			t.Errorf("range %v accepted", r)
		}
	}
}

func TestAllocatorConcurrent(t *testing.T) {
	a, _ := NewAllocator(16, 100000)
	var wg sync.WaitGroup
	labels := make([][]Label, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for v := uint32(0); v < 200; v++ {
				l, err := a.VRFLabel(v, fmt.Sprint("c", g))
				if err != nil {
					t.Error(err)
					return
				}
				labels[g] = append(labels[g], l)
			}
		}(g)
	}
	wg.Wait()
	for g := 1; g < 8; g++ {
		for v := range labels[g] {
			if labels[g][v] != labels[0][v] {
				t.Fatalf("client %d got %d for vrf %d, client 0 got %d", g, labels[g][v], v, labels[0][v])
			}
		}
	}
	if a.InUse() != 200 {
		t.Fatalf("in use %d", a.InUse())
	}
}
