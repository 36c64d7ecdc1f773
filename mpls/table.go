package mpls

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Action is what happens to a packet arriving with a local label.
type Action uint8

// Label actions. Both pop the label and route the payload in the binding's
// VRF; a per-prefix label also names the prefix and next hop it was
// allocated for (IOS shows it with the prefix rather than "aggregate").
const (
	// PopLookup is the per-VRF (aggregate) VPN label: pop, then look the
	// destination up in the VRF.
	PopLookup Action = iota + 1
	// PopForward is a per-prefix label: pop and send toward the prefix's
	// next hop in the VRF.
	PopForward
)

func (a Action) String() string {
	switch a {
	case PopLookup:
		return "pop-lookup"
	case PopForward:
		return "pop-forward"
	}
	return "action?"
}

// Binding maps a local label to its VRF and action.
type Binding struct {
	Local  Label
	VRF    uint32
	Action Action
	// Prefix, NextHop and Interface describe a PopForward binding.
	Prefix    netip.Prefix
	NextHop   netip.Addr
	Interface string
}

func (b *Binding) validate() error {
	switch {
	case b.Local.Reserved() || !b.Local.Valid():
		return fmt.Errorf("label %d: not an unreserved 20-bit label", b.Local)
	case b.Action == PopLookup && (b.Prefix.IsValid() || b.NextHop.IsValid() || b.Interface != ""):
		return fmt.Errorf("label %d: an aggregate label has no prefix or next hop", b.Local)
	case b.Action == PopForward && (!b.Prefix.IsValid() || (!b.NextHop.IsValid() && b.Interface == "")):
		return fmt.Errorf("label %d: a per-prefix label needs a prefix and a next hop or interface", b.Local)
	case b.Action != PopLookup && b.Action != PopForward:
		return fmt.Errorf("label %d: unknown action %d", b.Local, b.Action)
	}
	return nil
}

// Programmer puts label bindings into the dataplane. dataplane.Engine's
// BindLabel and UnbindLabel have this shape: a label's payload is routed in
// the VRF, which for a per-prefix label reaches the same next hop.
type Programmer interface {
	BindLabel(label, vrf uint32) error
	UnbindLabel(label uint32) error
}

// ErrNoBinding is returned by Unbind for a label with no binding.
var ErrNoBinding = errors.New("mpls: no binding for label")

// Table is the label forwarding information base (LFIB): local label →
// (VRF, action). Writers are serialised; Lookup is lock-free and does not
// allocate, reading an immutable snapshot that writers replace.
type Table struct {
	mu   sync.Mutex
	prog Programmer
	snap atomic.Pointer[map[Label]Binding]
}

// NewTable returns an empty table that programs prog (nil: none).
func NewTable(prog Programmer) *Table {
	t := &Table{prog: prog}
	m := map[Label]Binding{}
	t.snap.Store(&m)
	return t
}

// Bind adds or replaces the binding of b.Local, programming the dataplane
// first so that the table never shows what the dataplane does not do.
func (t *Table) Bind(b Binding) error {
	if err := b.validate(); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.snap.Load()
	if cur, ok := old[b.Local]; ok && cur == b {
		return nil
	}
	if t.prog != nil {
		if err := t.prog.BindLabel(uint32(b.Local), b.VRF); err != nil {
			return fmt.Errorf("bind label %d: %w", b.Local, err)
		}
	}
	m := make(map[Label]Binding, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[b.Local] = b
	t.snap.Store(&m)
	return nil
}

// Unbind removes the binding of l.
func (t *Table) Unbind(l Label) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.snap.Load()
	if _, ok := old[l]; !ok {
		return fmt.Errorf("unbind label %d: %w", l, ErrNoBinding)
	}
	if t.prog != nil {
		if err := t.prog.UnbindLabel(uint32(l)); err != nil {
			return fmt.Errorf("unbind label %d: %w", l, err)
		}
	}
	m := make(map[Label]Binding, len(old))
	for k, v := range old {
		if k != l {
			m[k] = v
		}
	}
	t.snap.Store(&m)
	return nil
}

// Lookup returns the binding of l. Safe for concurrent use with writers.
func (t *Table) Lookup(l Label) (Binding, bool) {
	b, ok := (*t.snap.Load())[l]
	return b, ok
}

// Bindings returns all bindings sorted by label.
func (t *Table) Bindings() []Binding {
	m := *t.snap.Load()
	out := make([]Binding, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Local < out[j].Local })
	return out
}

// ForwardingRow is one line of `show mpls forwarding-table`, JSON friendly.
type ForwardingRow struct {
	Local     uint32 `json:"local_label"`
	Outgoing  string `json:"outgoing_label"`
	Prefix    string `json:"prefix"`
	VRF       string `json:"vrf"`
	Bytes     uint64 `json:"bytes_switched"`
	Interface string `json:"outgoing_interface"`
	NextHop   string `json:"next_hop,omitempty"`
}

// Rows turns bindings into rows; vrfName names VRF ids and bytes gives the
// bytes switched per label (either may be nil).
func Rows(bs []Binding, vrfName func(uint32) string, bytes func(Label) uint64) []ForwardingRow {
	rows := make([]ForwardingRow, 0, len(bs))
	for _, b := range bs {
		name := fmt.Sprint(b.VRF)
		if vrfName != nil {
			name = vrfName(b.VRF)
		}
		r := ForwardingRow{Local: uint32(b.Local), Outgoing: "No Label", VRF: name}
		if bytes != nil {
			r.Bytes = bytes(b.Local)
		}
		switch b.Action {
		case PopLookup:
			r.Prefix = name + "(vrf)"
			r.Interface = "aggregate/" + name
		case PopForward:
			r.Prefix = b.Prefix.String() + "[V]"
			r.Interface = b.Interface
			if b.NextHop.IsValid() {
				r.NextHop = b.NextHop.String()
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteForwardingTable renders rows as `show mpls forwarding-table`.
func WriteForwardingTable(w io.Writer, rows []ForwardingRow) error {
	var sb strings.Builder
	const f = "%-10s %-10s %-20s %-13s %-16s %s\n"
	line := func(cols ...any) {
		sb.WriteString(strings.TrimRight(fmt.Sprintf(f, cols...), " \n") + "\n")
	}
	line("Local", "Outgoing", "Prefix", "Bytes Label", "Outgoing", "Next Hop")
	line("Label", "Label", "or Tunnel Id", "Switched", "interface", "")
	for _, r := range rows {
		line(fmt.Sprint(r.Local), r.Outgoing, r.Prefix, fmt.Sprint(r.Bytes), r.Interface, r.NextHop)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
