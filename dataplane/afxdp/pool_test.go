package afxdp

import (
	"math/rand/v2"
	"testing"
)

func TestFramePoolLifecycle(t *testing.T) {
	p, err := NewFramePool(8, 2048, true)
	if err != nil {
		t.Fatal(err)
	}
	mem := make([]byte, 8*2048)
	p.mem = mem
	descs := make([]Desc, 10)
	if n := p.Alloc(descs, 256); n != 8 {
		t.Fatalf("Alloc got %d frames of 8", n)
	}
	seen := map[uint64]bool{}
	for _, d := range descs[:8] {
		if d.Addr%2048 != 256 || seen[d.Addr] {
			t.Fatalf("bad or repeated address %#x", d.Addr)
		}
		seen[d.Addr] = true
	}
	if c := p.Counts(); c.User != 8 || c.Free != 0 || c.Total() != 8 {
		t.Fatalf("counts after alloc: %+v", c)
	}
	// User -> TX -> Free (completion), User -> Free (release).
	for _, d := range descs[:3] {
		if !p.move(p.Base(d.Addr), StateUser, StateTX, 5) {
			t.Fatal("user->tx refused")
		}
	}
	if st, owner := p.State(descs[0].Addr); st != StateTX || owner != 5 {
		t.Fatalf("state %v owner %d", st, owner)
	}
	mem[descs[3].Addr] = 0x42
	p.Release(descs[3:8])
	if mem[descs[3].Addr] != PoisonByte {
		t.Error("debug pool did not poison a released frame")
	}
	if c := p.Counts(); c.User != 0 || c.TX != 3 || c.Free != 5 {
		t.Fatalf("counts: %+v", c)
	}
	if v, _ := p.Violations(); v != 0 {
		t.Fatalf("violations %d", v)
	}

	// A double release is refused and counted, and the ledger holds.
	p.Release(descs[3:4])
	if v, msg := p.Violations(); v != 1 || msg == "" {
		t.Fatalf("double release: violations %d %q", v, msg)
	}
	if c := p.Counts(); c.Free != 5 || p.Available() != 5 {
		t.Fatalf("double release changed counts: %+v available %d", c, p.Available())
	}
	// Completing a frame that is not on a TX ring is refused.
	if p.move(p.Base(descs[4].Addr), StateTX, StateFree, 0) {
		t.Fatal("tx->free accepted for a free frame")
	}
	// An address outside the UMEM is refused.
	if p.move(1<<40, StateUser, StateFree, 0) {
		t.Fatal("move accepted an address outside the umem")
	}
	// The socket with owner 5 closes: its frames come back.
	if n := p.reclaimOwner(5); n != 3 {
		t.Fatalf("reclaimed %d frames, want 3", n)
	}
	if c := p.Counts(); c.Free != 8 || c.Total() != 8 || p.Available() != 8 {
		t.Fatalf("after reclaim: %+v", c)
	}
}

func TestFramePoolRejectsBadSizes(t *testing.T) {
	for _, c := range []struct{ n, size int }{{0, 2048}, {8, 1000}, {8, 3000}, {8, 1024}} {
		if _, err := NewFramePool(c.n, c.size, false); err == nil {
			t.Errorf("NewFramePool(%d, %d) accepted", c.n, c.size)
		}
	}
}

// TestFramePoolRandomWalk drives frames through random legal transitions,
// interleaved with illegal ones, and checks the ledger against a model.
func TestFramePoolRandomWalk(t *testing.T) {
	const n = 67
	p, err := NewFramePool(n, 4096, false)
	if err != nil {
		t.Fatal(err)
	}
	model := map[uint64]FrameState{}
	for i := range n {
		model[uint64(i)*4096] = StateFree
	}
	r := rand.New(rand.NewPCG(1, 2))
	var wantViolations uint64
	for step := range 20000 {
		switch r.IntN(5) {
		case 0: // alloc into fill
			if addr, ok := p.alloc(StateFill, 1); ok {
				if model[addr] != StateFree {
					t.Fatalf("step %d: alloc returned %#x in state %v", step, addr, model[addr])
				}
				model[addr] = StateFill
			}
		default: // a random transition on a random frame
			addr := uint64(r.IntN(n)) * 4096
			from := FrameState(r.IntN(4))
			to := FrameState(r.IntN(4))
			if from == to {
				continue
			}
			ok := p.move(addr+uint64(r.IntN(4096)), from, to, 1)
			legal := model[addr] == from && from != StateFree
			if ok != legal {
				t.Fatalf("step %d: move %#x %v->%v returned %v, model says %v", step, addr, from, to, ok, model[addr])
			}
			if ok {
				model[addr] = to
			} else {
				wantViolations++
			}
		}
		var want FrameCounts
		for _, s := range model {
			switch s {
			case StateFree:
				want.Free++
			case StateUser:
				want.User++
			case StateFill:
				want.Fill++
			case StateTX:
				want.TX++
			}
		}
		if got := p.Counts(); got != want || p.Available() != want.Free {
			t.Fatalf("step %d: counts %+v available %d, model %+v", step, got, p.Available(), want)
		}
	}
	if v, _ := p.Violations(); v != wantViolations {
		t.Fatalf("violations %d, want %d", v, wantViolations)
	}
}

func TestFramePoolNoAllocs(t *testing.T) {
	p, _ := NewFramePool(256, 2048, false)
	descs := make([]Desc, 64)
	allocs := testing.AllocsPerRun(100, func() {
		n := p.Alloc(descs, 256)
		p.Release(descs[:n])
	})
	if allocs != 0 {
		t.Fatalf("Alloc/Release allocate %v times", allocs)
	}
}

func BenchmarkFramePoolAllocRelease(b *testing.B) {
	p, _ := NewFramePool(4096, 2048, false)
	descs := make([]Desc, 64)
	b.ReportAllocs()
	for b.Loop() {
		n := p.Alloc(descs, 256)
		p.Release(descs[:n])
	}
}
