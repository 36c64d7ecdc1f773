package bpf

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Limits compiled into steer.c.
const (
	// MaxInterfaces is how many interfaces (WAN and LAN together) one
	// loaded Steering can be attached to.
	MaxInterfaces = 16
	// MaxQueues is the highest receive queue number + 1 that can be steered.
	MaxQueues = 64
)

// ErrNotSupported is returned (wrapped) by Probe and Load when the kernel
// lacks something the steering programs need; callers fall back to the
// portable backend. It is cilium/ebpf's ErrNotSupported, so errors.Is works
// with either name.
var ErrNotSupported = ebpf.ErrNotSupported

// Probe checks that the running kernel can load and run the steering
// programs: XDP programs, the XSKMAP, LPM trie, hash and per-CPU array maps,
// and the bpf_redirect_map helper. The returned error wraps ErrNotSupported
// when a feature is missing, or another error (typically EPERM) when the
// probe itself could not run.
func Probe() error {
	if err := features.HaveProgramType(ebpf.XDP); err != nil {
		return fmt.Errorf("probe xdp program type: %w", err)
	}
	for _, mt := range []ebpf.MapType{ebpf.XSKMap, ebpf.LPMTrie, ebpf.Hash, ebpf.PerCPUArray} {
		if err := features.HaveMapType(mt); err != nil {
			return fmt.Errorf("probe map type %s: %w", mt, err)
		}
	}
	if err := features.HaveProgramHelper(ebpf.XDP, asm.FnRedirectMap); err != nil {
		return fmt.Errorf("probe helper bpf_redirect_map: %w", err)
	}
	return nil
}

// AttachMode selects how an XDP program is attached.
type AttachMode int

const (
	// AttachAuto tries driver (native) mode and falls back to generic mode.
	AttachAuto AttachMode = iota
	// AttachDriver requires native driver mode.
	AttachDriver
	// AttachGeneric uses generic (skb) mode, which every device supports.
	AttachGeneric
)

func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case AttachDriver:
		return "driver"
	case AttachGeneric:
		return "generic"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Options configure Load. The zero value is usable.
type Options struct {
	// Ports are the IKE and NAT-T ports of the WAN program; zero fields
	// take the IANA defaults.
	Ports Ports
	// Logger receives setup events (attach, detach, fallback); nil
	// discards them. Nothing is logged per packet.
	Logger *slog.Logger
}

// Steering is the loaded pair of steering programs and their maps. One
// Steering serves every interface of a process: each attached interface gets
// a slot, and its AF_XDP sockets are registered by (interface, queue).
//
// All methods are safe for concurrent use. Close detaches every interface
// and releases the kernel objects; a process that dies without Close loses
// its attachments too, because they are bpf_links owned by its file
// descriptors.
type Steering struct {
	log   *slog.Logger
	ports Ports

	mu     sync.Mutex
	objs   steerObjects
	ifaces map[int]*Attachment // by ifindex
	slots  [MaxInterfaces]bool
	closed bool
}

// Load loads the steering programs into the kernel. It does not attach
// them; see AttachWAN and AttachLAN.
func Load(opts Options) (*Steering, error) {
	ports := opts.Ports
	if ports.IKE == 0 {
		ports.IKE = DefaultPorts.IKE
	}
	if ports.NATT == 0 {
		ports.NATT = DefaultPorts.NATT
	}
	if ports.IKE == ports.NATT {
		return nil, fmt.Errorf("load steering: IKE and NAT-T ports are both %d", ports.IKE)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec, err := loadSteer()
	if err != nil {
		return nil, fmt.Errorf("load steering spec: %w", err)
	}
	if err := spec.Variables["ike_port"].Set(ports.IKE); err != nil {
		return nil, fmt.Errorf("set ike_port: %w", err)
	}
	if err := spec.Variables["nat_t_port"].Set(ports.NATT); err != nil {
		return nil, fmt.Errorf("set nat_t_port: %w", err)
	}
	s := &Steering{log: log, ports: ports, ifaces: make(map[int]*Attachment)}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("load steering programs: verifier: %+v", verr)
		}
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("load steering programs: %w (needs CAP_BPF and CAP_NET_ADMIN, or root)", err)
		}
		return nil, fmt.Errorf("load steering programs: %w", err)
	}
	return s, nil
}

