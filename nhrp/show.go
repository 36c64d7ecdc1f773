package nhrp

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// EntryView is a cache entry as `show ip nhrp -o json` prints it.
type EntryView struct {
	Prefix      string   `json:"prefix"`
	Via         string   `json:"via,omitempty"`
	Interface   string   `json:"interface,omitempty"`
	Type        string   `json:"type"`
	Flags       []string `json:"flags"`
	NBMA        string   `json:"nbma,omitempty"`
	ClaimedNBMA string   `json:"claimed_nbma,omitempty"`
	Created     string   `json:"created"`
	UptimeSec   int64    `json:"uptime_seconds"`
	Expire      string   `json:"expire,omitempty"`
	ExpireSec   int64    `json:"expire_seconds,omitempty"`
	// Label is the VPN label the entry's route pushes (MPLS over FlexVPN).
	Label uint32 `json:"label,omitempty"`
}

// View renders e for JSON at time now.
func (e *Entry) View(now time.Time) EntryView {
	v := EntryView{
		Prefix:    e.Prefix.String(),
		Interface: e.Tunnel,
		Type:      e.Type.String(),
		Flags:     e.Flags.Names(),
		Created:   e.Created.UTC().Format(time.RFC3339),
		UptimeSec: int64(now.Sub(e.Created) / time.Second),
		Label:     e.Label,
	}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	if e.NextHop.IsValid() {
		v.Via = e.NextHop.String()
	}
	if e.NBMA.IsValid() {
		v.NBMA = e.NBMA.String()
	}
	if e.ClaimedNBMA.IsValid() {
		v.ClaimedNBMA = e.ClaimedNBMA.String()
	}
	if !e.Expire.IsZero() {
		v.Expire = e.Expire.UTC().Format(time.RFC3339)
		v.ExpireSec = int64(e.Expire.Sub(now) / time.Second)
	}
	return v
}

// iosDuration formats d the way IOS prints ages: hh:mm:ss below a day,
// then 1d02h, then 3w2d.
func iosDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 86400:
		return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
	case s < 7*86400:
		return fmt.Sprintf("%dd%02dh", s/86400, s/3600%24)
	}
	return fmt.Sprintf("%dw%dd", s/(7*86400), s/86400%7)
}

