package wire

import "strconv"

// String methods use the names strongSwan and the IANA registry print, so
// that our logs and `esphubctl show` output match what operators grep for.

func name[T ~uint8 | ~uint16](v T, names map[T]string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return strconv.Itoa(int(v))
}

var exchangeNames = map[ExchangeType]string{
	ExchangeIKESAInit: "IKE_SA_INIT", ExchangeIKEAuth: "IKE_AUTH", ExchangeCreateChildSA: "CREATE_CHILD_SA",
	ExchangeInformational: "INFORMATIONAL", ExchangeIKESessionResume: "IKE_SESSION_RESUME",
	ExchangeIKEIntermediate: "IKE_INTERMEDIATE",
}

func (e ExchangeType) String() string { return name(e, exchangeNames) }

var payloadNames = map[PayloadType]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadKE: "KE", PayloadIDi: "IDi", PayloadIDr: "IDr",
	PayloadCERT: "CERT", PayloadCERTREQ: "CERTREQ", PayloadAUTH: "AUTH", PayloadNonce: "No",
	PayloadNotify: "N", PayloadDelete: "D", PayloadVendorID: "V", PayloadTSi: "TSi", PayloadTSr: "TSr",
	PayloadSK: "SK", PayloadCP: "CP", PayloadEAP: "EAP", PayloadSKF: "SKF",
}

// String returns the short payload names strongSwan logs ("SA KE No N(...)").
func (p PayloadType) String() string { return name(p, payloadNames) }

var protocolNames = map[ProtocolID]string{ProtocolNone: "NONE", ProtocolIKE: "IKE", ProtocolAH: "AH", ProtocolESP: "ESP"}

func (p ProtocolID) String() string { return name(p, protocolNames) }

var transformTypeNames = map[TransformType]string{
	TransformENCR: "ENCR", TransformPRF: "PRF", TransformINTEG: "INTEG", TransformDH: "KE", TransformESN: "ESN",
}

func (t TransformType) String() string { return name(t, transformTypeNames) }

var encrNames = map[EncrID]string{
	EncrDES3: "3DES_CBC", EncrNull: "NULL", EncrAESCBC: "AES_CBC", EncrAESCTR: "AES_CTR",
	EncrAESGCM8: "AES_GCM_8", EncrAESGCM12: "AES_GCM_12", EncrAESGCM16: "AES_GCM_16",
	EncrNullGMAC: "NULL_AES_GMAC", EncrChaCha20Poly1305: "CHACHA20_POLY1305",
}

func (e EncrID) String() string { return name(e, encrNames) }

// IsAEAD reports whether e is an AEAD algorithm (no separate INTEG transform).
func (e EncrID) IsAEAD() bool {
	switch e {
	case EncrAESGCM8, EncrAESGCM12, EncrAESGCM16, EncrNullGMAC, EncrChaCha20Poly1305:
		return true
	}
	return false
}

var prfNames = map[PRFID]string{
	PRFHMACMD5: "PRF_HMAC_MD5", PRFHMACSHA1: "PRF_HMAC_SHA1", PRFHMACSHA2256: "PRF_HMAC_SHA2_256",
	PRFHMACSHA2384: "PRF_HMAC_SHA2_384", PRFHMACSHA2512: "PRF_HMAC_SHA2_512",
}

func (p PRFID) String() string { return name(p, prfNames) }

var integNames = map[IntegID]string{
	IntegNone: "NONE", IntegHMACMD596: "HMAC_MD5_96", IntegHMACSHA196: "HMAC_SHA1_96",
	IntegHMACSHA2256128: "HMAC_SHA2_256_128", IntegHMACSHA2384192: "HMAC_SHA2_384_192",
	IntegHMACSHA2512256: "HMAC_SHA2_512_256",
}

func (i IntegID) String() string { return name(i, integNames) }

var dhNames = map[DHGroup]string{
	DHNone: "NONE", DHMODP768: "MODP_768", DHMODP1024: "MODP_1024", DHMODP1536: "MODP_1536",
	DHMODP2048: "MODP_2048", DHMODP3072: "MODP_3072", DHMODP4096: "MODP_4096", DHECP256: "ECP_256",
	DHECP384: "ECP_384", DHECP521: "ECP_521", DHCurve25519: "CURVE_25519",
}

