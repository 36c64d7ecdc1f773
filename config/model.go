// Package config reads esphub's IOS-style configuration into a typed,
// immutable model, fills in the FlexVPN smart defaults, validates it with
// FILE:LINE:COL diagnostics, renders it back to running-config text, and holds
// the FlexVPN selection rules (proposal, policy, profile, keyring, name
// mangler) as pure functions over the model.
//
// A *Config returned by Parse is never modified afterwards: every consumer
// (the daemon, the IKE engine through control, esphubctl) may read it from
// any number of goroutines without locking. Objects are kept in configuration
// order and are addressable by name through the lookup methods; Equal
// compares two models ignoring source positions, which is what a reload diff
// needs.
package config

import "net/netip"

// Config is one parsed configuration. Treat it as read-only.
type Config struct {
	Hostname string `json:"hostname,omitempty"`

	IKEv2 IKEv2Global `json:"ikev2"`

	Proposals      []*Proposal            `json:"proposals,omitempty"`
	Policies       []*Policy              `json:"policies,omitempty"`
	Keyrings       []*Keyring             `json:"keyrings,omitempty"`
	Profiles       []*Profile             `json:"profiles,omitempty"`
	AuthzPolicies  []*AuthorizationPolicy `json:"authorization_policies,omitempty"`
	NameManglers   []*NameMangler         `json:"name_manglers,omitempty"`
	FlexVPNClients []*FlexVPNClient       `json:"flexvpn_clients,omitempty"`

	TransformSets []*TransformSet `json:"transform_sets,omitempty"`
	IPsecProfiles []*IPsecProfile `json:"ipsec_profiles,omitempty"`

	Trustpoints []*Trustpoint     `json:"trustpoints,omitempty"`
	CertMaps    []*CertificateMap `json:"certificate_maps,omitempty"`

	Interfaces  []*Interface   `json:"interfaces,omitempty"`
	VRFs        []*VRF         `json:"vrfs,omitempty"`
	Pools       []*LocalPool   `json:"pools,omitempty"`
	Routes      []*StaticRoute `json:"routes,omitempty"`
	AccessLists []*AccessList  `json:"access_lists,omitempty"`
	SGTMaps     []*SGTMap      `json:"sgt_maps,omitempty"`
	// BGP is `router bgp ASN` (nil when absent).
	BGP *BGP `json:"bgp,omitempty"`
	// CTS is the role-based permissions matrix and RoleBasedACLs its
	// access lists (grammar_cts.go).
	CTS           CTS             `json:"cts"`
	RoleBasedACLs []*RoleBasedACL `json:"role_based_acls,omitempty"`

	AAA AAA `json:"aaa"`

	// DisabledDefaults lists the smart defaults removed with `no ... default`,
	// in the order the configuration removed them.
	DisabledDefaults []DefaultKind `json:"disabled_defaults,omitempty"`
}

// DefaultKind names one smart-default object.
type DefaultKind string

// The smart defaults (G:611-644, §7 of seed-features.md).
const (
	DefaultProposal     DefaultKind = "crypto ikev2 proposal default"
	DefaultPolicy       DefaultKind = "crypto ikev2 policy default"
	DefaultAuthzPolicy  DefaultKind = "crypto ikev2 authorization policy default"
	DefaultIPsecProfile DefaultKind = "crypto ipsec profile default"
	DefaultTransformSet DefaultKind = "crypto ipsec transform-set default"
)

// IKEv2Global holds the global `crypto ikev2 ...` options (G:815-855).
type IKEv2Global struct {
	// Window is the SET_WINDOW_SIZE value (1-200, default 5).
	Window           int             `json:"window"`
	DPD              *DPD            `json:"dpd,omitempty"`
	NATKeepalive     int             `json:"nat_keepalive,omitempty"` // seconds, 0 = off
	CookieChallenge  *int            `json:"cookie_challenge,omitempty"`
	MaxSA            int             `json:"max_sa,omitempty"` // 0 = no limit
	MaxInNegotiation []InNegLimit    `json:"max_in_negotiation,omitempty"`
	Fragmentation    *Fragmentation  `json:"fragmentation,omitempty"`
	RedirectGateway  []string        `json:"redirect_gateway,omitempty"` // "init", "auth"
	RedirectClient   *RedirectClient `json:"redirect_client,omitempty"`
	HTTPURLCert      bool            `json:"http_url_cert,omitempty"`
	DiagnoseErrors   int             `json:"diagnose_error,omitempty"`
	CTSSGT           bool            `json:"cts_sgt,omitempty"`
	// CTSSGTLayout is the CMD-in-ESP layout, "ethertype" (the default when
	// empty) or "ip-protocol" (crypto ikev2 cts sgt cmd-layout ...).
	CTSSGTLayout           string         `json:"cts_sgt_layout,omitempty"`
	DisconnectRevokedPeers bool           `json:"disconnect_revoked_peers,omitempty"`
	Cluster                *Cluster       `json:"cluster,omitempty"`
	Pos                    map[string]Pos `json:"-"` // where each option was set, by keyword
}

