package wire

import (
	"encoding/binary"
	"net/netip"
)

// Builders and parsers for the Notification Data of the notify types the
// engine sends and acts on. Parsers return *Error with INVALID_SYNTAX for
// malformed data; their results alias n.Data.

// NewNotify returns a status or error notify about the IKE SA (no SPI).
func NewNotify(t NotifyType, data []byte) *Notify { return &Notify{NotifyType: t, Data: data} }

// NATDetectionLen is the size of NAT_DETECTION_*_IP data: a SHA-1 digest (RFC 7296 §2.23).
const NATDetectionLen = 20

// NewNATDetection returns NAT_DETECTION_SOURCE_IP (source true) or
// NAT_DETECTION_DESTINATION_IP carrying hash, as computed by
// suite.NATDetectionHash.
func NewNATDetection(source bool, hash []byte) *Notify {
	t := NotifyNATDetectionDestinationIP
	if source {
		t = NotifyNATDetectionSourceIP
	}
	return &Notify{NotifyType: t, Data: hash}
}

// NATDetectionHash returns the hash of a NAT_DETECTION_*_IP notify.
func (n *Notify) NATDetectionHash() ([]byte, error) {
	if n.NotifyType != NotifyNATDetectionSourceIP && n.NotifyType != NotifyNATDetectionDestinationIP {
		return nil, invalid("%s is not a NAT detection notify", n.NotifyType)
	}
	if len(n.Data) != NATDetectionLen {
		return nil, invalid("%s with %d bytes of data, want %d", n.NotifyType, len(n.Data), NATDetectionLen)
	}
	return n.Data, nil
}

// Cookie data limits (RFC 7296 §2.6: 1 to 64 octets).
const (
	MinCookieLen = 1
	MaxCookieLen = 64
)

// NewCookie returns a COOKIE notify.
func NewCookie(cookie []byte) *Notify { return &Notify{NotifyType: NotifyCookie, Data: cookie} }

// Cookie returns the data of a COOKIE notify.
func (n *Notify) Cookie() ([]byte, error) {
	if n.NotifyType != NotifyCookie {
		return nil, invalid("%s is not COOKIE", n.NotifyType)
	}
	if len(n.Data) < MinCookieLen || len(n.Data) > MaxCookieLen {
		return nil, invalid("COOKIE of %d bytes outside %d..%d", len(n.Data), MinCookieLen, MaxCookieLen)
	}
	return n.Data, nil
}

// NewInvalidKE returns INVALID_KE_PAYLOAD naming the group the responder wants.
func NewInvalidKE(g DHGroup) *Notify {
	return &Notify{NotifyType: NotifyInvalidKEPayload, Data: binary.BigEndian.AppendUint16(nil, uint16(g))}
}

// InvalidKEGroup returns the group an INVALID_KE_PAYLOAD notify asks for.
func (n *Notify) InvalidKEGroup() (DHGroup, error) {
	if n.NotifyType != NotifyInvalidKEPayload || len(n.Data) != 2 {
		return 0, invalid("%s with %d bytes is not a valid INVALID_KE_PAYLOAD", n.NotifyType, len(n.Data))
	}
	return DHGroup(binary.BigEndian.Uint16(n.Data)), nil
}

// NewSetWindowSize returns SET_WINDOW_SIZE announcing window requests.
func NewSetWindowSize(window uint32) *Notify {
	return &Notify{NotifyType: NotifySetWindowSize, Data: binary.BigEndian.AppendUint32(nil, window)}
}

// WindowSize returns the window of a SET_WINDOW_SIZE notify (at least 1).
func (n *Notify) WindowSize() (uint32, error) {
	if n.NotifyType != NotifySetWindowSize || len(n.Data) != 4 {
		return 0, invalid("%s with %d bytes is not a valid SET_WINDOW_SIZE", n.NotifyType, len(n.Data))
	}
	w := binary.BigEndian.Uint32(n.Data)
	if w == 0 {
		return 0, invalid("SET_WINDOW_SIZE of 0")
	}
	return w, nil
}

// NewRekeySA returns REKEY_SA for the Child SA with inbound SPI spi (RFC 7296 §1.3.3).
func NewRekeySA(proto ProtocolID, spi uint32) *Notify {
	return &Notify{NotifyType: NotifyRekeySA, Protocol: proto, SPI: binary.BigEndian.AppendUint32(nil, spi)}
}

// RekeySA returns the protocol and SPI of the Child SA a REKEY_SA notify names.
func (n *Notify) RekeySA() (ProtocolID, uint32, error) {
	if n.NotifyType != NotifyRekeySA || (n.Protocol != ProtocolESP && n.Protocol != ProtocolAH) || len(n.SPI) != 4 {
		return 0, 0, invalid("%s (protocol %s, %d-byte SPI) is not a valid REKEY_SA", n.NotifyType, n.Protocol, len(n.SPI))
	}
	return n.Protocol, binary.BigEndian.Uint32(n.SPI), nil
}