// Ports returns the ports the WAN program was loaded with.
func (s *Steering) Ports() Ports { return s.ports }

// Role says which program an interface runs.
type Role int

const (
	RoleWAN Role = iota // underlay: ESP and ESP-in-UDP are steered
	RoleLAN             // overlay-facing: protected destinations are steered
)

func (r Role) String() string {
	if r == RoleWAN {
		return "wan"
	}
	return "lan"
}

// Attachment is one interface with a steering program attached. Close
// detaches it.
type Attachment struct {
	s       *Steering
	ifindex int
	slot    int
	vrf     uint32
	role    Role
	mode    AttachMode // the mode that succeeded (driver or generic)
	link    link.Link  // nil for a registration without a program (tests)
	queues  uint64     // bit q set: a socket is registered for queue q
}

// Ifindex returns the interface index.
func (a *Attachment) Ifindex() int { return a.ifindex }

// Role returns the program the interface runs.
func (a *Attachment) Role() Role { return a.role }

// Mode returns the XDP mode in use: AttachDriver or AttachGeneric.
func (a *Attachment) Mode() AttachMode { return a.mode }

// VRF returns the LAN interface's VRF (0 for WAN).
func (a *Attachment) VRF() uint32 { return a.vrf }

// Close detaches the program and unregisters the interface's sockets.
func (a *Attachment) Close() error {
	s := a.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detachLocked(a)
}

// AttachWAN attaches the WAN program to the interface.
func (s *Steering) AttachWAN(ifindex int, mode AttachMode) (*Attachment, error) {
	return s.attach(ifindex, RoleWAN, 0, mode)
}

// AttachLAN attaches the LAN program to the interface, whose packets are
// matched against the protected prefixes of vrf.
func (s *Steering) AttachLAN(ifindex int, vrf uint32, mode AttachMode) (*Attachment, error) {
	return s.attach(ifindex, RoleLAN, vrf, mode)
}

func (s *Steering) attach(ifindex int, role Role, vrf uint32, mode AttachMode) (*Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.registerLocked(ifindex, role, vrf)
	if err != nil {
		return nil, err
	}
	prog := s.objs.XdpWan
	if role == RoleLAN {
		prog = s.objs.XdpLan
	}
	try := func(m AttachMode) error {
		flags := link.XDPDriverMode
		if m == AttachGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: flags})
		if err != nil {
			return err
		}
		a.link, a.mode = l, m
		return nil
	}
	switch mode {
	case AttachDriver, AttachGeneric:
		err = try(mode)
	default:
		if err = try(AttachDriver); err != nil {
			derr := err
			if err = try(AttachGeneric); err == nil {
				s.log.Info("xdp driver mode unavailable, using generic mode", "ifindex", ifindex, "err", derr)
			}
		}
	}
	if err != nil {
		_ = s.unregisterLocked(a)
		hint := ""
		switch {
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EEXIST):
			hint = " (another XDP program is attached to the interface)"
		case errors.Is(err, unix.ERANGE):
			hint = " (MTU too large for XDP on this device or its peer)"
		case errors.Is(err, unix.EPERM):
			hint = " (needs CAP_NET_ADMIN and CAP_BPF)"
		}
		return nil, fmt.Errorf("attach %s program to ifindex %d (%s mode): %w%s", role, ifindex, mode, err, hint)
	}
	s.log.Info("xdp program attached", "role", role.String(), "ifindex", ifindex, "mode", a.mode.String(), "vrf", vrf)
	return a, nil
}

// registerLocked gives the interface a slot and its configuration entry.
func (s *Steering) registerLocked(ifindex int, role Role, vrf uint32) (*Attachment, error) {
	if s.closed {
		return nil, errors.New("steering is closed")
	}
	if ifindex <= 0 {
		return nil, fmt.Errorf("register ifindex %d: invalid interface index", ifindex)
	}
	if _, ok := s.ifaces[ifindex]; ok {
		return nil, fmt.Errorf("register ifindex %d: already attached", ifindex)
	}
	slot := -1
	for i, used := range s.slots {
		if !used {
			slot = i
			break
		}
	}
	if slot < 0 {
		return nil, fmt.Errorf("register ifindex %d: all %d interface slots in use", ifindex, MaxInterfaces)
	}
	if err := s.resetRowLocked(slot); err != nil {
		return nil, fmt.Errorf("register ifindex %d: reset counters: %w", ifindex, err)
	}
	cfg := steerIfaceCfg{Slot: uint32(slot), Vrf: vrf}
	if err := s.objs.Ifaces.Update(uint32(ifindex), &cfg, ebpf.UpdateAny); err != nil {
		return nil, fmt.Errorf("register ifindex %d: %w", ifindex, err)
	}
	a := &Attachment{s: s, ifindex: ifindex, slot: slot, vrf: vrf, role: role}
	s.slots[slot] = true
	s.ifaces[ifindex] = a
	return a, nil
}

