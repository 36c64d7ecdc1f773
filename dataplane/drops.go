package dataplane

// DropReason says why the engine dropped a packet. Each reason has a
// counter (Engine.Drops); the packet path never logs.
type DropReason uint8

// Drop reasons.
const (
	DropNone      DropReason = iota
	DropMalformed            // a header failed validation
	DropNoSA                 // no inbound SA for the SPI, or no outbound SA on the tunnel
	DropReplay               // sequence number seen before or older than the window
	DropAuth                 // ICV did not verify
	DropPadding              // ESP padding or pad length wrong under a good ICV
	DropNoRoute              // no FIB entry, or a drop (Null0) route
	DropNoTunnel             // route names a tunnel that does not exist
	DropSAExpired            // hard lifetime or sequence number space exhausted
	DropGREKey               // GRE key missing or not the tunnel's
	DropProto                // unsupported next header or GRE protocol
	DropNoLabel              // MPLS label without a VRF binding
	DropTTL                  // inner TTL/hop limit expired on a hairpin
	DropNoBuffer             // no head- or tailroom for the encapsulation
	DropLoop                 // would send a packet back where it came from
	DropSGT                  // malformed CMD header or SGT 0xFFFF
	DropSelector             // inner addresses outside the inbound SA's traffic selectors
	DropTooBig               // would exceed the tunnel MTU with DF set (an ICMP error goes back when possible)
	DropECN                  // outer CE mark on a Not-ECT inner packet (RFC 6040)
	DropSGACL                // denied by the role-based (SGT) permissions matrix
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropNone:      "none",
	DropMalformed: "malformed",
	DropNoSA:      "no-sa",
	DropReplay:    "replay",
	DropAuth:      "auth",
	DropPadding:   "padding",
	DropNoRoute:   "no-route",
	DropNoTunnel:  "no-tunnel",
	DropSAExpired: "sa-expired",
	DropGREKey:    "gre-key",
	DropProto:     "protocol",
	DropNoLabel:   "no-label",
	DropTTL:       "ttl",
	DropNoBuffer:  "no-buffer",
	DropLoop:      "loop",
	DropSGT:       "sgt",
	DropSelector:  "selector",
	DropTooBig:    "too-big",
	DropECN:       "ecn",
	DropSGACL:     "sgacl",
}

func (r DropReason) String() string {
	if int(r) < len(dropNames) {
		return dropNames[r]
	}
	return "unknown"
}

// DropReasons returns every reason except DropNone, in counter order.
func DropReasons() []DropReason {
	out := make([]DropReason, 0, numDropReasons-1)
	for r := DropReason(1); r < numDropReasons; r++ {
		out = append(out, r)
	}
	return out
}
