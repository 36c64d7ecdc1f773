package ike

import (
	"crypto/x509"
	"net/netip"
	"time"

	"github.com/esphub/esphub/config"
	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
	"github.com/esphub/esphub/pki"
)

// Policy is what the engine asks its caller (control, adapting config's
// FlexVPN selection rules). The engine calls it from its own goroutine; an
// implementation must not block for long and must not call back into the
// Engine synchronously.
type Policy interface {
	// ResponderIKE is asked for each new IKE_SA_INIT request, before any
	// identity is known (IOS: the IKEv2 policy matched by local address and
	// front-door VRF). It returns the IKE proposals acceptable from remote, in
	// local preference order. An error rejects the request with
	// NO_PROPOSAL_CHOSEN.
	ResponderIKE(local, remote netip.AddrPort) ([]suite.Proposal, error)

	// MatchProfile is asked by a responder once the initiator's identity is
	// known (IOS: "match identity remote" in an IKEv2 profile). The returned
	// profile supplies the keys, our identity and the Child SA policy. An
	// error fails the exchange with AUTHENTICATION_FAILED.
	MatchProfile(req ProfileRequest) (*Profile, error)
}

// ProfileRequest describes a peer asking to be authenticated.
type ProfileRequest struct {
	Local, Remote netip.AddrPort
	RemoteID      Identity
	// LocalID is the IDr the initiator asked for, zero if it sent none.
	LocalID   Identity
	VendorIDs [][]byte
	// PeerCert is the end-entity certificate of the initiator's first
	// CERT payload, parsed but NOT yet verified (nil when it sent none or
	// it does not parse). A policy may select a profile by it (IOS "match
	// certificate MAP"): the engine then validates it against the chosen
	// profile's Trustpoint and CertificateMap before trusting anything.
	PeerCert *x509.Certificate
	// TSi and TSr are the traffic selectors the initiator proposed for the
	// first Child SA in IKE_AUTH: a responder may pick the tunnel's
	// encapsulation by them (FlexVPN `virtual-template N mode auto`).
	TSi, TSr []TrafficSelector
}

// Profile is the per-peer policy (IOS: crypto ikev2 profile plus the keyring
// entry and IPsec profile it selects). The engine does not modify it and
// keeps the pointer for the life of the IKE SA.
type Profile struct {
	Name     string
	LocalID  Identity
	RemoteID Identity // initiator: the IDr it asks for (optional); responder: informational
	// LocalPSK signs our AUTH payload; RemotePSK verifies the peer's. They
	// are equal for a symmetric keyring entry. The engine never logs them.
	LocalPSK, RemotePSK []byte

	// Child is the Child SA negotiated in IKE_AUTH.
	Child ChildConfig

	// Lifetime is the IKE SA lifetime (IOS default 86400 s). The SA is
	// rekeyed RekeyMargin (minus up to Jitter) before it expires. Zero
	// Lifetime means no lifetime.
	Lifetime    time.Duration
	RekeyMargin time.Duration
	Jitter      time.Duration
	// ReauthOnExpiry is reserved; IKE SAs are rekeyed, not reauthenticated.

	// DPDInterval is the liveness check interval (IOS "dpd <interval> <retry>
	// {periodic | on-demand}"); zero disables checks. DPDRetry is the
	// retransmission interval of a check, DPDRetries how many times it is
	// retransmitted (default 5) before the peer is declared dead; zero
	// DPDRetry uses the engine's retransmission schedule. DPDOnDemand
	// checks only when traffic was sent and nothing came back (dpd.go).
	DPDInterval time.Duration
	DPDRetry    time.Duration
	// LocalCredential, when set, authenticates us with a signature and
	// CERT payloads instead of LocalPSK ("authentication local rsa-sig |
	// ecdsa-sig", "pki trustpoint NAME sign"); PreferPSS signs with
	// RSASSA-PSS when the key is RSA. Trustpoint, when set, accepts peers
	// that sign, validated against its CAs and CRLs ("pki trustpoint NAME
	// verify"), and CertificateMap, when set, must match their
	// certificate ("match certificate MAP"). See certauth.go.
	LocalCredential *pki.Credential
	PreferPSS       bool
	Trustpoint      *pki.Trustpoint
	CertificateMap  *config.CertificateMap
	DPDRetries      int
	DPDOnDemand     bool
	// PeerKeyAlgorithms, when set, are the certificate key algorithms a
	// signing peer may use (IOS "authentication remote rsa-sig" and/or
	// "ecdsa-sig"); a peer signing with another key type fails
	// authentication. Empty accepts any key the trustpoint validates.
	PeerKeyAlgorithms []x509.PublicKeyAlgorithm
	// CertLifetime ends the IKE SA (a Delete, no rekey) when the
	// certificate chain the peer authenticated with expires: IKEv2 does
	// not re-validate on rekey, so expiry must end the session (IOS
	// `lifetime certificate`, its default; `no lifetime certificate`
	// turns it off). It has no effect on PSK peers.
	CertLifetime bool
	// NATKeepalive is the interval of NAT keepalives sent while we are
	// behind a NAT (IOS "crypto ikev2 nat keepalive"); zero disables them.
	NATKeepalive time.Duration
	// ForceEncap makes the engine claim a NAT in its NAT detection hashes so
	// that ESP is always UDP-encapsulated (strongSwan's encap=yes).
	ForceEncap bool
	// VendorIDs are sent in IKE_SA_INIT in addition to FLEXVPN-SUPPORTED.
	VendorIDs [][]byte
	// IKEProposals are offered by an initiator, in preference order.
	IKEProposals []suite.Proposal

	// ConfigRequest, when set, is sent by an initiator in IKE_AUTH as a
	// CFG_REQUEST configuration payload (FlexVPN: the attributes it asks for,
	// such as INTERNAL_IP4_ADDRESS, plus its own subnets as
	// INTERNAL_IP4/6_SUBNET when "route set" applies).
	ConfigRequest *wire.Configuration
	// ConfigReply answers a peer's CFG_REQUEST in IKE_AUTH as responder
	// (FlexVPN: address from "ip local pool", DNS, "route set" subnets). It is
	// called from the engine goroutine with a copy of the request the caller
	// may keep. A nil reply sends no CP; an error answers
	// INTERNAL_ADDRESS_FAILURE and, as RFC 7296 §3.10.1 says, no Child SA is
	// created. Nil ignores configuration requests.
	ConfigReply func(req *wire.Configuration) (*wire.Configuration, error)
}

