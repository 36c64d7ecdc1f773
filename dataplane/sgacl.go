package dataplane

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/esphub/esphub/dataplane/hdr"
)

// SGACL enforcement (Cisco TrustSec role-based access control).
//
// Every packet the engine forwards is classified with a source and a
// destination security group tag. The source tag is the tag the packet
// arrived with in a CMD header, or else the IP-to-SGT mapping of its source
// address; the destination tag is the mapping of its destination address
// (SetSGTMapping). Tag 0 is "unknown". When a policy with Enforce is set,
// the (source, destination) cell's entries are evaluated in order and the
// first match permits or denies the packet; when no entry of the cell
// matches, or the pair has no cell, the default entries decide, and when
// none of those matches the packet is permitted (IOS's "permit ip" default).
// A packet is judged once per node: outbound from the host side, or on
// receipt from a tunnel (which covers hairpins).

// SGACLAction is what an SGACL entry does with a matching packet.
type SGACLAction uint8

// SGACL actions.
const (
	SGACLPermit SGACLAction = iota + 1
	SGACLDeny
)

// PortRange matches a TCP or UDP port: Lo <= port <= Hi, inverted by Not.
// The zero value matches every port (and packets without ports).
type PortRange struct {
	Lo, Hi uint16
	Not    bool
}

func (r PortRange) any() bool { return !r.Not && r.Lo == 0 && r.Hi == 0 }

func (r PortRange) match(p uint16) bool {
	in := p >= r.Lo && p <= r.Hi
	return in != r.Not
}

// SGACE is one entry of a role-based access list ("permit tcp dst eq 22").
type SGACE struct {
	Action SGACLAction
	// Family is 4 or 6: the entry applies to IPv4 packets (ip access-list
	// role-based) or IPv6 ones (ipv6 access-list role-based).
	Family uint8
	// Proto is the IP protocol (next header) to match; AnyProto matches all
	// ("permit ip").
	Proto    uint8
	AnyProto bool
	// Src and Dst match TCP and UDP ports; an entry with a port condition
	// never matches a packet whose ports are unknown (a later fragment).
	Src, Dst PortRange
}

// SGACLCell is the ordered entries of one (source, destination) pair of
// the permissions matrix (IOS: cts role-based permissions from S to D).
type SGACLCell struct {
	From, To uint16
	ACEs     []SGACE
}

// SGACLPolicy is the whole matrix. Without Enforce the engine classifies
// nothing and forwards everything (IOS: no cts role-based enforcement).
type SGACLPolicy struct {
	Enforce bool
	Cells   []SGACLCell
	Default []SGACE
}

// SGACLCounters are the packets one cell (or the default, From and To 0
// with Default set) permitted and denied.
type SGACLCounters struct {
	From, To          uint16
	Default           bool
	Permitted, Denied uint64
}

// cellCounters persist across policy changes for a (from, to) pair.
type cellCounters struct {
	permitted, denied atomic.Uint64
}

type sgaclCell struct {
	aces []SGACE
	c    *cellCounters
}

// sgaclTable is one immutable snapshot of the policy.
type sgaclTable struct {
	cells map[uint32]*sgaclCell
	def   sgaclCell
}

func cellKey(from, to uint16) uint32 { return uint32(from)<<16 | uint32(to) }

