package control

import (
	"net/netip"
	"slices"

	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/internal/logging"
)

// sessionAddressUp configures the addresses an initiator's peer assigned
// in its CFG_REPLY (INTERNAL_IP4_ADDRESS, INTERNAL_IP6_ADDRESS) when the
// tunnel interface says `ip address negotiated` (`ipv6 address
// negotiated` has no config model yet: an IPv6 address is taken whenever
// the peer sends one): as the interface's local route in the RIB (L, like
// any interface address) and, through KernelAddresses, on the overlay
// device, where the host's own packets into the overlay take it as their
// source. sessionAddressDown undoes it.
func (d *Daemon) sessionAddressUp(s *Session, info ike.IKESAInfo) {
	if !info.Initiator || info.PeerConfig == nil {
		return
	}
	d.mu.Lock()
	negotiated := s.plan != nil && s.plan.Interface != nil && s.plan.Interface.AddressNegotiated
	vrf, iface := s.VRF, s.Interface
	d.mu.Unlock()
	var addrs []netip.Prefix
	for _, v6 := range []bool{false, true} {
		p, ok := info.PeerConfig.AssignedPrefix(v6)
		if !ok || (!v6 && !negotiated) {
			continue
		}
		host := netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
		if err := d.rib.Add(rib.Route{VRF: vrf, Prefix: host, Source: rib.Local, NextHops: []rib.NextHop{{Interface: iface}}, Owner: iface}); err != nil {
			d.log.Warn("negotiated address not installed", "interface", iface, "address", host, "err", err)
			continue
		}
		if k, ok := d.opts.Kernel.(KernelAddresses); ok {
			if err := k.AddAddress(vrf, host); err != nil {
				d.log.Warn("negotiated address not configured on the overlay device", "interface", iface, "address", host, "err", err)
			}
		}
		addrs = append(addrs, host)
		d.event("IKEV2", logging.Notification, "ADDRESS_ASSIGNED", "Interface "+iface+" negotiated address "+host.String())
	}
	d.mu.Lock()
	s.Addresses = addrs
	d.mu.Unlock()
}

// sessionAddressDown removes a session's negotiated addresses from the
// overlay device, except those a newer session of the same interface holds
// (its RIB routes go with the session's owner). s is no longer in
// d.sessions.
func (d *Daemon) sessionAddressDown(s *Session) {
	d.mu.Lock()
	var addrs []netip.Prefix
	for _, a := range s.Addresses {
		held := false
		for _, o := range d.sessions {
			held = held || (o.Interface == s.Interface && slices.Contains(o.Addresses, a))
		}
		if !held {
			addrs = append(addrs, a)
		}
	}
	vrf := s.VRF
	d.mu.Unlock()
	for _, a := range addrs {
		d.rib.Remove(vrf, a, rib.Local, s.Interface)
	}
	k, ok := d.opts.Kernel.(KernelAddresses)
	if !ok {
		return
	}
	for _, a := range addrs {
		if err := k.DeleteAddress(vrf, a); err != nil {
			d.log.Warn("negotiated address not removed from the overlay device", "interface", s.Interface, "address", a, "err", err)
		}
	}
}