// Cluster is `crypto ikev2 cluster`, the source of the gateways `crypto
// ikev2 redirect gateway` sends peers to. Cisco's load-management protocol
// between cluster nodes is proprietary, so esphub's cluster is static:
// `member ADDRESS` (an esphub extension) lists the gateways, and this node
// keeps peers itself while it has fewer IKE SAs than `slave max-session`.
// The HSRP-related settings are kept for the running configuration.
type Cluster struct {
	Members         []netip.Addr `json:"members,omitempty"`
	SlaveMaxSession int          `json:"slave_max_session,omitempty"`
	// Other keeps holdtime, master, port, slave hello/priority/update and
	// standby-group lines verbatim (no load protocol uses them).
	Other    []string `json:"other,omitempty"`
	Shutdown bool     `json:"shutdown,omitempty"`
	Pos      Pos      `json:"pos"`
}

// InNegLimit is one `crypto ikev2 limit max-in-negotiation-sa N [incoming|outgoing]`.
type InNegLimit struct {
	Limit     int    `json:"limit"`
	Direction string `json:"direction,omitempty"` // "", "incoming" or "outgoing"
}

// Fragmentation is `crypto ikev2 fragmentation [mtu N]`. MTU 0 means the
// family default (576 for IPv4, 1280 for IPv6).
type Fragmentation struct {
	MTU int `json:"mtu,omitempty"`
}

// Fragmentation MTU defaults (G:3856-4355).
const (
	FragmentationMTUv4 = 576
	FragmentationMTUv6 = 1280
)

// RedirectClient is `crypto ikev2 redirect client [max-redirects N]`.
type RedirectClient struct {
	MaxRedirects int `json:"max_redirects,omitempty"`
}

// DPD is a dead-peer-detection setting, global or per profile.
type DPD struct {
	Interval int    `json:"interval"` // seconds, 10-3600
	Retry    int    `json:"retry"`    // seconds, 2-60
	Mode     string `json:"mode"`     // "on-demand" or "periodic"
}

// Proposal is `crypto ikev2 proposal NAME`. Transforms keep the configured
// order, which is the preference order.
type Proposal struct {
	Name       string       `json:"name"`
	Encryption []Encryption `json:"encryption"`
	Integrity  []Integrity  `json:"integrity,omitempty"`
	PRF        []PRF        `json:"prf,omitempty"`
	Groups     []DHGroup    `json:"groups"`
	// Builtin is true for the smart default the configuration did not touch.
	Builtin bool `json:"builtin,omitempty"`
	Pos     Pos  `json:"pos"`
}

// EffectivePRF is the PRF list negotiated for p: the configured one, or
// the integrity algorithms' PRFs when none is configured.
func (p *Proposal) EffectivePRF() []PRF {
	if len(p.PRF) > 0 {
		return p.PRF
	}
	out := make([]PRF, 0, len(p.Integrity))
	for _, i := range p.Integrity {
		out = append(out, PRFFor(i))
	}
	return out
}

// Policy is `crypto ikev2 policy NAME`.
type Policy struct {
	Name      string   `json:"name"`
	Proposals []string `json:"proposals"`
	// MatchFVRF is the `match fvrf` value: "" when absent (global VRF only),
	// "any", or a VRF name.
	MatchFVRF   string       `json:"match_fvrf,omitempty"`
	MatchLocal  []netip.Addr `json:"match_address_local,omitempty"`
	Builtin     bool         `json:"builtin,omitempty"`
	Pos         Pos          `json:"pos"`
	ProposalPos []Pos        `json:"-"`
}

// Keyring is `crypto ikev2 keyring NAME`.
type Keyring struct {
	Name  string         `json:"name"`
	Peers []*KeyringPeer `json:"peers"`
	Pos   Pos            `json:"pos"`
}