func (s *Steering) unregisterLocked(a *Attachment) error {
	if s.ifaces[a.ifindex] != a {
		return nil // already gone
	}
	var errs []error
	for q := range MaxQueues {
		key := uint32(a.slot*MaxQueues + q)
		if err := s.objs.Xsks.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	if err := s.objs.Ifaces.Delete(uint32(a.ifindex)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		errs = append(errs, err)
	}
	delete(s.ifaces, a.ifindex)
	s.slots[a.slot] = false
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unregister ifindex %d: %w", a.ifindex, err)
	}
	return nil
}

func (s *Steering) detachLocked(a *Attachment) error {
	var errs []error
	if a.link != nil {
		if err := a.link.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach ifindex %d: %w", a.ifindex, err))
		}
		a.link = nil
		s.log.Info("xdp program detached", "role", a.role.String(), "ifindex", a.ifindex)
	}
	if !s.closed {
		errs = append(errs, s.unregisterLocked(a))
	}
	return errors.Join(errs...)
}

// InterfaceInfo describes one attached interface, for show commands.
type InterfaceInfo struct {
	Ifindex int    `json:"ifindex"`
	Role    string `json:"role"`
	Mode    string `json:"mode"`
	VRF     uint32 `json:"vrf"`
	Sockets []int  `json:"queues"` // queues with a registered socket
}

// Interfaces returns the attached interfaces ordered by ifindex.
func (s *Steering) Interfaces() ([]InterfaceInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []InterfaceInfo
	for _, a := range s.ifaces {
		info := InterfaceInfo{Ifindex: a.ifindex, Role: a.role.String(), Mode: a.mode.String(), VRF: a.vrf}
		// XSKMAP entries cannot be read back from user space, so the
		// registrations are tracked here.
		for q := range MaxQueues {
			if a.queues&(1<<q) != 0 {
				info.Sockets = append(info.Sockets, q)
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(x, y InterfaceInfo) int { return x.Ifindex - y.Ifindex })
	return out, nil
}

// RegisterSocket makes the AF_XDP socket fd receive the steered frames of
// the attached interface's receive queue. The socket must already be bound
// to that interface and queue; the kernel drops (and counts in the socket's
// statistics) frames redirected to a socket bound elsewhere.
func (s *Steering) RegisterSocket(ifindex, queue, fd int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.ifaces[ifindex]
	if !ok {
		return fmt.Errorf("register socket: ifindex %d is not attached", ifindex)
	}
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("register socket: queue %d out of range [0,%d)", queue, MaxQueues)
	}
	if fd < 0 {
		return fmt.Errorf("register socket: invalid descriptor %d", fd)
	}
	if err := s.objs.Xsks.Update(uint32(a.slot*MaxQueues+queue), uint32(fd), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("register socket for ifindex %d queue %d: %w", ifindex, queue, err)
	}
	a.queues |= 1 << queue
	return nil
}

// UnregisterSocket stops steering the queue's frames to a socket; they go to
// the kernel (and count as NoSocket) afterwards.
func (s *Steering) UnregisterSocket(ifindex, queue int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.ifaces[ifindex]
	if !ok {
		return fmt.Errorf("unregister socket: ifindex %d is not attached", ifindex)
	}
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("unregister socket: queue %d out of range [0,%d)", queue, MaxQueues)
	}
	err := s.objs.Xsks.Delete(uint32(a.slot*MaxQueues + queue))
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unregister socket for ifindex %d queue %d: %w", ifindex, queue, err)
	}
	a.queues &^= 1 << queue
	return nil
}

// prefixSet names one pair of LPM maps.
type prefixSet int