// WriteNHRP renders `show ip nhrp [detail]` (v4 true) or `show ipv6 nhrp
// [detail]` from a Cache snapshot, in IOS's layout.
func WriteNHRP(w io.Writer, entries []Entry, now time.Time, v4, detail bool) error {
	var b strings.Builder
	for i := range entries {
		e := &entries[i]
		if e.Prefix.Addr().Is4() != v4 {
			continue
		}
		if e.NextHop.IsValid() {
			fmt.Fprintf(&b, "%s via %s\n", e.Prefix, e.NextHop)
		} else {
			fmt.Fprintf(&b, "%s\n", e.Prefix)
		}
		expire := "never expire"
		if !e.Expire.IsZero() {
			expire = "expire " + iosDuration(e.Expire.Sub(now))
		}
		if e.Tunnel != "" {
			fmt.Fprintf(&b, "  %s created %s, %s\n", e.Tunnel, iosDuration(now.Sub(e.Created)), expire)
		} else {
			fmt.Fprintf(&b, "  created %s, %s\n", iosDuration(now.Sub(e.Created)), expire)
		}
		if f := e.Flags.String(); f != "" {
			fmt.Fprintf(&b, "  Type: %s, Flags: %s\n", e.Type, f)
		} else {
			fmt.Fprintf(&b, "  Type: %s, Flags: none\n", e.Type)
		}
		if e.NBMA.IsValid() {
			fmt.Fprintf(&b, "  NBMA address: %s\n", e.NBMA)
		}
		if e.ClaimedNBMA.IsValid() {
			fmt.Fprintf(&b, "  (Claimed NBMA address: %s)\n", e.ClaimedNBMA)
		}
		if e.Label != 0 {
			fmt.Fprintf(&b, "  MPLS label: %d\n", e.Label)
		}
		if detail {
			fmt.Fprintf(&b, "  Created at: %s\n", e.Created.UTC().Format(time.RFC3339))
			switch {
			case e.Flags&FlagRIB != 0:
				fmt.Fprintf(&b, "  Route: NHRP (H) [%d/1] via %s, %s\n", NHRPDistance, e.NextHop, e.Tunnel)
			case e.Flags&FlagNHO != 0:
				fmt.Fprintf(&b, "  Route: next-hop override via %s, %s\n", e.NextHop, e.Tunnel)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PeerView is one line of the `show dmvpn` summary: a tunnel peer.
type PeerView struct {
	Interface  string   `json:"interface"`
	Entries    int      `json:"entries"`
	PeerNBMA   string   `json:"peer_nbma"`
	PeerTunnel []string `json:"peer_tunnel"`
	State      string   `json:"state"`
	UpDownSec  int64    `json:"updown_seconds"`
	Attributes string   `json:"attributes"`
}

// DMVPN returns the `show dmvpn` summary: one line per attached tunnel.
func (n *Node) DMVPN() []PeerView {
	n.lock()
	defer n.unlock()
	now := n.now()
	out := make([]PeerView, 0, len(n.tunnels))
	for _, t := range n.tunnels {
		v := PeerView{Interface: t.Name, State: "UP", UpDownSec: int64(now.Sub(t.up) / time.Second)}
		if t.RemoteNBMA.IsValid() {
			v.PeerNBMA = t.RemoteNBMA.String()
		}
		for _, a := range t.RemoteProto {
			v.PeerTunnel = append(v.PeerTunnel, a.String())
		}
		attr := "D"
		if t.ToNHS {
			attr = "S"
		}
		var nat, t1, t2 bool
		for _, e := range n.cache {
			if e.Tunnel != t.Name {
				continue
			}
			v.Entries++
			nat = nat || e.ClaimedNBMA.IsValid()
			t1 = t1 || e.Flags&FlagRIB != 0
			t2 = t2 || e.Flags&FlagNHO != 0
		}
		if nat {
			attr += "N"
		}
		if t1 {
			attr += "T1"
		}
		if t2 {
			attr += "T2"
		}
		v.Attributes = attr
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Interface < out[j].Interface })
	return out
}

// WriteDMVPN renders the `show dmvpn` summary.
func WriteDMVPN(w io.Writer, peers []PeerView, now time.Time) error {
	var b strings.Builder
	b.WriteString("Legend: Attrb --> S - Static (hub), D - Dynamic, N - NATed,\n")
	b.WriteString("        T1 - NHRP route installed, T2 - next-hop override\n")
	b.WriteString("        # Ent --> number of NHRP entries through the peer\n")
	b.WriteString(strings.Repeat("=", 74) + "\n\n")
	fmt.Fprintf(&b, "NHRP peers: %d\n\n", len(peers))
	fmt.Fprintf(&b, "%-16s %5s %-39s %-15s %-5s %8s %s\n", "Interface", "# Ent", "Peer NBMA Addr", "Peer Tunnel Add", "State", "UpDn Tm", "Attrb")
	fmt.Fprintf(&b, "%-16s %5s %-39s %-15s %-5s %8s %s\n", strings.Repeat("-", 16), "-----", strings.Repeat("-", 15), strings.Repeat("-", 15), "-----", "--------", "-----")
	for _, p := range peers {
		tun := "-"
		if len(p.PeerTunnel) > 0 {
			tun = strings.Join(p.PeerTunnel, ",")
		}
		nbma := p.PeerNBMA
		if nbma == "" {
			nbma = "-"
		}
		fmt.Fprintf(&b, "%-16s %5d %-39s %-15s %-5s %8s %s\n", p.Interface, p.Entries, nbma, tun, p.State,
			iosDuration(time.Duration(p.UpDownSec)*time.Second), p.Attributes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTraffic renders `show ip nhrp traffic`.
func WriteTraffic(w io.Writer, s Stats) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Sent: Total %d\n", s.TrafficIndicationsSent+s.ResolutionRequestsSent+s.ResolutionRepliesSent+s.ErrorIndicationsSent)
	fmt.Fprintf(&b, "     %d Resolution Request  %d Resolution Reply  %d Traffic Indication (redirect)\n",
		s.ResolutionRequestsSent, s.ResolutionRepliesSent, s.TrafficIndicationsSent)
	fmt.Fprintf(&b, "     %d Error Indication  %d Request retransmits  %d Request timeouts\n",
		s.ErrorIndicationsSent, s.ResolutionRetries, s.ResolutionTimeouts)
	fmt.Fprintf(&b, "Rcvd: Total %d\n", s.Received)
	fmt.Fprintf(&b, "     %d Resolution Request  %d Resolution Reply  %d Traffic Indication (redirect)\n",
		s.ResolutionRequestsRecv, s.ResolutionRepliesRecv, s.TrafficIndicationsRecv)
	fmt.Fprintf(&b, "     %d Error Indication\n", s.ErrorIndicationsRecv)
	fmt.Fprintf(&b, "Forwarded: %d Resolution Request  %d Resolution Reply\n", s.ResolutionRequestsFwd, s.ResolutionRepliesFwd)
	fmt.Fprintf(&b, "Shortcuts: %d installed  %d removed  %d refreshed  %d moved  %d tunnels requested  %d released\n",
		s.ShortcutsInstalled, s.ShortcutsRemoved, s.ShortcutsRefreshed, s.ShortcutsMoved, s.TunnelsRequested, s.TunnelsReleased)
	keys := make([]string, 0, len(s.Drops))
	for k, v := range s.Drops {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		b.WriteString("Dropped:")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s %d", k, s.Drops[k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