// KeyringPeer is one `peer NAME` sub-block of a keyring.
type KeyringPeer struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	// Address is the IKE endpoint prefix; 0.0.0.0/0 or ::/0 is a wildcard.
	Address    *netip.Prefix `json:"address,omitempty"`
	Identities []Identity    `json:"identities,omitempty"`
	// Key is the symmetric pre-shared key; LocalKey and RemoteKey the
	// asymmetric pair. Never log them.
	Key       Secret `json:"pre_shared_key,omitempty"`
	LocalKey  Secret `json:"pre_shared_key_local,omitempty"`
	RemoteKey Secret `json:"pre_shared_key_remote,omitempty"`
	Pos       Pos    `json:"pos"`
}

// Secret is a pre-shared key or password. Its String and JSON forms hide the
// value; use Reveal where the value is truly needed (key derivation, render).
type Secret struct {
	value string
	// Encrypted is true for the `6` (type-6 encrypted) form; esphub keeps the
	// text as given.
	Encrypted bool
	// Hex is true for the `hex` form.
	Hex bool
}

// NewSecret wraps a clear-text secret.
func NewSecret(v string) Secret { return Secret{value: v} }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.value != "" }

// Reveal returns the secret text. Callers must not log it.
func (s Secret) Reveal() string { return s.value }

// String hides the value.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return "<hidden>"
}

// MarshalText hides the value in JSON output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// IdentityType is the kind of an IKEv2 identity as IOS configures it.
type IdentityType string

// Identity types.
const (
	IDAddress IdentityType = "address"
	IDFQDN    IdentityType = "fqdn"
	IDEmail   IdentityType = "email"
	IDKeyID   IdentityType = "key-id"
	IDDN      IdentityType = "dn"
	IDAny     IdentityType = "any" // match identity remote any
)

// Identity is an IKEv2 identity, or a pattern for one in match statements
// and keyring peers. For IDAddress, Prefix holds the address (a host prefix
// unless a mask was given). For fqdn and email, Domain marks the `domain`
// form that matches a suffix.
type Identity struct {
	Type   IdentityType `json:"type"`
	Value  string       `json:"value,omitempty"`
	Domain bool         `json:"domain,omitempty"`
	Prefix netip.Prefix `json:"prefix,omitempty"`
	// MaskForm records that the address was written with a dotted mask
	// (`10.0.0.1 255.0.0.0`) rather than a bare host or a /len, so that
	// rendering gives the operator back the form they wrote.
	MaskForm bool `json:"-"`
	Pos      Pos  `json:"pos"`
}

// AuthMethod is an IKEv2 profile authentication method.
type AuthMethod string

// Authentication methods.
const (
	AuthPreShare   AuthMethod = "pre-share"
	AuthRSASig     AuthMethod = "rsa-sig"
	AuthECDSASig   AuthMethod = "ecdsa-sig"
	AuthEAP        AuthMethod = "eap"
	AuthAnyConnect AuthMethod = "anyconnect-eap"
)

// Auth is one `authentication local|remote METHOD ...` line.
type Auth struct {
	Method AuthMethod `json:"method"`
	// Key is the profile-level pre-shared key (`pre-share key K`).
	Key Secret `json:"key,omitempty"`
	// Options keeps the remaining keywords (EAP options, `aggregate`,
	// `cert-request`) in order.
	Options []string `json:"options,omitempty"`
	Pos     Pos      `json:"pos"`
}