const (
	setProtected prefixSet = iota
	setLocal
)

func (k prefixSet) String() string {
	if k == setLocal {
		return "local"
	}
	return "protected"
}

func (s *Steering) maps(k prefixSet) (v4, v6 *ebpf.Map) {
	if k == setLocal {
		return s.objs.Local4, s.objs.Local6
	}
	return s.objs.Protected4, s.objs.Protected6
}

// AddProtected adds a protected destination prefix to a VRF. Adding an
// existing prefix is not an error. The prefix is masked first.
func (s *Steering) AddProtected(vrf uint32, p netip.Prefix) error {
	return s.updatePrefix(setProtected, vrf, p, true)
}

// DeleteProtected removes a protected prefix; removing an absent prefix is
// not an error.
func (s *Steering) DeleteProtected(vrf uint32, p netip.Prefix) error {
	return s.updatePrefix(setProtected, vrf, p, false)
}

// AddLocal adds a local prefix to a VRF: LAN packets to it stay with the
// kernel even when a protected prefix covers it. The control side adds the
// router's own LAN addresses here, so that a default route over a tunnel
// does not capture traffic to the router itself.
func (s *Steering) AddLocal(vrf uint32, p netip.Prefix) error {
	return s.updatePrefix(setLocal, vrf, p, true)
}

// DeleteLocal removes a local prefix; removing an absent one is not an error.
func (s *Steering) DeleteLocal(vrf uint32, p netip.Prefix) error {
	return s.updatePrefix(setLocal, vrf, p, false)
}

func (s *Steering) updatePrefix(k prefixSet, vrf uint32, p netip.Prefix, add bool) error {
	op := "add"
	if !add {
		op = "delete"
	}
	if !p.IsValid() {
		return fmt.Errorf("%s %s prefix %v: invalid", op, k, p)
	}
	p = p.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	m4, m6 := s.maps(k)
	var err error
	var value uint32 = 1
	if p.Addr().Is4() {
		key := steerLpm4Key{Prefixlen: 32 + uint32(p.Bits()), Vrf: vrf, Addr: p.Addr().As4()}
		if add {
			err = m4.Update(&key, &value, ebpf.UpdateAny)
		} else {
			err = m4.Delete(&key)
		}
	} else {
		key := steerLpm6Key{Prefixlen: 32 + uint32(p.Bits()), Vrf: vrf, Addr: p.Addr().As16()}
		if add {
			err = m6.Update(&key, &value, ebpf.UpdateAny)
		} else {
			err = m6.Delete(&key)
		}
	}
	if err != nil && !(errors.Is(err, ebpf.ErrKeyNotExist) && !add) {
		return fmt.Errorf("%s %s prefix %v vrf %d: %w", op, k, p, vrf, err)
	}
	return nil
}

// ProtectedPrefixes returns every protected prefix of every VRF, ordered
// by VRF, family and prefix.
func (s *Steering) ProtectedPrefixes() ([]ProtectedPrefix, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked(setProtected)
}

// LocalPrefixes returns every local prefix of every VRF, ordered like
// ProtectedPrefixes.
func (s *Steering) LocalPrefixes() ([]ProtectedPrefix, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked(setLocal)
}

