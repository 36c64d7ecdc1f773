package wire

// This file holds the IANA "Internet Key Exchange Version 2 (IKEv2) Parameters"
// registry values esphub uses. Every other package takes these names rather
// than bare numbers.

// ExchangeType is the IKE header's exchange type (RFC 7296 §3.1).
type ExchangeType uint8

const (
	ExchangeIKESAInit        ExchangeType = 34
	ExchangeIKEAuth          ExchangeType = 35
	ExchangeCreateChildSA    ExchangeType = 36
	ExchangeInformational    ExchangeType = 37
	ExchangeIKESessionResume ExchangeType = 38
	ExchangeIKEIntermediate  ExchangeType = 43
)

// PayloadType is a "Next Payload" value (RFC 7296 §3.2).
type PayloadType uint8

const (
	PayloadNone     PayloadType = 0
	PayloadSA       PayloadType = 33
	PayloadKE       PayloadType = 34
	PayloadIDi      PayloadType = 35
	PayloadIDr      PayloadType = 36
	PayloadCERT     PayloadType = 37
	PayloadCERTREQ  PayloadType = 38
	PayloadAUTH     PayloadType = 39
	PayloadNonce    PayloadType = 40
	PayloadNotify   PayloadType = 41
	PayloadDelete   PayloadType = 42
	PayloadVendorID PayloadType = 43
	PayloadTSi      PayloadType = 44
	PayloadTSr      PayloadType = 45
	PayloadSK       PayloadType = 46
	PayloadCP       PayloadType = 47
	PayloadEAP      PayloadType = 48
	PayloadSKF      PayloadType = 53 // RFC 7383
)

// ProtocolID identifies the protocol of a proposal, notify or delete (RFC 7296 §3.3.1).
type ProtocolID uint8

const (
	ProtocolNone ProtocolID = 0
	ProtocolIKE  ProtocolID = 1
	ProtocolAH   ProtocolID = 2
	ProtocolESP  ProtocolID = 3
)

// TransformType is a transform's type (RFC 7296 §3.3.2).
type TransformType uint8

const (
	TransformENCR  TransformType = 1
	TransformPRF   TransformType = 2
	TransformINTEG TransformType = 3
	TransformDH    TransformType = 4 // "Key Exchange Method" since RFC 9370
	TransformESN   TransformType = 5
)

// EncrID is a Transform Type 1 (encryption algorithm) ID.
type EncrID uint16

const (
	EncrDES3             EncrID = 3
	EncrNull             EncrID = 11
	EncrAESCBC           EncrID = 12
	EncrAESCTR           EncrID = 13
	EncrAESGCM8          EncrID = 18
	EncrAESGCM12         EncrID = 19
	EncrAESGCM16         EncrID = 20
	EncrNullGMAC         EncrID = 21
	EncrChaCha20Poly1305 EncrID = 28
)

// PRFID is a Transform Type 2 (pseudorandom function) ID.
type PRFID uint16

const (
	PRFHMACMD5     PRFID = 1
	PRFHMACSHA1    PRFID = 2
	PRFHMACSHA2256 PRFID = 5
	PRFHMACSHA2384 PRFID = 6
	PRFHMACSHA2512 PRFID = 7
)

// IntegID is a Transform Type 3 (integrity algorithm) ID.
type IntegID uint16

const (
	IntegNone           IntegID = 0
	IntegHMACMD596      IntegID = 1
	IntegHMACSHA196     IntegID = 2
	IntegHMACSHA2256128 IntegID = 12
	IntegHMACSHA2384192 IntegID = 13
	IntegHMACSHA2512256 IntegID = 14
)

// DHGroup is a Transform Type 4 (Diffie-Hellman group / key exchange method) ID.
type DHGroup uint16

const (
	DHNone       DHGroup = 0
	DHMODP768    DHGroup = 1
	DHMODP1024   DHGroup = 2
	DHMODP1536   DHGroup = 5
	DHMODP2048   DHGroup = 14
	DHMODP3072   DHGroup = 15
	DHMODP4096   DHGroup = 16
	DHECP256     DHGroup = 19
	DHECP384     DHGroup = 20
	DHECP521     DHGroup = 21
	DHCurve25519 DHGroup = 31
)