// Profile is `crypto ikev2 profile NAME`.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`

	MatchIdentities []Identity   `json:"match_identity_remote,omitempty"`
	MatchCerts      []string     `json:"match_certificate,omitempty"`
	MatchFVRF       string       `json:"match_fvrf,omitempty"` // "", "any" or name
	MatchLocal      []netip.Addr `json:"match_address_local,omitempty"`
	MatchLocalIfs   []string     `json:"match_address_local_interface,omitempty"`

	LocalIdentity *Identity `json:"identity_local,omitempty"`
	LocalAuth     *Auth     `json:"authentication_local,omitempty"`
	RemoteAuth    []Auth    `json:"authentication_remote,omitempty"`

	Keyring            string `json:"keyring,omitempty"` // local keyring name
	KeyringAAA         string `json:"keyring_aaa,omitempty"`
	KeyringAAAMangler  string `json:"keyring_aaa_name_mangler,omitempty"`
	KeyringAAAPassword Secret `json:"keyring_aaa_password,omitempty"`

	Trustpoints []TrustpointRef `json:"pki_trustpoint,omitempty"`

	DPD          *DPD `json:"dpd,omitempty"`
	NATKeepalive int  `json:"nat_keepalive,omitempty"`
	// Lifetime is the IKE SA lifetime in seconds (default 86400).
	Lifetime              int  `json:"lifetime"`
	NoLifetimeCertificate bool `json:"no_lifetime_certificate,omitempty"`

	VirtualTemplate int  `json:"virtual_template,omitempty"`
	VTModeAuto      bool `json:"virtual_template_mode_auto,omitempty"`

	AAA []ProfileAAA `json:"aaa,omitempty"`

	// ConfigExchange: request, set send and set accept are on by default.
	ConfigRequest   bool `json:"config_exchange_request"`
	ConfigSetSend   bool `json:"config_exchange_set_send"`
	ConfigSetAccept bool `json:"config_exchange_set_accept"`
	ConfigModeSet   bool `json:"config_mode_set,omitempty"`

	IVRF                string `json:"ivrf,omitempty"`
	RedirectGatewayAuth bool   `json:"redirect_gateway_auth,omitempty"`
	InitialContactForce bool   `json:"initial_contact_force,omitempty"`
	Reconnect           *int   `json:"reconnect_timeout,omitempty"`
	Shutdown            bool   `json:"shutdown,omitempty"`

	Pos  Pos            `json:"pos"`
	Refs map[string]Pos `json:"-"` // positions of references, by keyword
}

// IKE SA lifetime default (every `Life/Active Time: 86400/x sec` in the seeds).
const DefaultIKELifetime = 86400

// TrustpointRef is `pki trustpoint NAME [sign|verify]`.
type TrustpointRef struct {
	Name  string `json:"name"`
	Usage string `json:"usage,omitempty"` // "", "sign" or "verify"
	Pos   Pos    `json:"pos"`
}

// ProfileAAA is one `aaa ...` line of a profile, kept structurally enough for
// the authorization code: Kind is "authorization user", "authorization
// group", "authentication" or "accounting"; Method is psk/cert/eap/
// anyconnect-eap or "". List is the AAA method list, Name the username or
// authorization policy, Mangler the name mangler.
type ProfileAAA struct {
	Kind     string `json:"kind"`
	Override bool   `json:"override,omitempty"`
	Method   string `json:"method,omitempty"`
	Cached   bool   `json:"cached,omitempty"`
	List     string `json:"list,omitempty"`
	Name     string `json:"name,omitempty"`
	Mangler  string `json:"name_mangler,omitempty"`
	Password Secret `json:"password,omitempty"`
	Pos      Pos    `json:"pos"`
}

// AuthorizationPolicy is `crypto ikev2 authorization policy NAME`.
type AuthorizationPolicy struct {
	Name      string       `json:"name"`
	Pool      string       `json:"pool,omitempty"`
	IPv6Pool  string       `json:"ipv6_pool,omitempty"`
	Netmask   netip.Addr   `json:"netmask,omitempty"`
	DNS       []netip.Addr `json:"dns,omitempty"`
	IPv6DNS   []netip.Addr `json:"ipv6_dns,omitempty"`
	WINS      []netip.Addr `json:"wins,omitempty"`
	DefDomain string       `json:"def_domain,omitempty"`

	RouteSetInterface     bool        `json:"route_set_interface"`
	RouteSetInterfaceName string      `json:"route_set_interface_name,omitempty"`
	RouteSetACL           string      `json:"route_set_access_list,omitempty"`
	RouteSetIPv6ACL       string      `json:"route_set_access_list_ipv6,omitempty"`
	RouteSetLocal         []RouteSpec `json:"route_set_local,omitempty"`
	RouteSetRemote        []RouteSpec `json:"route_set_remote,omitempty"`

	// RouteAccept is nil when routes from the peer are not accepted.
	RouteAccept *RouteAccept `json:"route_accept,omitempty"`

	SessionLifetime int    `json:"session_lifetime,omitempty"`
	FlowLimit       *int   `json:"ipsec_flow_limit,omitempty"`
	AttributeList   string `json:"aaa_attribute_list,omitempty"`
	// Client-only (Unity / FlexVPN client) attributes, pushed verbatim.
	Banner              string     `json:"banner,omitempty"`
	BackupGateways      []string   `json:"backup_gateways,omitempty"`
	SplitDNS            []string   `json:"split_dns,omitempty"`
	ConfigURL           string     `json:"configuration_url,omitempty"`
	ConfigVersion       int        `json:"configuration_version,omitempty"`
	IncludeLocalLAN     bool       `json:"include_local_lan,omitempty"`
	PFS                 bool       `json:"pfs,omitempty"`
	SmartcardDisconnect bool       `json:"smartcard_removal_disconnect,omitempty"`
	DHCPServer          string     `json:"dhcp_server,omitempty"`
	DHCPGiaddr          netip.Addr `json:"dhcp_giaddr,omitempty"`
	DHCPTimeout         int        `json:"dhcp_timeout,omitempty"`
	RouteRedistribute   []string   `json:"route_redistribute,omitempty"`

	Builtin bool           `json:"builtin,omitempty"`
	Pos     Pos            `json:"pos"`
	Refs    map[string]Pos `json:"-"`
}