// Mode is a Child SA's encapsulation mode.
type Mode uint8

const (
	ModeTunnel Mode = iota
	ModeTransport
)

func (m Mode) String() string {
	if m == ModeTransport {
		return "transport"
	}
	return "tunnel"
}

// ChildConfig is a Child SA policy (IOS: transform set and IPsec profile,
// with the selectors the tunnel protects).
type ChildConfig struct {
	Name      string
	Proposals []suite.Proposal // ESP proposals in preference order; DH set means PFS
	LocalTS   []TrafficSelector
	RemoteTS  []TrafficSelector
	Mode      Mode
	// Lifetime is the Child SA lifetime (IOS default 3600 s); rekeyed
	// RekeyMargin minus up to Jitter before. Zero means none.
	Lifetime    time.Duration
	RekeyMargin time.Duration
	Jitter      time.Duration
}

// ChildKeys are one direction's ESP keys. Encr includes the 4-byte salt for
// AES-GCM (RFC 4106).
type ChildKeys struct {
	Encr, Integ []byte
}

// ChildSA is a negotiated Child SA as handed to the SAInstaller and to event
// sinks. It is a snapshot: the receiver may keep it but must not modify the
// key slices, which are shared.
type ChildSA struct {
	// IKESA is our SPI of the IKE SA that owns this Child SA.
	IKESA    uint64
	Name     string
	Mode     Mode
	Proposal suite.Proposal
	// InboundSPI is the SPI we chose (the peer sends with it); OutboundSPI
	// is the peer's.
	InboundSPI, OutboundSPI uint32
	InboundKeys             ChildKeys
	OutboundKeys            ChildKeys
	LocalTS, RemoteTS       []TrafficSelector
	// Local and Remote are the outer addresses. When UDPEncap is set, ESP
	// travels in UDP between Local.Port() and Remote.Port() (RFC 3948).
	Local, Remote netip.AddrPort
	UDPEncap      bool
	// Replaces is the inbound SPI of the Child SA this one rekeys, or 0.
	// The old SA is deleted by a later DeleteChildSA. When Initiator is
	// set, the peer has installed both halves already, so outbound traffic
	// may move to the new SA at once; otherwise the peer has not yet
	// processed our answer, and the installer should keep sending on the
	// old SA until it is deleted (the initiator's Delete proves the peer
	// has the new one) or a short time has passed.
	Replaces  uint32
	Initiator bool // we initiated the exchange that created it
	Created   time.Time
	Lifetime  time.Duration
	// PeerVendorIDs and LocalVendorIDs are the Vendor IDs the peer and we
	// sent in the IKE SA's IKE_SA_INIT (kept across IKE SA rekeys), for
	// features negotiated by both sides sending one (CISCO-CTS-SGT). The
	// slices are shared: do not modify them.
	PeerVendorIDs, LocalVendorIDs [][]byte
}

// SAInstaller installs negotiated Child SAs into the dataplane. The engine
// calls it from its own goroutine. A failed InstallChildSA fails the
// exchange (the peer gets NO_PROPOSAL_CHOSEN for a request we answer).
type SAInstaller interface {
	InstallChildSA(sa *ChildSA) error
	DeleteChildSA(sa *ChildSA) error
}

// SAOutboundRetirer is optionally implemented by an SAInstaller. The engine
// calls RetireOutbound when it is about to send the Delete for a Child SA,
// so that the dataplane stops sending on it (sending on another installed
// SA of the tunnel, if any) while its inbound half keeps receiving until
// DeleteChildSA.
type SAOutboundRetirer interface {
	RetireOutbound(sa *ChildSA) error
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	EventIKEUp EventKind = iota + 1
	EventIKEDown
	EventIKERekeyed
	EventChildUp
	EventChildDown
	EventChildRekeyed
	EventVendorID // a Vendor ID we do not recognise, in Event.Data
)

func (k EventKind) String() string {
	switch k {
	case EventIKEUp:
		return "ike-up"
	case EventIKEDown:
		return "ike-down"
	case EventIKERekeyed:
		return "ike-rekeyed"
	case EventChildUp:
		return "child-up"
	case EventChildDown:
		return "child-down"
	case EventChildRekeyed:
		return "child-rekeyed"
	case EventVendorID:
		return "vendor-id"
	}
	return "unknown"
}

// Event is a state change reported to Config.OnEvent.
type Event struct {
	Kind  EventKind
	IKE   IKESAInfo
	Child *ChildSA // child events only
	// Reason says why an SA went down (nil for an orderly delete we asked
	// for); for EventIKERekeyed, IKE is the new SA and OldSPI the old one.
	Reason error
	OldSPI uint64
	Data   []byte
}
