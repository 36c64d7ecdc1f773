package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/wire"
)

// Cisco TrustSec: SGT inline tagging negotiated with the CISCO-CTS-SGT
// Vendor ID (seed-features.md §25), IP-to-SGT mappings and the role-based
// permissions matrix, applied to the dataplane from the configuration.

// ctsDataplane is the part of the dataplane the TrustSec glue needs; both
// backends have it through the shared engine. A dataplane without it
// (test fakes) gets no mappings, matrix or counters.
type ctsDataplane interface {
	SetSGACL(dataplane.SGACLPolicy) error
	SGACLCounters() []dataplane.SGACLCounters
	ClearSGACLCounters()
	SGTCounters() (rx, tx map[uint16]uint64)
	SetCMDLayout(hdr.CMDLayout)
}

var vidCTSSGT = []byte(wire.VendorCiscoCTSSGT)

// ctsVendorIDs returns the Vendor IDs cfg adds to IKE_SA_INIT.
func ctsVendorIDs(cfg *config.Config) [][]byte {
	if cfg.IKEv2.CTSSGT {
		return [][]byte{vidCTSSGT}
	}
	return nil
}

// ResponderVendorIDs implements ike.VendorIDPolicy: with `crypto ikev2
// cts sgt`, our IKE_SA_INIT responses offer inline tagging.
func (p *policy) ResponderVendorIDs(local, remote netip.AddrPort) [][]byte {
	d := (*Daemon)(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	return ctsVendorIDs(d.cfg)
}

func hasVendorID(vs [][]byte, v []byte) bool {
	return slices.ContainsFunc(vs, func(b []byte) bool { return bytes.Equal(b, v) })
}

// sgtNegotiated reports whether both sides sent CISCO-CTS-SGT.
func sgtNegotiated(local, peer [][]byte) bool {
	return hasVendorID(local, vidCTSSGT) && hasVendorID(peer, vidCTSSGT)
}

// sgtTagging decides whether a Child SA's dataplane SAs carry tags: IKEv2
// negotiated them, the tunnel is IPsec mode (a VTI; with GRE the tunnel
// sees only the GRE endpoints, seed-features.md §25), and the interface
// does not say `no propagate sgt`.
func sgtTagging(c *ike.ChildSA, plan *tunnelPlan) bool {
	if !sgtNegotiated(c.LocalVendorIDs, c.PeerVendorIDs) || plan.Mode != dataplane.ModeIPsec {
		return false
	}
	if plan.Interface != nil && plan.Interface.CTSManual != nil && plan.Interface.CTSManual.NoPropagate {
		return false
	}
	return true
}

// cmdLayout is the CMD-in-ESP layout cfg selects.
func cmdLayout(cfg *config.Config) hdr.CMDLayout {
	if cfg.IKEv2.CTSSGTLayout == "ip-protocol" {
		return hdr.CMDLayout{NextIsIPProto: true}
	}
	return hdr.CMDESPInline
}

// sgaclPolicy translates the configured matrix for the dataplane. A cell
// holds its lists' entries in order, IPv4 lists then IPv6 ones (the two
// families never match the same packet).
func sgaclPolicy(cfg *config.Config) dataplane.SGACLPolicy {
	pol := dataplane.SGACLPolicy{Enforce: cfg.CTS.Enforcement}
	aces := func(pm *config.RBPermission) []dataplane.SGACE {
		var out []dataplane.SGACE
		fam := uint8(4)
		if pm.IPv6 {
			fam = 6
		}
		for _, n := range pm.ACLs {
			a := cfg.RoleBasedACL(n, pm.IPv6)
			if a == nil {
				continue // warned about by config
			}
			for _, e := range a.Entries {
				proto, any := e.ProtocolNumber(pm.IPv6)
				ace := dataplane.SGACE{Action: dataplane.SGACLDeny, Family: fam, Proto: proto, AnyProto: any}
				if e.Permit {
					ace.Action = dataplane.SGACLPermit
				}
				if e.Src != nil {
					lo, hi, not := e.Src.Range()
					ace.Src = dataplane.PortRange{Lo: uint16(lo), Hi: uint16(hi), Not: not}
				}
				if e.Dst != nil {
					lo, hi, not := e.Dst.Range()
					ace.Dst = dataplane.PortRange{Lo: uint16(lo), Hi: uint16(hi), Not: not}
				}
				out = append(out, ace)
			}
		}
		return out
	}
	perms := slices.Clone(cfg.CTS.Permissions)
	sort.SliceStable(perms, func(i, j int) bool { return !perms[i].IPv6 && perms[j].IPv6 })
	for _, pm := range perms {
		if pm.Default {
			pol.Default = append(pol.Default, aces(pm)...)
			continue
		}
		pol.Cells = append(pol.Cells, dataplane.SGACLCell{From: uint16(pm.From), To: uint16(pm.To), ACEs: aces(pm)})
	}
	return pol
}

// applyCTS brings the dataplane's SGT mappings (per VRF), matrix and CMD
// layout to cfg (from old; nil at start).
func (d *Daemon) applyCTS(old, cfg *config.Config) []string {
	var errs []string
	type key struct {
		vrf string
		p   netip.Prefix
	}
	had, want := map[key]uint16{}, map[key]uint16{}
	if old != nil {
		for _, m := range old.SGTMaps {
			had[key{m.VRF, m.Prefix}] = m.SGT
		}
	}
	for _, m := range cfg.SGTMaps {
		want[key{m.VRF, m.Prefix}] = m.SGT
	}
	for k := range had {
		if _, ok := want[k]; !ok {
			if err := d.dp.DeleteSGTMapping(d.vrfID(k.vrf), k.p); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	for _, m := range cfg.SGTMaps {
		k := key{m.VRF, m.Prefix}
		if s, ok := had[k]; ok && s == m.SGT {
			continue
		}
		if err := d.dp.SetSGTMapping(d.vrfID(m.VRF), m.Prefix, m.SGT); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if cd, ok := d.dp.(ctsDataplane); ok {
		cd.SetCMDLayout(cmdLayout(cfg))
		if err := cd.SetSGACL(sgaclPolicy(cfg)); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, e := range errs {
		d.log.Warn("cts configuration not applied", "err", e)
	}
	return errs
}

// writeESPKeys writes a Child SA's two dataplane SAs in the format of
// Wireshark's esp_sa table (strongSwan's save-keys plugin does the same) so
// that captures can be decrypted while debugging. Only with
// Options.ESPKeyLog, which esphubd sets from a flag that warns loudly.
func writeESPKeys(w io.Writer, c *ike.ChildSA, alg esp.Algorithm) {
	encName, authName := "", "NULL"
	switch alg {
	case esp.AESGCM16:
		encName = "AES-GCM with 16 octet ICV [RFC4106]"
	case esp.AESCBCSHA1:
		encName, authName = "AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]"
	case esp.AESCBCSHA256:
		encName, authName = "AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]"
	default:
		return
	}
	fam := "IPv4"
	if c.Remote.Addr().Unmap().Is6() {
		fam = "IPv6"
	}
	line := func(src, dst netip.Addr, spi uint32, k ike.ChildKeys) {
		ak := ""
		if len(k.Integ) > 0 {
			ak = fmt.Sprintf("0x%x", k.Integ)
		}
		fmt.Fprintf(w, "\"%s\",\"%s\",\"%s\",\"0x%08x\",\"%s\",\"0x%x\",\"%s\",\"%s\"\n",
			fam, src.Unmap(), dst.Unmap(), spi, encName, k.Encr, authName, ak)
	}
	line(c.Remote.Addr(), c.Local.Addr(), c.InboundSPI, c.InboundKeys)
	line(c.Local.Addr(), c.Remote.Addr(), c.OutboundSPI, c.OutboundKeys)
}

func (d *Daemon) ctsCommands(c *api.Commands) {
	c.Handle("show cts role-based sgt-map", "IP-to-SGT bindings: [vrf NAME] all | ipv4 | ipv6", d.showSGTMap)
	c.Handle("show cts role-based counters", "role-based permissions counters per cell [from SGT|unknown] [to SGT|unknown]", d.showRBCounters)
	c.Handle("clear cts role-based counters", "zero the role-based permissions counters", func(ctx context.Context, args []string) (api.Result, error) {
		if len(args) != 0 {
			return api.Result{}, usage("unexpected %q", strings.Join(args, " "))
		}
		if cd, ok := d.dp.(ctsDataplane); ok {
			cd.ClearSGACLCounters()
		}
		return api.Result{Data: map[string]any{"cleared": true}, Text: "role-based counters cleared\n"}, nil
	})
	c.Handle("show cts role-based permissions", "the role-based permissions matrix", d.showRBPermissions)
	c.Handle("show cts sgt counters", "packets tagged and received per SGT", d.showSGTCounters)
}

type sgtMapJSON struct {
	VRF    string       `json:"vrf,omitempty"`
	Prefix netip.Prefix `json:"prefix"`
	SGT    uint16       `json:"sgt"`
	Source string       `json:"source"`
}

func (d *Daemon) showSGTMap(ctx context.Context, args []string) (api.Result, error) {
	vrf := ""
	if len(args) >= 2 && args[0] == "vrf" {
		vrf, args = args[1], args[2:]
	}
	fams := []bool{false, true}
	switch {
	case len(args) == 0 || len(args) == 1 && strings.HasPrefix("all", args[0]):
	case len(args) == 1 && args[0] == "ipv4":
		fams = []bool{false}
	case len(args) == 1 && args[0] == "ipv6":
		fams = []bool{true}
	default:
		return api.Result{}, usage("unexpected %q (expected all, ipv4 or ipv6)", strings.Join(args, " "))
	}
	cfg := d.Config()
	var rows []sgtMapJSON
	var b strings.Builder
	for _, v6 := range fams {
		var fam []sgtMapJSON
		for _, m := range cfg.SGTMaps {
			if m.Prefix.Addr().Is6() == v6 && m.VRF == vrf {
				fam = append(fam, sgtMapJSON{VRF: m.VRF, Prefix: m.Prefix, SGT: m.SGT, Source: "CLI"})
			}
		}
		sort.Slice(fam, func(i, j int) bool {
			if c := fam[i].Prefix.Addr().Compare(fam[j].Prefix.Addr()); c != 0 {
				return c < 0
			}
			return fam[i].Prefix.Bits() < fam[j].Prefix.Bits()
		})
		rows = append(rows, fam...)
		name := "IPv4"
		if v6 {
			name = "IPv6"
		}
		fmt.Fprintf(&b, "Active %s-SGT Bindings Information\n\n", name)
		fmt.Fprintf(&b, "%-40s%-8s%s\n", "IP Address", "SGT", "Source")
		b.WriteString("============================================\n")
		for _, r := range fam {
			addr := r.Prefix.String()
			if r.Prefix.IsSingleIP() {
				addr = r.Prefix.Addr().String()
			}
			fmt.Fprintf(&b, "%-40s%-8d%s\n", addr, r.SGT, r.Source)
		}
		fmt.Fprintf(&b, "\n%s-SGT Active Bindings Summary\n", strings.TrimSuffix(name, "v4"))
		b.WriteString("============================================\n")
		fmt.Fprintf(&b, "Total number of CLI      bindings = %d\n", len(fam))
		fmt.Fprintf(&b, "Total number of active   bindings = %d\n\n", len(fam))
	}
	if rows == nil {
		rows = []sgtMapJSON{}
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

type rbCounterJSON struct {
	From        string `json:"from"`
	To          string `json:"to"`
	SWDenied    uint64 `json:"sw_denied"`
	HWDenied    uint64 `json:"hw_denied"`
	SWPermitted uint64 `json:"sw_permitted"`
	HWPermitted uint64 `json:"hw_permitted"`
}

func sgtName(n uint16) string {
	if n == config.UnknownSGT {
		return "0" // IOS prints unknown as 0
	}
	return strconv.Itoa(int(n))
}

// showRBCounters prints `show cts role-based counters`. IOS splits the
// counts into software (punted) and hardware (forwarding ASIC) columns;
// esphub's forwarding plane is its dataplane, counted as HW with the
// AF_XDP/XDP backends and as SW with the portable (TUN and sockets) one.
func (d *Daemon) showRBCounters(ctx context.Context, args []string) (api.Result, error) {
	from, to := -1, -1 // no filter
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) || (args[i] != "from" && args[i] != "to") {
			return api.Result{}, usage("unexpected %q (expected from SGT|unknown, to SGT|unknown)", strings.Join(args[i:], " "))
		}
		v := config.UnknownSGT
		if args[i+1] != "unknown" {
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n < 0 || n > 65519 {
				return api.Result{}, usage("%q is not an SGT", args[i+1])
			}
			v = n
		}
		if args[i] == "from" {
			from = v
		} else {
			to = v
		}
	}
	cd, ok := d.dp.(ctsDataplane)
	var b strings.Builder
	rows := []rbCounterJSON{}
	enforced := false
	if ok {
		hw := d.opts.Backend != "portable" && d.opts.Backend != ""
		counters := cd.SGACLCounters()
		enforced = counters != nil
		for _, c := range counters {
			if (from >= 0 || to >= 0) && (c.Default || from >= 0 && int(c.From) != from || to >= 0 && int(c.To) != to) {
				continue
			}
			r := rbCounterJSON{From: sgtName(c.From), To: sgtName(c.To)}
			if c.Default {
				r.From, r.To = "*", "*"
			}
			if hw {
				r.HWDenied, r.HWPermitted = c.Denied, c.Permitted
			} else {
				r.SWDenied, r.SWPermitted = c.Denied, c.Permitted
			}
			rows = append(rows, r)
		}
	}
	b.WriteString("Role-based IP traffic permissions counters\n")
	fmt.Fprintf(&b, "%-8s%-8s%-12s%-12s%-12s%s\n", "From", "To", "SW-Denied", "HW-Denied", "SW-Permitt", "HW-Permitt")
	if !enforced {
		b.WriteString("(role-based enforcement is not enabled)\n")
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "%-8s%-8s%-12d%-12d%-12d%d\n", r.From, r.To, r.SWDenied, r.HWDenied, r.SWPermitted, r.HWPermitted)
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}

func (d *Daemon) showRBPermissions(ctx context.Context, args []string) (api.Result, error) {
	if len(args) != 0 {
		return api.Result{}, usage("unexpected %q", strings.Join(args, " "))
	}
	cfg := d.Config()
	var b strings.Builder
	if !cfg.CTS.Enforcement {
		b.WriteString("Role-based enforcement is disabled\n")
	}
	for _, pm := range cfg.CTS.Permissions {
		fam := "IPv4"
		if pm.IPv6 {
			fam = "IPv6"
		}
		if pm.Default {
			fmt.Fprintf(&b, "%s Role-based permissions default:\n", fam)
		} else {
			fmt.Fprintf(&b, "%s Role-based permissions from group %s to group %s:\n", fam, sgtName(uint16(pm.From)), sgtName(uint16(pm.To)))
		}
		for _, n := range pm.ACLs {
			fmt.Fprintf(&b, "\t%s\n", n)
			if a := cfg.RoleBasedACL(n, pm.IPv6); a != nil {
				for _, e := range a.Entries {
					act := "deny"
					if e.Permit {
						act = "permit"
					}
					fmt.Fprintf(&b, "\t\t%s %s\n", act, e.Protocol)
				}
			} else {
				b.WriteString("\t\t(not defined)\n")
			}
		}
	}
	perms := cfg.CTS.Permissions
	if perms == nil {
		perms = []*config.RBPermission{}
	}
	return api.Result{Data: map[string]any{"enforcement": cfg.CTS.Enforcement, "permissions": perms}, Text: b.String()}, nil
}

type sgtCounterJSON struct {
	SGT uint16 `json:"sgt"`
	Rx  uint64 `json:"rx_packets"`
	Tx  uint64 `json:"tx_packets"`
}

func (d *Daemon) showSGTCounters(ctx context.Context, args []string) (api.Result, error) {
	rows := []sgtCounterJSON{}
	if cd, ok := d.dp.(ctsDataplane); ok {
		rx, tx := cd.SGTCounters()
		seen := map[uint16]bool{}
		for s := range rx {
			seen[s] = true
		}
		for s := range tx {
			seen[s] = true
		}
		for s := range seen {
			rows = append(rows, sgtCounterJSON{SGT: s, Rx: rx[s], Tx: tx[s]})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].SGT < rows[j].SGT })
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s%-16s%s\n", "SGT", "Tagged-Sent", "Tagged-Received")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-8d%-16d%d\n", r.SGT, r.Tx, r.Rx)
	}
	return api.Result{Data: rows, Text: b.String()}, nil
}