// RouteAccept is `route accept any [tag N] [distance N]` (defaults tag 1,
// distance 2, G:636).
type RouteAccept struct {
	Tag      int `json:"tag"`
	Distance int `json:"distance"`
}

// RouteSpec is a prefix pushed with `route set local|remote`.
type RouteSpec struct {
	Prefix   netip.Prefix `json:"prefix"`
	Tag      int          `json:"tag,omitempty"`
	Distance int          `json:"distance,omitempty"`
}

// NameMangler is `crypto ikev2 name-mangler NAME`: per identity type, which
// part of the peer identity becomes the AAA username.
type NameMangler struct {
	Name  string `json:"name"`
	FQDN  string `json:"fqdn,omitempty"`  // all | domain | hostname
	Email string `json:"email,omitempty"` // all | domain | username
	DN    string `json:"dn,omitempty"`    // common-name | country | ... | all
	// EAP is "all", "dn", "prefix" or "suffix"; EAPDN the DN field for
	// "dn"; EAPDelimiter the delimiter for prefix/suffix.
	EAP          string `json:"eap,omitempty"`
	EAPDN        string `json:"eap_dn,omitempty"`
	EAPDelimiter string `json:"eap_delimiter,omitempty"`
	Pos          Pos    `json:"pos"`
}

// FlexVPNClient is `crypto ikev2 client flexvpn NAME`.
type FlexVPNClient struct {
	Name           string        `json:"name"`
	Peers          []FlexVPNPeer `json:"peers"`
	Connect        string        `json:"connect,omitempty"` // "auto", "manual", "track N [up|down]"
	ClientConnect  string        `json:"client_connect,omitempty"`
	ClientInside   []string      `json:"client_inside,omitempty"`
	PeerReactivate bool          `json:"peer_reactivate,omitempty"`
	BackupGroup    string        `json:"backup_group,omitempty"`
	Sources        []string      `json:"sources,omitempty"` // "SEQ IFACE [track N]" verbatim
	Pos            Pos           `json:"pos"`
}

// FlexVPNPeer is `peer SEQ ADDRESS|fqdn NAME [...] [track N [up|down]]`.
type FlexVPNPeer struct {
	Seq     int        `json:"seq"`
	Address netip.Addr `json:"address,omitempty"`
	FQDN    string     `json:"fqdn,omitempty"`
	// Options keeps the words after the address (dynamic, ipv6, track ...).
	Options []string `json:"options,omitempty"`
}

// TransformSet is `crypto ipsec transform-set NAME T...`.
type TransformSet struct {
	Name string `json:"name"`
	// Cipher is the ESP encryption transform and CipherBits its key size
	// (0 = the IOS default for the transform: 128).
	Cipher     ESPTransform `json:"cipher"`
	CipherBits int          `json:"cipher_bits,omitempty"`
	Integrity  ESPTransform `json:"integrity,omitempty"`
	// Mode is "tunnel" or "transport".
	Mode string `json:"mode"`
	// LegacyAlias keeps the `esp-aes-cbc-128` spelling of G:6441-7303
	// (D-14) so rendering returns it.
	Builtin bool `json:"builtin,omitempty"`
	Pos     Pos  `json:"pos"`
}

// IPsec SA lifetime defaults (G:636-640).
const (
	DefaultIPsecLifetimeKB      = 4608000
	DefaultIPsecLifetimeSeconds = 3600
)

