package wire

import "errors"

// Reassembler collects the decrypted fragments of one fragmented message
// (RFC 7383 §2.6) and decodes the whole payload chain once all have arrived.
// The engine keeps one per message ID it is receiving; it must decrypt and
// verify each SKF payload before Add, since only authenticated fragments may
// influence reassembly.
//
// Once complete, a Reassembler keeps answering Add with true (duplicates of
// a completed message); Reset it before using it for another message.
//
// A Reassembler is not safe for concurrent use.
type Reassembler struct {
	// MaxFragments and MaxBytes bound the memory one message may use; zero
	// means DefaultMaxFragments and MaxMessageLen*4.
	MaxFragments int
	MaxBytes     int

	total uint16
	first PayloadType
	parts [][]byte
	have  int
	size  int
	buf   []byte
}

// DefaultMaxFragments is the largest Total Fragments a Reassembler accepts by default.
const DefaultMaxFragments = 128

// Errors returned by Reassembler.Add. Neither is a protocol error to answer:
// the fragment is dropped and counted.
var (
	ErrFragmentStale = errors.New("fragment belongs to an older fragmentation of the message")
	ErrFragmentLimit = errors.New("fragmented message exceeds the reassembly limits")
)

// Add records the plaintext of fragment f (a verified SKF payload) and
// reports whether the message is complete. The plaintext is copied.
// Duplicates are ignored. A fragment with a larger Total Fragments than
// those seen so far restarts reassembly (the sender re-fragmented to a
// smaller size); one with a smaller Total is stale.
func (r *Reassembler) Add(f *EncryptedFragment, plaintext []byte) (bool, error) {
	maxFrag, maxBytes := r.MaxFragments, r.MaxBytes
	if maxFrag == 0 {
		maxFrag = DefaultMaxFragments
	}
	if maxBytes == 0 {
		maxBytes = 4 * MaxMessageLen
	}
	if err := checkFragment(f.Number, f.Total, f.NextPayload); err != nil {
		return false, err
	}
	if int(f.Total) > maxFrag {
		return false, ErrFragmentLimit
	}
	switch {
	case f.Total < r.total:
		return false, ErrFragmentStale
	case f.Total > r.total:
		r.Reset()
		r.total = f.Total
		r.parts = make([][]byte, f.Total)
	}
	i := int(f.Number) - 1
	if r.parts[i] != nil {
		return r.have == int(r.total), nil
	}
	if r.size+len(plaintext) > maxBytes {
		return false, ErrFragmentLimit
	}
	// A non-nil slice, even when empty, marks the fragment as received.
	r.parts[i] = append(make([]byte, 0, max(len(plaintext), 1)), plaintext...)
	if f.Number == 1 {
		r.first = f.NextPayload
	}
	r.have++
	r.size += len(plaintext)
	return r.have == int(r.total), nil
}

// Complete reports whether all fragments have arrived.
func (r *Reassembler) Complete() bool { return r.total > 0 && r.have == int(r.total) }

// Payloads decodes the reassembled payload chain. It is valid only when
// Complete; the payloads alias memory owned by r until the next Reset or Add.
func (r *Reassembler) Payloads() ([]Payload, error) {
	if !r.Complete() {
		return nil, errors.New("reassembly incomplete")
	}
	r.buf = r.buf[:0]
	for _, p := range r.parts {
		r.buf = append(r.buf, p...)
	}
	return DecodePayloads(r.first, r.buf)
}

// Reset forgets all fragments.
func (r *Reassembler) Reset() {
	r.total, r.first, r.parts, r.have, r.size = 0, PayloadNone, nil, 0, 0
}