// SetSGACL replaces the role-based permissions matrix. Counters of cells
// that stay are kept. Entries are validated: an action, family 4 or 6, and
// port ranges with Lo <= Hi on TCP or UDP only.
func (e *Engine) SetSGACL(p SGACLPolicy) error {
	check := func(aces []SGACE) error {
		for i, a := range aces {
			switch {
			case a.Action != SGACLPermit && a.Action != SGACLDeny:
				return fmt.Errorf("entry %d: no action", i+1)
			case a.Family != 4 && a.Family != 6:
				return fmt.Errorf("entry %d: family %d", i+1, a.Family)
			case a.Src.Lo > a.Src.Hi || a.Dst.Lo > a.Dst.Hi:
				return fmt.Errorf("entry %d: empty port range", i+1)
			case (!a.Src.any() || !a.Dst.any()) && (a.AnyProto || (a.Proto != hdr.ProtoTCP && a.Proto != hdr.ProtoUDP)):
				return fmt.Errorf("entry %d: ports need tcp or udp", i+1)
			}
		}
		return nil
	}
	if err := check(p.Default); err != nil {
		return fmt.Errorf("set sgacl: default: %w", err)
	}
	for _, c := range p.Cells {
		if c.From == hdr.SGTInvalid || c.To == hdr.SGTInvalid {
			return fmt.Errorf("set sgacl: cell %d to %d: sgt 65535 is reserved", c.From, c.To)
		}
		if err := check(c.ACEs); err != nil {
			return fmt.Errorf("set sgacl: cell %d to %d: %w", c.From, c.To, err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.aclCounters == nil {
		e.aclCounters = map[uint32]*cellCounters{}
		e.aclDefault = &cellCounters{}
	}
	if !p.Enforce {
		e.acl.Store(nil)
		return nil
	}
	t := &sgaclTable{cells: make(map[uint32]*sgaclCell, len(p.Cells)), def: sgaclCell{aces: slices.Clone(p.Default), c: e.aclDefault}}
	for _, c := range p.Cells {
		k := cellKey(c.From, c.To)
		cc := e.aclCounters[k]
		if cc == nil {
			cc = &cellCounters{}
			e.aclCounters[k] = cc
		}
		if old := t.cells[k]; old != nil {
			old.aces = append(old.aces, c.ACEs...) // several lists in one cell: evaluated in order
			continue
		}
		t.cells[k] = &sgaclCell{aces: slices.Clone(c.ACEs), c: cc}
	}
	e.acl.Store(t)
	e.aclCells = make([]uint32, 0, len(t.cells))
	for k := range t.cells {
		e.aclCells = append(e.aclCells, k)
	}
	slices.Sort(e.aclCells)
	return nil
}

// SGACLCounters returns the counters of the configured cells, ordered by
// (from, to), followed by the default row; nil when nothing is enforced.
func (e *Engine) SGACLCounters() []SGACLCounters {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.acl.Load() == nil {
		return nil
	}
	out := make([]SGACLCounters, 0, len(e.aclCells)+1)
	for _, k := range e.aclCells {
		c := e.aclCounters[k]
		out = append(out, SGACLCounters{From: uint16(k >> 16), To: uint16(k), Permitted: c.permitted.Load(), Denied: c.denied.Load()})
	}
	out = append(out, SGACLCounters{Default: true, Permitted: e.aclDefault.permitted.Load(), Denied: e.aclDefault.denied.Load()})
	return out
}

// ClearSGACLCounters zeroes every cell's counters and the default's (IOS:
// clear cts role-based counters). Packets in flight may still be counted
// into the cleared values.
func (e *Engine) ClearSGACLCounters() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.aclCounters {
		c.permitted.Store(0)
		c.denied.Store(0)
	}
	if e.aclDefault != nil {
		e.aclDefault.permitted.Store(0)
		e.aclDefault.denied.Store(0)
	}
}

// permits classifies the IP packet d (already validated by innerIP)
// and reports whether the policy lets it through, counting the decision.
func (t *sgaclTable) permits(from, to uint16, d []byte) bool {
	fam, proto, sport, dport, ports := l4Info(d)
	if c := t.cells[cellKey(from, to)]; c != nil {
		if a, ok := evalACEs(c.aces, fam, proto, sport, dport, ports); ok {
			return c.count(a)
		}
	}
	a, ok := evalACEs(t.def.aces, fam, proto, sport, dport, ports)
	if !ok {
		a = SGACLPermit
	}
	return t.def.count(a)
}

func (c *sgaclCell) count(a SGACLAction) bool {
	if a == SGACLDeny {
		c.c.denied.Add(1)
		return false
	}
	c.c.permitted.Add(1)
	return true
}

func evalACEs(aces []SGACE, fam, proto uint8, sport, dport uint16, ports bool) (SGACLAction, bool) {
	for i := range aces {
		a := &aces[i]
		if a.Family != fam || (!a.AnyProto && a.Proto != proto) {
			continue
		}
		if !a.Src.any() || !a.Dst.any() {
			if !ports || (!a.Src.any() && !a.Src.match(sport)) || (!a.Dst.any() && !a.Dst.match(dport)) {
				continue
			}
		}
		return a.Action, true
	}
	return 0, false
}

// l4Info returns the family, upper-layer protocol and, for the first
// fragment of TCP and UDP, the ports of an IP packet. IPv6 extension
// headers are skipped (at most eight).
func l4Info(d []byte) (fam, proto uint8, sport, dport uint16, ports bool) {
	var l4 []byte
	if hdr.IPVersion(d) == 4 {
		h := hdr.IPv4(d)
		fam, proto = 4, h.Protocol()
		if h.FlagsFragOff()&0x1fff != 0 {
			return fam, proto, 0, 0, false
		}
		l4 = d[h.HeaderLen():]
	} else {
		fam = 6
		nh := hdr.IPv6(d).NextHeader()
		off := hdr.IPv6Len
		for range 8 {
			switch nh {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if off+8 > len(d) {
					return fam, nh, 0, 0, false
				}
				nh, off = d[off], off+8*(int(d[off+1])+1)
				continue
			case 44: // fragment
				if off+8 > len(d) {
					return fam, nh, 0, 0, false
				}
				if (uint16(d[off+2])<<8|uint16(d[off+3]))&^7 != 0 {
					return fam, d[off], 0, 0, false
				}
				nh, off = d[off], off+8
				continue
			}
			break
		}
		proto = nh
		if off > len(d) {
			return fam, proto, 0, 0, false
		}
		l4 = d[off:]
	}
	if (proto == hdr.ProtoTCP || proto == hdr.ProtoUDP) && len(l4) >= 4 {
		return fam, proto, uint16(l4[0])<<8 | uint16(l4[1]), uint16(l4[2])<<8 | uint16(l4[3]), true
	}
	return fam, proto, 0, 0, false
}