// ESNID is a Transform Type 5 (extended sequence numbers) ID.
type ESNID uint16

const (
	ESNNo  ESNID = 0
	ESNYes ESNID = 1
)

// AttrKeyLength is the only transform attribute defined (RFC 7296 §3.3.5), in TV form.
const AttrKeyLength uint16 = 14

// IDType is an identification payload's ID type (RFC 7296 §3.5).
type IDType uint8

const (
	IDIPv4Addr  IDType = 1
	IDFQDN      IDType = 2
	IDRFC822    IDType = 3
	IDIPv6Addr  IDType = 5
	IDDERASN1DN IDType = 9
	IDDERASN1GN IDType = 10
	IDKeyID     IDType = 11
)

// AuthMethod is an authentication payload's method (RFC 7296 §3.8, RFC 7427).
type AuthMethod uint8

const (
	AuthRSASig                AuthMethod = 1
	AuthSharedKeyMIC          AuthMethod = 2
	AuthDSSSig                AuthMethod = 3
	AuthECDSA256              AuthMethod = 9
	AuthECDSA384              AuthMethod = 10
	AuthECDSA521              AuthMethod = 11
	AuthGenericSecurePassword AuthMethod = 12
	AuthNull                  AuthMethod = 13
	AuthDigitalSignature      AuthMethod = 14 // RFC 7427
)

// CertEncoding is a CERT/CERTREQ payload's encoding (RFC 7296 §3.6).
type CertEncoding uint8

const (
	CertX509Signature CertEncoding = 4
	CertX509CRL       CertEncoding = 7
	CertHashURLX509   CertEncoding = 12
	CertHashURLBundle CertEncoding = 13
)

// TSType is a traffic selector's type (RFC 7296 §3.13.1).
type TSType uint8

const (
	TSIPv4AddrRange TSType = 7
	TSIPv6AddrRange TSType = 8
)

// CFGType is a configuration payload's type (RFC 7296 §3.15).
type CFGType uint8

const (
	CFGRequest CFGType = 1
	CFGReply   CFGType = 2
	CFGSet     CFGType = 3
	CFGAck     CFGType = 4
)

// CFGAttr is a configuration attribute type (RFC 7296 §3.15.1).
type CFGAttr uint16

const (
	AttrInternalIP4Address  CFGAttr = 1
	AttrInternalIP4Netmask  CFGAttr = 2
	AttrInternalIP4DNS      CFGAttr = 3
	AttrInternalIP4NBNS     CFGAttr = 4
	AttrInternalIP4DHCP     CFGAttr = 6
	AttrApplicationVersion  CFGAttr = 7
	AttrInternalIP6Address  CFGAttr = 8
	AttrInternalIP6DNS      CFGAttr = 10
	AttrInternalIP6DHCP     CFGAttr = 12
	AttrInternalIP4Subnet   CFGAttr = 13
	AttrSupportedAttributes CFGAttr = 14
	AttrInternalIP6Subnet   CFGAttr = 15
	AttrInternalDNSDomain   CFGAttr = 25 // RFC 8598

	// Cisco Unity attributes, which IOS pushes to FlexVPN and AnyConnect clients.
	AttrUnityBanner        CFGAttr = 28672
	AttrUnitySavePassword  CFGAttr = 28673
	AttrUnityDefDomain     CFGAttr = 28674
	AttrUnitySplitDNSName  CFGAttr = 28675
	AttrUnitySplitInclude  CFGAttr = 28676
	AttrUnityNATTPort      CFGAttr = 28677
	AttrUnityLocalLAN      CFGAttr = 28678
	AttrUnityPFS           CFGAttr = 28679
	AttrUnityFirewallType  CFGAttr = 28680
	AttrUnityBackupServers CFGAttr = 28681
	AttrUnityDDNSHostname  CFGAttr = 28682
)

// NotifyType is a Notify payload's message type (RFC 7296 §3.10.1 and extensions).
// Values below 16384 are errors; 16384 and above are status types.
type NotifyType uint16