func (s *Steering) listLocked(k prefixSet) ([]ProtectedPrefix, error) {
	m4, m6 := s.maps(k)
	var out []ProtectedPrefix
	var k4 steerLpm4Key
	var v uint32
	it4 := m4.Iterate()
	for it4.Next(&k4, &v) {
		out = append(out, ProtectedPrefix{VRF: k4.Vrf, Prefix: netip.PrefixFrom(netip.AddrFrom4(k4.Addr), int(k4.Prefixlen)-32)})
	}
	if err := it4.Err(); err != nil {
		return nil, fmt.Errorf("list %s IPv4 prefixes: %w", k, err)
	}
	var k6 steerLpm6Key
	it6 := m6.Iterate()
	for it6.Next(&k6, &v) {
		out = append(out, ProtectedPrefix{VRF: k6.Vrf, Prefix: netip.PrefixFrom(netip.AddrFrom16(k6.Addr), int(k6.Prefixlen)-32)})
	}
	if err := it6.Err(); err != nil {
		return nil, fmt.Errorf("list %s IPv6 prefixes: %w", k, err)
	}
	slices.SortFunc(out, func(a, b ProtectedPrefix) int {
		if a.VRF != b.VRF {
			return cmp.Compare(a.VRF, b.VRF)
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	})
	return out, nil
}

// SetProtected makes the VRF's protected prefixes exactly want: it adds
// the missing ones before it deletes the extra ones, so that a prefix in
// both the old and new sets is never unprotected in between. The control
// side calls it with the VRF's tunnel routes after each RIB change.
func (s *Steering) SetProtected(vrf uint32, want []netip.Prefix) error {
	return s.setPrefixes(setProtected, vrf, want)
}

// SetLocal makes the VRF's local prefixes exactly want, adding before
// deleting like SetProtected.
func (s *Steering) SetLocal(vrf uint32, want []netip.Prefix) error {
	return s.setPrefixes(setLocal, vrf, want)
}

func (s *Steering) setPrefixes(k prefixSet, vrf uint32, want []netip.Prefix) error {
	wantSet := make(map[netip.Prefix]bool, len(want))
	for _, p := range want {
		if !p.IsValid() {
			return fmt.Errorf("set %s prefixes vrf %d: invalid prefix %v", k, vrf, p)
		}
		wantSet[p.Masked()] = true
	}
	s.mu.Lock()
	cur, err := s.listLocked(k)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("set %s prefixes vrf %d: %w", k, vrf, err)
	}
	have := make(map[netip.Prefix]bool)
	for _, p := range cur {
		if p.VRF == vrf {
			have[p.Prefix] = true
		}
	}
	for p := range wantSet {
		if !have[p] {
			if err := s.updatePrefix(k, vrf, p, true); err != nil {
				return err
			}
		}
	}
	for p := range have {
		if !wantSet[p] {
			if err := s.updatePrefix(k, vrf, p, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Counters are the per-verdict counters summed over CPUs, indexed by Verdict.
type Counters [NumVerdicts]Counter

// ByName returns the counters keyed by verdict name, for JSON and metrics.
func (c Counters) ByName() map[string]Counter {
	m := make(map[string]Counter, len(c))
	for i, v := range c {
		m[Verdict(i).String()] = v
	}
	return m
}

// Counters reads the per-verdict counters of all interfaces (including
// frames on interfaces that are not attached through this Steering),
// summed over all CPUs.
func (s *Steering) Counters() (Counters, error) {
	var out Counters
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return out, errors.New("read counters: steering is closed")
	}
	for row := range counterRows {
		if err := s.addRowLocked(&out, row); err != nil {
			return out, err
		}
	}
	return out, nil
}

// InterfaceCounters reads the per-verdict counters of one attached
// interface since it was attached, summed over all CPUs.
func (s *Steering) InterfaceCounters(ifindex int) (Counters, error) {
	var out Counters
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.ifaces[ifindex]
	if !ok {
		return out, fmt.Errorf("read counters: ifindex %d is not attached", ifindex)
	}
	return out, s.addRowLocked(&out, a.slot)
}

// counterRows is the number of counter rows: one per slot and one for
// unregistered interfaces.
const counterRows = MaxInterfaces + 1

func (s *Steering) addRowLocked(out *Counters, row int) error {
	var per []steerCounter
	for i := range NumVerdicts {
		if err := s.objs.Counters.Lookup(uint32(row*NumVerdicts+i), &per); err != nil {
			return fmt.Errorf("read counter %s: %w", Verdict(i), err)
		}
		for _, c := range per {
			out[i].Packets += c.Packets
			out[i].Bytes += c.Bytes
		}
	}
	return nil
}

// resetRowLocked zeroes a slot's counters so that a reused slot starts
// from zero.
func (s *Steering) resetRowLocked(row int) error {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return err
	}
	zero := make([]steerCounter, ncpu)
	for i := range NumVerdicts {
		if err := s.objs.Counters.Update(uint32(row*NumVerdicts+i), zero, ebpf.UpdateAny); err != nil {
			return err
		}
	}
	return nil
}

// Close detaches every interface and releases the programs and maps.
func (s *Steering) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	var errs []error
	for _, a := range s.ifaces {
		errs = append(errs, s.detachLocked(a))
	}
	s.closed = true
	s.ifaces = nil
	errs = append(errs, s.objs.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close steering: %w", err)
	}
	return nil
}