// IPsecProfile is `crypto ipsec profile NAME`.
type IPsecProfile struct {
	Name          string   `json:"name"`
	Description   string   `json:"description,omitempty"`
	TransformSets []string `json:"transform_sets,omitempty"`
	// PFS is the DH group for PFS, 0 when off.
	PFS             DHGroup        `json:"pfs,omitempty"`
	LifetimeKB      int            `json:"lifetime_kilobytes"`
	LifetimeSeconds int            `json:"lifetime_seconds"`
	ReplayWindow    int            `json:"replay_window_size,omitempty"`
	ReplayDisable   bool           `json:"replay_disable,omitempty"`
	IKEv2Profile    string         `json:"ikev2_profile,omitempty"`
	MixedMode       bool           `json:"mixed_mode,omitempty"`
	ReverseRoute    bool           `json:"reverse_route,omitempty"`
	ReverseRouteTag int            `json:"reverse_route_tag,omitempty"`
	ResponderOnly   bool           `json:"responder_only,omitempty"`
	Builtin         bool           `json:"builtin,omitempty"`
	Pos             Pos            `json:"pos"`
	Refs            map[string]Pos `json:"-"`
}

// EffectiveTransformSets is the transform sets the profile proposes: the
// configured ones that exist, or the default transform set when none is
// configured (smart defaults, G:611-644).
func (c *Config) EffectiveTransformSets(ip *IPsecProfile) []*TransformSet {
	var out []*TransformSet
	for _, n := range ip.TransformSets {
		if ts := c.TransformSet(n); ts != nil {
			out = append(out, ts)
		}
	}
	if len(ip.TransformSets) == 0 {
		if ts := c.TransformSet("default"); ts != nil {
			out = append(out, ts)
		}
	}
	return out
}

// Trustpoint is `crypto pki trustpoint NAME`; esphub keeps the settings the
// certificate code needs and the rest verbatim.
type Trustpoint struct {
	Name            string   `json:"name"`
	EnrollmentURL   string   `json:"enrollment_url,omitempty"`
	RevocationCheck []string `json:"revocation_check,omitempty"`
	SubjectName     string   `json:"subject_name,omitempty"`
	Fingerprint     string   `json:"fingerprint,omitempty"`
	RSAKeypair      string   `json:"rsa_keypair,omitempty"`
	// Other keeps the remaining sub-commands verbatim (password,
	// auto-enroll, match certificate ... override, ...).
	Other []string `json:"other,omitempty"`
	Pos   Pos      `json:"pos"`
}

// CertificateMap is all entries of `crypto pki certificate map NAME SEQ`,
// ordered by sequence number. A certificate matches the map when it matches
// any entry; it matches an entry when it satisfies every rule in it.
type CertificateMap struct {
	Name    string         `json:"name"`
	Entries []CertMapEntry `json:"entries"`
	Pos     Pos            `json:"pos"`
}

// CertMapEntry is one sequence of a certificate map.
type CertMapEntry struct {
	Seq   int           `json:"seq"`
	Rules []CertMapRule `json:"rules"`
	Pos   Pos           `json:"pos"`
}

// CertMapRule is `FIELD OP VALUE`, e.g. `subject-name co cisco` or
// `subject-name eq hostname = responder`.
type CertMapRule struct {
	Field string `json:"field"` // subject-name, issuer-name, ...
	Op    string `json:"op"`    // eq, ne, co, nc
	Value string `json:"value"`
}

// InterfaceKind classifies an interface by its IOS name.
type InterfaceKind string

// Interface kinds.
const (
	KindPhysical        InterfaceKind = "physical"
	KindLoopback        InterfaceKind = "loopback"
	KindTunnel          InterfaceKind = "tunnel"
	KindVirtualTemplate InterfaceKind = "virtual-template"
)