const (
	NotifyUnsupportedCriticalPayload NotifyType = 1
	NotifyInvalidIKESPI              NotifyType = 4
	NotifyInvalidMajorVersion        NotifyType = 5
	NotifyInvalidSyntax              NotifyType = 7
	NotifyInvalidMessageID           NotifyType = 9
	NotifyInvalidSPI                 NotifyType = 11
	NotifyNoProposalChosen           NotifyType = 14
	NotifyInvalidKEPayload           NotifyType = 17
	NotifyAuthenticationFailed       NotifyType = 24
	NotifySinglePairRequired         NotifyType = 34
	NotifyNoAdditionalSAs            NotifyType = 35
	NotifyInternalAddressFailure     NotifyType = 36
	NotifyFailedCPRequired           NotifyType = 37
	NotifyTSUnacceptable             NotifyType = 38
	NotifyInvalidSelectors           NotifyType = 39
	NotifyTemporaryFailure           NotifyType = 43
	NotifyChildSANotFound            NotifyType = 44
	NotifyUnacceptableAddresses      NotifyType = 40 // RFC 4555
	NotifyUnexpectedNATDetected      NotifyType = 41 // RFC 4555
	NotifyAuthorizationFailed        NotifyType = 46 // RFC 6407

	NotifyInitialContact                NotifyType = 16384
	NotifySetWindowSize                 NotifyType = 16385
	NotifyAdditionalTSPossible          NotifyType = 16386
	NotifyIPCompSupported               NotifyType = 16387
	NotifyNATDetectionSourceIP          NotifyType = 16388
	NotifyNATDetectionDestinationIP     NotifyType = 16389
	NotifyCookie                        NotifyType = 16390
	NotifyUseTransportMode              NotifyType = 16391
	NotifyHTTPCertLookupSupported       NotifyType = 16392
	NotifyRekeySA                       NotifyType = 16393
	NotifyESPTFCPaddingNotSupported     NotifyType = 16394
	NotifyNonFirstFragmentsAlso         NotifyType = 16395
	NotifyMOBIKESupported               NotifyType = 16396
	NotifyNoAdditionalAddresses         NotifyType = 16399
	NotifyRedirectSupported             NotifyType = 16406 // RFC 5685
	NotifyRedirect                      NotifyType = 16407
	NotifyRedirectedFrom                NotifyType = 16408
	NotifyEAPOnlyAuthentication         NotifyType = 16417
	NotifyChildlessIKEv2Supported       NotifyType = 16418
	NotifyMultipleAuthSupported         NotifyType = 16404
	NotifyIKEv2FragmentationSupported   NotifyType = 16430 // RFC 7383
	NotifySignatureHashAlgorithms       NotifyType = 16431 // RFC 7427
	NotifyAdditionalIP4Address          NotifyType = 16397 // RFC 4555
	NotifyAdditionalIP6Address          NotifyType = 16398
	NotifyUpdateSAAddresses             NotifyType = 16400
	NotifyCookie2                       NotifyType = 16401
	NotifyNoNATsAllowed                 NotifyType = 16402
	NotifyAuthLifetime                  NotifyType = 16403 // RFC 4478
	NotifyAnotherAuthFollows            NotifyType = 16405 // RFC 4739
	NotifyMessageIDSyncSupported        NotifyType = 16420 // RFC 6311
	NotifyUsePPK                        NotifyType = 16435 // RFC 8784
	NotifyPPKIdentity                   NotifyType = 16436
	NotifyNoPPKAuth                     NotifyType = 16437
	NotifyIntermediateExchangeSupported NotifyType = 16438 // RFC 9242
)

// IsError reports whether n is an error notify type (RFC 7296 §3.10.1).
func (n NotifyType) IsError() bool { return n < 16384 }

// Flag bits of the IKE header (RFC 7296 §3.1).
const (
	FlagResponse  uint8 = 0x20
	FlagVersion   uint8 = 0x10
	FlagInitiator uint8 = 0x08
)

// Well-known UDP ports (RFC 7296 §2, RFC 3948).
const (
	PortIKE  = 500
	PortNATT = 4500
)