func (g DHGroup) String() string { return name(g, dhNames) }

func (e ESNID) String() string {
	switch e {
	case ESNNo:
		return "NO_EXT_SEQ"
	case ESNYes:
		return "EXT_SEQ"
	}
	return strconv.Itoa(int(e))
}

var idTypeNames = map[IDType]string{
	IDIPv4Addr: "ID_IPV4_ADDR", IDFQDN: "ID_FQDN", IDRFC822: "ID_RFC822_ADDR", IDIPv6Addr: "ID_IPV6_ADDR",
	IDDERASN1DN: "ID_DER_ASN1_DN", IDDERASN1GN: "ID_DER_ASN1_GN", IDKeyID: "ID_KEY_ID",
}

func (t IDType) String() string { return name(t, idTypeNames) }

var authNames = map[AuthMethod]string{
	AuthRSASig: "RSA_SIG", AuthSharedKeyMIC: "PSK", AuthDSSSig: "DSS_SIG", AuthECDSA256: "ECDSA_256",
	AuthECDSA384: "ECDSA_384", AuthECDSA521: "ECDSA_521", AuthGenericSecurePassword: "GSPM",
	AuthNull: "NULL", AuthDigitalSignature: "DIGITAL_SIGNATURE",
}

func (a AuthMethod) String() string { return name(a, authNames) }

var certNames = map[CertEncoding]string{
	CertX509Signature: "X509_SIGNATURE", CertX509CRL: "X509_CRL", CertHashURLX509: "HASH_URL_X509",
	CertHashURLBundle: "HASH_URL_X509_BUNDLE",
}

func (c CertEncoding) String() string { return name(c, certNames) }

func (t TSType) String() string {
	switch t {
	case TSIPv4AddrRange:
		return "TS_IPV4_ADDR_RANGE"
	case TSIPv6AddrRange:
		return "TS_IPV6_ADDR_RANGE"
	}
	return strconv.Itoa(int(t))
}

var cfgTypeNames = map[CFGType]string{CFGRequest: "CFG_REQUEST", CFGReply: "CFG_REPLY", CFGSet: "CFG_SET", CFGAck: "CFG_ACK"}

func (c CFGType) String() string { return name(c, cfgTypeNames) }

var cfgAttrNames = map[CFGAttr]string{
	AttrInternalIP4Address: "INTERNAL_IP4_ADDRESS", AttrInternalIP4Netmask: "INTERNAL_IP4_NETMASK",
	AttrInternalIP4DNS: "INTERNAL_IP4_DNS", AttrInternalIP4NBNS: "INTERNAL_IP4_NBNS",
	AttrInternalIP4DHCP: "INTERNAL_IP4_DHCP", AttrApplicationVersion: "APPLICATION_VERSION",
	AttrInternalIP6Address: "INTERNAL_IP6_ADDRESS", AttrInternalIP6DNS: "INTERNAL_IP6_DNS",
	AttrInternalIP6DHCP: "INTERNAL_IP6_DHCP", AttrInternalIP4Subnet: "INTERNAL_IP4_SUBNET",
	AttrSupportedAttributes: "SUPPORTED_ATTRIBUTES", AttrInternalIP6Subnet: "INTERNAL_IP6_SUBNET",
	AttrInternalDNSDomain: "INTERNAL_DNS_DOMAIN",
	AttrUnityBanner:       "UNITY_BANNER", AttrUnitySavePassword: "UNITY_SAVE_PASSWD", AttrUnityDefDomain: "UNITY_DEF_DOMAIN",
	AttrUnitySplitDNSName: "UNITY_SPLITDNS_NAME", AttrUnitySplitInclude: "UNITY_SPLIT_INCLUDE",
	AttrUnityNATTPort: "UNITY_NATT_PORT", AttrUnityLocalLAN: "UNITY_LOCAL_LAN", AttrUnityPFS: "UNITY_PFS",
	AttrUnityFirewallType: "UNITY_FW_TYPE", AttrUnityBackupServers: "UNITY_BACKUP_SERVERS",
	AttrUnityDDNSHostname: "UNITY_DDNS_HOSTNAME",
}

func (c CFGAttr) String() string { return name(c, cfgAttrNames) }