// NewChildNotify returns a notify about the Child SA with SPI spi (for
// example INVALID_SPI's companions or CHILD_SA_NOT_FOUND).
func NewChildNotify(t NotifyType, proto ProtocolID, spi uint32, data []byte) *Notify {
	return &Notify{NotifyType: t, Protocol: proto, SPI: binary.BigEndian.AppendUint32(nil, spi), Data: data}
}

// NewSignatureHashAlgorithms returns SIGNATURE_HASH_ALGORITHMS (RFC 7427)
// listing the hash algorithm identifiers ids.
func NewSignatureHashAlgorithms(ids ...uint16) *Notify {
	b := make([]byte, 0, 2*len(ids))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return &Notify{NotifyType: NotifySignatureHashAlgorithms, Data: b}
}

// SignatureHashAlgorithms appends the hash identifiers of a
// SIGNATURE_HASH_ALGORITHMS notify to dst.
func (n *Notify) SignatureHashAlgorithms(dst []uint16) ([]uint16, error) {
	if n.NotifyType != NotifySignatureHashAlgorithms || len(n.Data)%2 != 0 {
		return dst, invalid("%s with %d bytes is not a valid SIGNATURE_HASH_ALGORITHMS", n.NotifyType, len(n.Data))
	}
	for i := 0; i < len(n.Data); i += 2 {
		dst = append(dst, binary.BigEndian.Uint16(n.Data[i:]))
	}
	return dst, nil
}

// Gateway identity types of REDIRECT and REDIRECTED_FROM (RFC 5685 §10).
const (
	GatewayIPv4 = 1
	GatewayIPv6 = 2
	GatewayFQDN = 3
)

// Gateway is the gateway identity a REDIRECT or REDIRECTED_FROM notify
// carries: an address or, when Addr is invalid, an FQDN.
type Gateway struct {
	Addr netip.Addr
	FQDN string
}

func (g Gateway) String() string {
	if g.Addr.IsValid() {
		return g.Addr.String()
	}
	return g.FQDN
}

func appendGateway(dst []byte, g Gateway) ([]byte, error) {
	switch {
	case g.Addr.IsValid() && g.Addr.Unmap().Is4():
		dst = append(dst, GatewayIPv4, 4)
		return appendAddr(dst, g.Addr.Unmap()), nil
	case g.Addr.IsValid():
		dst = append(dst, GatewayIPv6, 16)
		return appendAddr(dst, g.Addr), nil
	case len(g.FQDN) > 0 && len(g.FQDN) <= 255:
		dst = append(dst, GatewayFQDN, byte(len(g.FQDN)))
		return append(dst, g.FQDN...), nil
	}
	return dst, encodeErr("gateway identity %q", g.FQDN)
}

// NewRedirect returns a REDIRECT notify (RFC 5685 §8.1) pointing to gw. In
// an IKE_SA_INIT response, nonce is the initiator's nonce (Ni); elsewhere it
// is nil.
func NewRedirect(gw Gateway, nonce []byte) (*Notify, error) {
	b, err := appendGateway(nil, gw)
	if err != nil {
		return nil, err
	}
	return &Notify{NotifyType: NotifyRedirect, Data: append(b, nonce...)}, nil
}

// NewRedirectedFrom returns REDIRECTED_FROM naming the gateway that redirected us (RFC 5685 §8.2).
func NewRedirectedFrom(gw Gateway) (*Notify, error) {
	b, err := appendGateway(nil, gw)
	if err != nil {
		return nil, err
	}
	return &Notify{NotifyType: NotifyRedirectedFrom, Data: b}, nil
}

// Redirect parses a REDIRECT or REDIRECTED_FROM notify: the gateway and,
// for REDIRECT, the nonce data after it (empty outside IKE_SA_INIT).
func (n *Notify) Redirect() (Gateway, []byte, error) {
	if n.NotifyType != NotifyRedirect && n.NotifyType != NotifyRedirectedFrom {
		return Gateway{}, nil, invalid("%s is not a redirect notify", n.NotifyType)
	}
	if len(n.Data) < 2 {
		return Gateway{}, nil, invalid("truncated %s", n.NotifyType)
	}
	typ, l := n.Data[0], int(n.Data[1])
	if 2+l > len(n.Data) {
		return Gateway{}, nil, invalid("%s gateway identity overruns the data", n.NotifyType)
	}
	id, rest := n.Data[2:2+l], n.Data[2+l:]
	var g Gateway
	switch {
	case typ == GatewayIPv4 && l == 4, typ == GatewayIPv6 && l == 16:
		g.Addr, _ = netip.AddrFromSlice(id)
	case typ == GatewayFQDN && l > 0:
		g.FQDN = string(id)
	default:
		return Gateway{}, nil, invalid("%s gateway identity type %d length %d", n.NotifyType, typ, l)
	}
	if n.NotifyType == NotifyRedirectedFrom && len(rest) != 0 {
		return Gateway{}, nil, invalid("REDIRECTED_FROM with trailing data")
	}
	if len(rest) == 0 {
		rest = nil
	}
	return g, rest, nil
}