// Interface is `interface NAME`. Name is canonical (Tunnel0, Loopback0,
// Virtual-Template1, Ethernet0/0 — IOS capitalisation).
type Interface struct {
	Name   string        `json:"name"`
	Kind   InterfaceKind `json:"kind"`
	Number int           `json:"number,omitempty"` // Tunnel, Loopback, Virtual-Template
	// TemplateType is "tunnel" for `interface Virtual-Template N type tunnel`.
	TemplateType string `json:"template_type,omitempty"`
	Description  string `json:"description,omitempty"`
	Shutdown     bool   `json:"shutdown,omitempty"`

	VRF       string         `json:"vrf_forwarding,omitempty"`
	Addresses []netip.Prefix `json:"ip_address,omitempty"`
	// Secondary addresses follow Addresses[0] in Addresses and are flagged here.
	Secondary         []bool         `json:"-"`
	AddressPos        []Pos          `json:"-"`
	AddressNegotiated bool           `json:"ip_address_negotiated,omitempty"`
	Unnumbered        string         `json:"ip_unnumbered,omitempty"`
	IPv6Addresses     []netip.Prefix `json:"ipv6_address,omitempty"`
	IPv6Unnumbered    string         `json:"ipv6_unnumbered,omitempty"`
	IPv6Enable        bool           `json:"ipv6_enable,omitempty"`
	MTU               int            `json:"ip_mtu,omitempty"`
	TCPAdjustMSS      int            `json:"ip_tcp_adjust_mss,omitempty"`
	Encapsulation     string         `json:"encapsulation,omitempty"` // "dot1Q 10"

	Tunnel *TunnelConfig `json:"tunnel,omitempty"`
	NHRP   *NHRPConfig   `json:"nhrp,omitempty"`

	CTSSGT            int        `json:"cts_sgt,omitempty"`
	CTSManual         *CTSManual `json:"cts_manual,omitempty"`
	MPLSNHRP          bool       `json:"mpls_nhrp,omitempty"`
	MPLSBGPForwarding bool       `json:"mpls_bgp_forwarding,omitempty"`

	Pos  Pos            `json:"pos"`
	Refs map[string]Pos `json:"-"`
}

// TunnelMode is the encapsulation of a tunnel interface.
type TunnelMode string

// Tunnel modes (G:2302-2323, B:98-209). The IOS default is GRE over IPv4.
const (
	ModeGREIP         TunnelMode = "gre ip"
	ModeGREIPv6       TunnelMode = "gre ipv6"
	ModeGREMultipoint TunnelMode = "gre multipoint"
	ModeIPsecIPv4     TunnelMode = "ipsec ipv4"
	ModeIPsecIPv6     TunnelMode = "ipsec ipv6"
	ModeIPsecV4OverV6 TunnelMode = "ipsec ipv6 v4-overlay"
	ModeIPsecV6OverV4 TunnelMode = "ipsec ipv4 v6-overlay"
)

// TransportIPv6 reports whether the tunnel mode carries the tunnel over
// IPv6 (the outer header).
func (m TunnelMode) TransportIPv6() bool {
	return m == ModeGREIPv6 || m == ModeIPsecIPv6 || m == ModeIPsecV4OverV6
}

// TunnelConfig holds the `tunnel ...` sub-commands.
type TunnelConfig struct {
	// Source is an address, an interface name, or "dynamic".
	Source      string     `json:"source,omitempty"`
	SourceAddr  netip.Addr `json:"-"`
	Destination string     `json:"destination,omitempty"` // address, FQDN or "dynamic"
	DestAddr    netip.Addr `json:"-"`
	Mode        TunnelMode `json:"mode,omitempty"` // "" = IOS default (gre ip)
	VRF         string     `json:"vrf,omitempty"`  // FVRF
	Key         *uint32    `json:"key,omitempty"`
	// Protection is the IPsec profile name; ProtectionAlias records the
	// `ipsec-profile` spelling of G:2635-2689 (D-14).
	Protection      string `json:"protection_ipsec_profile,omitempty"`
	ProtectionAlias bool   `json:"-"`
}

// EffectiveMode is the tunnel mode with the IOS default (GRE/IPv4) applied.
func (t *TunnelConfig) EffectiveMode() TunnelMode {
	if t == nil || t.Mode == "" {
		return ModeGREIP
	}
	return t.Mode
}

// NHRPConfig holds the `ip nhrp ...` sub-commands esphub implements.
type NHRPConfig struct {
	NetworkID       uint32 `json:"network_id,omitempty"`
	Redirect        bool   `json:"redirect,omitempty"`
	RedirectTimeout int    `json:"redirect_timeout,omitempty"`
	Shortcut        bool   `json:"shortcut,omitempty"`
	// ShortcutVT is the virtual template of `ip nhrp shortcut
	// virtual-template N` (0 for plain `ip nhrp shortcut`).
	ShortcutVT int `json:"shortcut_virtual_template,omitempty"`
	// HoldTime is `ip nhrp holdtime SECONDS` (1-65535): how long the
	// mappings this router gives out stay valid; 0 means the default (7200).
	HoldTime int  `json:"holdtime,omitempty"`
	IPv6     bool `json:"-"`
}

