// Package replay implements the ESP anti-replay window (RFC 4303 §3.4.3)
// with the bit-ring algorithm of RFC 6479: a ring of 64-bit blocks in which
// a sequence number's bit has a fixed position, so advancing the window
// clears whole blocks instead of shifting bits. Check and Update are O(1)
// apart from clearing skipped blocks, and allocate nothing.
//
// The intended use on the receive path is:
//
//	seq := w.InferESN(low)     // or uint64(low) without ESN
//	if !w.Check(seq) { drop }  // before spending a decryption on it
//	... verify the ICV and decrypt ...
//	if !w.Advance(seq) && !w.Update(seq) { drop } // a duplicate raced past Check
//
// so forged packets never move the window.
package replay

const (
	blockBitLog = 6
	blockBits   = 1 << blockBitLog
	ringBlocks  = 128 // power of two
	blockMask   = ringBlocks - 1
	bitMask     = blockBits - 1

	// WindowSize is the number of sequence numbers below and including the
	// highest one seen that the window still tracks: one block of the ring is
	// redundant, as RFC 6479 §2 describes, so that it never needs shifting.
	WindowSize = (ringBlocks - 1) * blockBits // 8128
)

// Window is an anti-replay window over 64-bit sequence numbers (the full
// extended sequence number when ESN is in use). The zero value is an empty
// window that accepts sequence number 1 upwards.
//
// A Window is not safe for concurrent use; it has a single owner (the
// inbound SA's worker) or is guarded by the caller.
type Window struct {
	last uint64 // highest sequence number accepted so far
	ring [ringBlocks]uint64
}

// Reset empties the window.
func (w *Window) Reset() { *w = Window{} }

// Last returns the highest sequence number accepted so far (0 if none).
func (w *Window) Last() uint64 { return w.last }

// Check reports whether seq would be accepted: it is not 0, not older than
// the window, and not seen before. It does not change the window.
func (w *Window) Check(seq uint64) bool {
	if seq == 0 {
		return false
	}
	if seq > w.last {
		return true
	}
	if w.last-seq >= WindowSize {
		return false
	}
	return w.ring[(seq>>blockBitLog)&blockMask]&(1<<(seq&bitMask)) == 0
}

// Update records seq as received, advancing the window when seq is the new
// highest. It returns false, changing nothing, when Check(seq) is false.
func (w *Window) Update(seq uint64) bool {
	if !w.Check(seq) {
		return false
	}
	if seq > w.last {
		cur, next := w.last>>blockBitLog, seq>>blockBitLog
		n := next - cur
		if n > ringBlocks {
			n = ringBlocks
		}
		for i := uint64(1); i <= n; i++ {
			w.ring[(cur+i)&blockMask] = 0
		}
		w.last = seq
	}
	w.ring[(seq>>blockBitLog)&blockMask] |= 1 << (seq & bitMask)
	return true
}

// Advance records seq when it is the next number in order and falls in
// the same 64-bit block as the highest one seen (no block to clear), and
// reports whether it did. It is Update's common case, small enough to
// inline: call Update when it returns false.
func (w *Window) Advance(seq uint64) bool {
	if seq != w.last+1 || seq&bitMask == 0 {
		return false
	}
	w.last = seq
	w.ring[(seq>>blockBitLog)&blockMask] |= 1 << (seq & bitMask)
	return true
}

// InferESN returns the 64-bit extended sequence number for the low 32 bits
// received on the wire, choosing the high 32 bits from the window position
// as RFC 4303 Appendix A.2 describes: a low value below the bottom of the
// window belongs to the next 2^32 epoch, and while the window straddles an
// epoch boundary, a low value above the bottom belongs to the previous one.
// The guess is only confirmed by the ICV, which covers the high bits.
func (w *Window) InferESN(low uint32) uint64 {
	th, tl := uint32(w.last>>32), uint32(w.last)
	const win = uint32(WindowSize)
	bl := tl - win + 1 // wraps when the window straddles an epoch
	if tl >= win-1 {   // case A: window within one epoch
		if low >= bl {
			return uint64(th)<<32 | uint64(low)
		}
		return uint64(th+1)<<32 | uint64(low)
	}
	// case B: window straddles the boundary into the current epoch
	if low >= bl && th > 0 {
		return uint64(th-1)<<32 | uint64(low)
	}
	return uint64(th)<<32 | uint64(low)
}
