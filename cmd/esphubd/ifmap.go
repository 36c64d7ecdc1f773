package main

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/esphub/esphub/config"
)

// hostIface is one Linux interface as the interface mapping sees it.
type hostIface struct {
	Name  string
	Addrs []netip.Addr
}

// ifaceMap is where the AF_XDP backend attaches: the Linux interfaces that
// carry the configuration's IOS WAN and LAN interfaces.
type ifaceMap struct {
	// WANs are the Linux interfaces of the tunnel sources, in
	// configuration order.
	WANs []string
	// LANs are the Linux interfaces of the other addressed physical
	// interfaces.
	LANs []string
	// LANVRF names the VRF of each LAN in one (Linux name -> VRF name).
	LANVRF map[string]string
	// Pairs says which IOS interface became which Linux interface
	// (IOS name -> Linux name), for the log.
	Pairs map[string]string
	// Notes explain what was left to the kernel path and why; each is one
	// line for the log.
	Notes []string
}

// mapInterfaces finds the Linux interfaces behind the configuration's IOS
// interfaces. An IOS interface maps to the Linux interface of the same name
// when there is one (hosts may rename their NICs to IOS names), otherwise to
// the Linux interface that holds one of its configured addresses.
//
// WANs are the interfaces a tunnel or virtual template names as its
// `tunnel source` (by interface or by address); LANs are the other
// addressed physical interfaces, in the global table or in a VRF (`vrf
// forwarding`). Interfaces that are shut down or unmapped (host lists only
// the interfaces that are up) are not attached; traffic through them takes
// the kernel and the portable path, and a note says so. It is an error
// when no WAN maps.
func mapInterfaces(cfg *config.Config, host []hostIface) (ifaceMap, error) {
	m := ifaceMap{Pairs: map[string]string{}, LANVRF: map[string]string{}}
	byAddr := map[netip.Addr]string{}
	byName := map[string]bool{}
	for _, h := range host {
		byName[h.Name] = true
		for _, a := range h.Addrs {
			if _, dup := byAddr[a.Unmap()]; !dup {
				byAddr[a.Unmap()] = h.Name
			}
		}
	}
	linuxOf := func(i *config.Interface) string {
		if byName[i.Name] {
			return i.Name
		}
		for _, p := range slices.Concat(i.Addresses, i.IPv6Addresses) {
			if n, ok := byAddr[p.Addr().Unmap()]; ok {
				return n
			}
		}
		return ""
	}
	// Tunnel sources, in configuration order.
	var srcNames []string
	var srcAddrs []netip.Addr
	for _, i := range cfg.Interfaces {
		if (i.Kind != config.KindTunnel && i.Kind != config.KindVirtualTemplate) || i.Tunnel == nil || i.Shutdown {
			continue
		}
		switch {
		case i.Tunnel.SourceAddr.IsValid():
			srcAddrs = append(srcAddrs, i.Tunnel.SourceAddr.Unmap())
		case i.Tunnel.Source != "" && i.Tunnel.Source != "dynamic":
			srcNames = append(srcNames, i.Tunnel.Source)
		}
	}
	isWAN := func(i *config.Interface) bool {
		if slices.Contains(srcNames, i.Name) {
			return true
		}
		for _, p := range slices.Concat(i.Addresses, i.IPv6Addresses) {
			if slices.Contains(srcAddrs, p.Addr().Unmap()) {
				return true
			}
		}
		return false
	}
	used := map[string]string{} // Linux name -> IOS name
	addWAN := func(ios, linux string) {
		if !slices.Contains(m.WANs, linux) {
			m.WANs = append(m.WANs, linux)
			used[linux] = ios
			m.Pairs[ios] = linux
		}
	}
	for _, i := range cfg.Interfaces {
		if i.Kind != config.KindPhysical {
			continue
		}
		if len(i.Addresses) == 0 && len(i.IPv6Addresses) == 0 {
			continue
		}
		if i.Shutdown {
			m.Notes = append(m.Notes, fmt.Sprintf("%s is shut down: not attached", i.Name))
			continue
		}
		linux := linuxOf(i)
		if linux == "" {
			m.Notes = append(m.Notes, fmt.Sprintf("%s: no Linux interface is named so or holds its addresses: not attached", i.Name))
			continue
		}
		if ios, dup := used[linux]; dup {
			m.Notes = append(m.Notes, fmt.Sprintf("%s maps to %s like %s: attached once", i.Name, linux, ios))
			continue
		}
		if isWAN(i) {
			addWAN(i.Name, linux)
			continue
		}
		if i.VRF != "" {
			m.LANVRF[linux] = i.VRF
		}
		used[linux] = i.Name
		m.Pairs[i.Name] = linux
		m.LANs = append(m.LANs, linux)
	}
	// A tunnel source given as an address that no IOS interface holds.
	for _, a := range srcAddrs {
		if linux, ok := byAddr[a]; ok && !slices.Contains(m.LANs, linux) {
			addWAN("tunnel source "+a.String(), linux)
		}
	}
	if len(m.WANs) == 0 {
		return m, fmt.Errorf("no WAN interface: no tunnel source maps to a Linux interface (by name or address)")
	}
	return m, nil
}