// VRF is `vrf definition NAME` or `ip vrf NAME`.
type VRF struct {
	Name string `json:"name"`
	// Legacy is true for the `ip vrf` (IPv4-only) form.
	Legacy          bool     `json:"legacy,omitempty"`
	Description     string   `json:"description,omitempty"`
	RD              string   `json:"rd,omitempty"`
	RTImport        []string `json:"route_target_import,omitempty"`
	RTExport        []string `json:"route_target_export,omitempty"`
	AddressFamilies []string `json:"address_families,omitempty"` // "ipv4", "ipv6"
	Pos             Pos      `json:"pos"`
}

// LocalPool is `ip local pool NAME FIRST [LAST]` or `ipv6 local pool NAME P/L N`.
// Several lines with the same name extend one pool.
type LocalPool struct {
	Name   string      `json:"name"`
	IPv6   bool        `json:"ipv6,omitempty"`
	Ranges []PoolRange `json:"ranges,omitempty"`
	// Prefix and AssignLen describe an IPv6 pool.
	Prefix    netip.Prefix `json:"prefix,omitempty"`
	AssignLen int          `json:"assign_len,omitempty"`
	Pos       Pos          `json:"pos"`
}

// PoolRange is an inclusive address range of an IPv4 pool.
type PoolRange struct {
	First netip.Addr `json:"first"`
	Last  netip.Addr `json:"last"`
	Pos   Pos        `json:"pos"`
}

// StaticRoute is `ip route [vrf V] PREFIX MASK {NEXTHOP | IFACE [NEXTHOP]}
// [DISTANCE] [tag N] [name NAME] [permanent]` and the `ipv6 route` form.
type StaticRoute struct {
	VRF       string       `json:"vrf,omitempty"`
	Prefix    netip.Prefix `json:"prefix"`
	Interface string       `json:"interface,omitempty"`
	NextHop   netip.Addr   `json:"next_hop,omitempty"`
	Distance  int          `json:"distance,omitempty"`
	Tag       int          `json:"tag,omitempty"`
	Name      string       `json:"name,omitempty"`
	Permanent bool         `json:"permanent,omitempty"`
	Pos       Pos          `json:"pos"`
}

// AccessList is `ip access-list standard|extended NAME`, `ipv6 access-list
// NAME`, or the numbered `access-list N ...` form.
type AccessList struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"` // "standard", "extended", "ipv6"
	Numbered bool       `json:"numbered,omitempty"`
	Entries  []ACLEntry `json:"entries"`
	Pos      Pos        `json:"pos"`
}

// ACLEntry is one permit/deny line. Protocol is "" for standard lists, whose
// entries have no Dest.
type ACLEntry struct {
	Seq      int     `json:"seq,omitempty"`
	Permit   bool    `json:"permit"`
	Protocol string  `json:"protocol,omitempty"`
	Source   ACLAddr `json:"source"`
	Dest     ACLAddr `json:"destination,omitempty"`
	// Rest keeps trailing words of extended entries (ports, flags) verbatim.
	Rest []string `json:"rest,omitempty"`
	Pos  Pos      `json:"pos"`
}

// SGTMap is `cts role-based sgt-map [vrf NAME] PREFIX sgt N`.
type SGTMap struct {
	VRF    string       `json:"vrf,omitempty"`
	Prefix netip.Prefix `json:"prefix"`
	SGT    uint16       `json:"sgt"`
	Pos    Pos          `json:"pos"`
}

// AAA holds the aaa commands esphub keeps: `aaa new-model`, the
// authorization network lists, and attribute lists. RADIUS comes later.
type AAA struct {
	NewModel             bool                `json:"new_model,omitempty"`
	AuthorizationNetwork []AAAMethodList     `json:"authorization_network,omitempty"`
	AttributeLists       []*AAAAttributeList `json:"attribute_lists,omitempty"`
}

// AAAMethodList is `aaa authorization network LIST METHOD...`.
type AAAMethodList struct {
	Name    string   `json:"name"`
	Methods []string `json:"methods"` // "local", "group radius_group" ...
	Pos     Pos      `json:"pos"`
}

// AAAAttributeList is `aaa attribute list NAME` with its
// `attribute type T "VALUE"` lines.
type AAAAttributeList struct {
	Name       string         `json:"name"`
	Attributes []AAAAttribute `json:"attributes"`
	Pos        Pos            `json:"pos"`
}

// AAAAttribute is one `attribute type NAME VALUE` line.
type AAAAttribute struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}