var notifyNames = map[NotifyType]string{
	NotifyUnsupportedCriticalPayload: "UNSUPPORTED_CRITICAL_PAYLOAD", NotifyInvalidIKESPI: "INVALID_IKE_SPI",
	NotifyInvalidMajorVersion: "INVALID_MAJOR_VERSION", NotifyInvalidSyntax: "INVALID_SYNTAX",
	NotifyInvalidMessageID: "INVALID_MESSAGE_ID", NotifyInvalidSPI: "INVALID_SPI",
	NotifyNoProposalChosen: "NO_PROPOSAL_CHOSEN", NotifyInvalidKEPayload: "INVALID_KE_PAYLOAD",
	NotifyAuthenticationFailed: "AUTHENTICATION_FAILED", NotifySinglePairRequired: "SINGLE_PAIR_REQUIRED",
	NotifyNoAdditionalSAs: "NO_ADDITIONAL_SAS", NotifyInternalAddressFailure: "INTERNAL_ADDRESS_FAILURE",
	NotifyFailedCPRequired: "FAILED_CP_REQUIRED", NotifyTSUnacceptable: "TS_UNACCEPTABLE",
	NotifyInvalidSelectors: "INVALID_SELECTORS", NotifyTemporaryFailure: "TEMPORARY_FAILURE",
	NotifyChildSANotFound: "CHILD_SA_NOT_FOUND",
	NotifyInitialContact:  "INITIAL_CONTACT", NotifySetWindowSize: "SET_WINDOW_SIZE",
	NotifyAdditionalTSPossible: "ADDITIONAL_TS_POSSIBLE", NotifyIPCompSupported: "IPCOMP_SUPPORTED",
	NotifyNATDetectionSourceIP: "NAT_DETECTION_SOURCE_IP", NotifyNATDetectionDestinationIP: "NAT_DETECTION_DESTINATION_IP",
	NotifyCookie: "COOKIE", NotifyUseTransportMode: "USE_TRANSPORT_MODE",
	NotifyHTTPCertLookupSupported: "HTTP_CERT_LOOKUP_SUPPORTED", NotifyRekeySA: "REKEY_SA",
	NotifyESPTFCPaddingNotSupported: "ESP_TFC_PADDING_NOT_SUPPORTED", NotifyNonFirstFragmentsAlso: "NON_FIRST_FRAGMENTS_ALSO",
	NotifyMOBIKESupported: "MOBIKE_SUPPORTED", NotifyNoAdditionalAddresses: "NO_ADDITIONAL_ADDRESSES",
	NotifyRedirectSupported: "REDIRECT_SUPPORTED", NotifyRedirect: "REDIRECT", NotifyRedirectedFrom: "REDIRECTED_FROM",
	NotifyEAPOnlyAuthentication: "EAP_ONLY_AUTHENTICATION", NotifyChildlessIKEv2Supported: "CHILDLESS_IKEV2_SUPPORTED",
	NotifyMultipleAuthSupported: "MULTIPLE_AUTH_SUPPORTED", NotifyIKEv2FragmentationSupported: "IKEV2_FRAGMENTATION_SUPPORTED",
	NotifySignatureHashAlgorithms: "SIGNATURE_HASH_ALGORITHMS",
	NotifyUnacceptableAddresses:   "UNACCEPTABLE_ADDRESSES", NotifyUnexpectedNATDetected: "UNEXPECTED_NAT_DETECTED",
	NotifyAuthorizationFailed: "AUTHORIZATION_FAILED", NotifyAdditionalIP4Address: "ADDITIONAL_IP4_ADDRESS",
	NotifyAdditionalIP6Address: "ADDITIONAL_IP6_ADDRESS", NotifyUpdateSAAddresses: "UPDATE_SA_ADDRESSES",
	NotifyCookie2: "COOKIE2", NotifyNoNATsAllowed: "NO_NATS_ALLOWED", NotifyAuthLifetime: "AUTH_LIFETIME",
	NotifyAnotherAuthFollows: "ANOTHER_AUTH_FOLLOWS", NotifyMessageIDSyncSupported: "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
	NotifyUsePPK: "USE_PPK", NotifyPPKIdentity: "PPK_IDENTITY", NotifyNoPPKAuth: "NO_PPK_AUTH",
	NotifyIntermediateExchangeSupported: "INTERMEDIATE_EXCHANGE_SUPPORTED",
}

func (n NotifyType) String() string { return name(n, notifyNames) }
