package replay

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// model is the obvious implementation the window is checked against: a set
// of every sequence number seen and the highest one.
type model struct {
	seen map[uint64]bool
	max  uint64
}

func (m *model) accept(seq uint64) bool {
	if seq == 0 || m.seen[seq] {
		return false
	}
	return seq > m.max || m.max-seq < WindowSize
}

func (m *model) update(seq uint64) bool {
	if !m.accept(seq) {
		return false
	}
	m.seen[seq] = true
	m.max = max(m.max, seq)
	return true
}

func TestWindowTable(t *testing.T) {
	var w Window
	steps := []struct {
		seq  uint64
		want bool
	}{
		{0, false}, {1, true}, {1, false}, {3, true}, {2, true}, {2, false},
		{WindowSize + 2, true}, {2, false}, {3, false}, {4, true}, // 2 fell out; 3 is at the bottom edge, already seen
		{1 << 40, true}, {1<<40 - WindowSize, false}, {1<<40 - WindowSize + 1, true}, {1<<40 - 1, true},
	}
	for i, s := range steps {
		if got := w.Update(s.seq); got != s.want {
			t.Fatalf("step %d: Update(%d) = %v, want %v", i, s.seq, got, s.want)
		}
	}
}

func TestWindowDifferential(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		r := rand.New(rand.NewPCG(seed, seed*7))
		var w Window
		m := model{seen: map[uint64]bool{}}
		for i := 0; i < 200000; i++ {
			var seq uint64
			switch r.IntN(10) {
			case 0:
				seq = m.max + uint64(r.IntN(3*WindowSize)) // jumps, some past a whole ring
			case 1:
				seq = m.max - uint64(r.IntN(WindowSize+200)) // around the bottom edge
			default:
				seq = m.max + uint64(r.IntN(40)) - 20 // reordering near the top
			}
			if seq > 1<<62 { // underflow from the subtraction: keep it small
				seq = uint64(r.IntN(10))
			}
			if c, mc := w.Check(seq), m.accept(seq); c != mc {
				t.Fatalf("seed %d step %d: Check(%d) = %v, model %v (max %d)", seed, i, seq, c, mc, m.max)
			}
			if u, mu := w.Update(seq), m.update(seq); u != mu {
				t.Fatalf("seed %d step %d: Update(%d) = %v, model %v", seed, i, seq, u, mu)
			}
			if w.Last() != m.max {
				t.Fatalf("Last = %d, model %d", w.Last(), m.max)
			}
		}
	}
}

// FuzzWindow interprets the input as a sequence of 3-byte operations: a
// kind and a 16-bit delta applied around the current top, and checks every
// result against the model.
func FuzzWindow(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 1, 1, 0, 5, 2, 0x1f, 0xc0})
	f.Add([]byte{0, 0xff, 0xff, 0, 0xff, 0xff, 2, 0xff, 0xff, 3, 0, 1})
	f.Add([]byte{4, 0, 1, 1, 0, 0}) // in order, then the same again
	f.Add([]byte{4, 0, 1, 4, 0, 1, 4, 0, 1, 4, 0, 61, 4, 0, 1, 4, 0, 1, 4, 0, 1, 5, 0, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var w Window
		m := model{seen: map[uint64]bool{}}
		for len(ops) >= 3 {
			d := uint64(binary.BigEndian.Uint16(ops[1:3]))
			var seq uint64
			op := ops[0]
			switch op % 4 {
			case 0:
				seq = m.max + d
			case 1:
				seq = m.max - min(d, m.max)
			case 2:
				seq = m.max + d*64
			case 3:
				seq = d
			}
			ops = ops[3:]
			if c, mc := w.Check(seq), m.accept(seq); c != mc {
				t.Fatalf("Check(%d) = %v, model %v (max %d)", seq, c, mc, m.max)
			}
			// Half the operations go through Advance first, as the
			// packet path does.
			fast := op&4 != 0 && w.Advance(seq)
			if u, mu := fast || w.Update(seq), m.update(seq); u != mu {
				t.Fatalf("Update(%d) = %v (advance %v), model %v", seq, u, fast, mu)
			}
		}
	})
}

func TestInferESN(t *testing.T) {
	for _, tc := range []struct {
		name string
		last uint64
		low  uint32
		want uint64
	}{
		{"empty window", 0, 5, 5},
		{"same epoch ahead", 1<<32 | 100000, 100001, 1<<32 | 100001},
		{"same epoch inside window", 1<<32 | 100000, 100000 - 50, 1<<32 | (100000 - 50)},
		{"below bottom means next epoch", 1<<32 | 0xffffff00, 3, 2<<32 | 3},
		{"straddling: high low is previous epoch", 2<<32 | 10, 0xfffffff0, 1<<32 | 0xfffffff0},
		{"straddling: small low is current epoch", 2<<32 | 10, 20, 2<<32 | 20},
		{"straddling in epoch 0", 10, 0xfffffff0, 0xfffffff0},
	} {
		var w Window
		if tc.last != 0 {
			w.Update(tc.last)
		}
		if got := w.InferESN(tc.low); got != tc.want {
			t.Errorf("%s: InferESN(%#x) with last %#x = %#x, want %#x", tc.name, tc.low, tc.last, got, tc.want)
		}
	}
}

func TestInferESNAcrossWrap(t *testing.T) {
	// A sender counting across 2^32 with modest reordering: the receiver
	// must reconstruct every 64-bit value from its low half.
	var w Window
	r := rand.New(rand.NewPCG(9, 9))
	base := uint64(1<<32 - 5000)
	for i := uint64(0); i < 10000; i++ {
		seq := base + i
		if i > 10 && r.IntN(4) == 0 {
			seq -= uint64(r.IntN(10))
		}
		got := w.InferESN(uint32(seq))
		if got != seq {
			t.Fatalf("InferESN(%#x) = %#x, want %#x (last %#x)", uint32(seq), got, seq, w.Last())
		}
		w.Update(seq)
	}
}

func TestWindowNoAllocs(t *testing.T) {
	var w Window
	seq := uint64(1)
	if n := testing.AllocsPerRun(1000, func() {
		s := w.InferESN(uint32(seq))
		if w.Check(s) {
			w.Update(s)
		}
		seq += 3
	}); n != 0 {
		t.Fatalf("allocs per packet = %v", n)
	}
}

func BenchmarkWindowInOrder(b *testing.B) {
	var w Window
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := uint64(i + 1)
		if w.Check(s) {
			w.Update(s)
		}
	}
}
