package config

import "strings"

// Encryption is an IKEv2 encryption transform as IOS names it in a proposal.
type Encryption uint8

// IKEv2 encryption transforms (G:856-909, §3 of seed-features.md).
const (
	Encr3DES Encryption = iota + 1
	EncrAESCBC128
	EncrAESCBC192
	EncrAESCBC256
	EncrAESGCM128
	EncrAESGCM256
)

var encryptionNames = []algName{
	{uint8(Encr3DES), "3des", "3DES"},
	{uint8(EncrAESCBC128), "aes-cbc-128", "AES-CBC-128"},
	{uint8(EncrAESCBC192), "aes-cbc-192", "AES-CBC-192"},
	{uint8(EncrAESCBC256), "aes-cbc-256", "AES-CBC-256"},
	{uint8(EncrAESGCM128), "aes-gcm-128", "AES-GCM-128"},
	{uint8(EncrAESGCM256), "aes-gcm-256", "AES-GCM-256"},
}

// IsAEAD reports whether e is a combined-mode cipher (AES-GCM), which takes no
// integrity transform and needs an explicit PRF.
func (e Encryption) IsAEAD() bool { return e == EncrAESGCM128 || e == EncrAESGCM256 }

// KeyBits is the key size of e in bits (168 for 3DES).
func (e Encryption) KeyBits() int {
	switch e {
	case Encr3DES:
		return 168
	case EncrAESCBC128, EncrAESGCM128:
		return 128
	case EncrAESCBC192:
		return 192
	default:
		return 256
	}
}

func (e Encryption) String() string               { return nameOf(encryptionNames, uint8(e), false) }
func (e Encryption) ShowName() string             { return nameOf(encryptionNames, uint8(e), true) }
func (e Encryption) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// Integrity is an IKEv2 integrity transform.
type Integrity uint8

// IKEv2 integrity transforms.
const (
	IntegMD5 Integrity = iota + 1
	IntegSHA1
	IntegSHA256
	IntegSHA384
	IntegSHA512
)

var integrityNames = []algName{
	{uint8(IntegMD5), "md5", "MD596"},
	{uint8(IntegSHA1), "sha1", "SHA96"},
	{uint8(IntegSHA256), "sha256", "SHA256"},
	{uint8(IntegSHA384), "sha384", "SHA384"},
	{uint8(IntegSHA512), "sha512", "SHA512"},
}

func (i Integrity) String() string               { return nameOf(integrityNames, uint8(i), false) }
func (i Integrity) ShowName() string             { return nameOf(integrityNames, uint8(i), true) }
func (i Integrity) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// PRF is an IKEv2 pseudo-random function transform.
type PRF uint8

// IKEv2 PRF transforms.
const (
	PRFMD5 PRF = iota + 1
	PRFSHA1
	PRFSHA256
	PRFSHA384
	PRFSHA512
)

var prfNames = []algName{
	{uint8(PRFMD5), "md5", "MD5"},
	{uint8(PRFSHA1), "sha1", "SHA1"},
	{uint8(PRFSHA256), "sha256", "SHA256"},
	{uint8(PRFSHA384), "sha384", "SHA384"},
	{uint8(PRFSHA512), "sha512", "SHA512"},
}

func (p PRF) String() string               { return nameOf(prfNames, uint8(p), false) }
func (p PRF) ShowName() string             { return nameOf(prfNames, uint8(p), true) }
func (p PRF) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// PRFFor is the PRF IOS derives from an integrity transform when a proposal
// configures none ("Without GCM, PRF defaults to the integrity algorithm").
func PRFFor(i Integrity) PRF { return PRF(i) }

// DHGroup is a Diffie-Hellman group number; the numbers are the IANA
// transform IDs, so they go on the wire unchanged.
type DHGroup uint16

var dhGroupShow = map[DHGroup]string{
	1:  "DH_GROUP_768_MODP/Group 1",
	2:  "DH_GROUP_1024_MODP/Group 2",
	5:  "DH_GROUP_1536_MODP/Group 5",
	14: "DH_GROUP_2048_MODP/Group 14",
	15: "DH_GROUP_3072_MODP/Group 15",
	16: "DH_GROUP_4096_MODP/Group 16",
	19: "DH_GROUP_256_ECP/Group 19",
	20: "DH_GROUP_384_ECP/Group 20",
	21: "DH_GROUP_521_ECP/Group 21",
	24: "DH_GROUP_2048_256_MODP/Group 24",
}

// Valid reports whether IOS (or [B], for group 21) accepts the group.
func (g DHGroup) Valid() bool { _, ok := dhGroupShow[g]; return ok }

// ShowName is the name `show crypto ikev2 proposal` prints.
func (g DHGroup) ShowName() string { return dhGroupShow[g] }

// algName maps an algorithm to its configuration keyword and show name.
type algName struct {
	v        uint8
	keyword  string
	showName string
}

func nameOf(tab []algName, v uint8, show bool) string {
	for _, a := range tab {
		if a.v == v {
			if show {
				return a.showName
			}
			return a.keyword
		}
	}
	return "unknown"
}

// lookupAlg finds kw in tab, accepting the hyphenated spellings the seeds use
// (`sha-256`, D-14) and the `aes-gmc-*` misprint of G:899.
func lookupAlg(tab []algName, kw string) (uint8, bool) {
	kw = strings.ToLower(kw)
	kw = strings.Replace(kw, "aes-gmc-", "aes-gcm-", 1)
	if strings.HasPrefix(kw, "sha-") {
		kw = "sha" + kw[4:]
	}
	for _, a := range tab {
		if a.keyword == kw {
			return a.v, true
		}
	}
	return 0, false
}

// ESPTransform is one keyword of `crypto ipsec transform-set NAME ...`.
type ESPTransform uint8

// ESP transforms. EspGCM and EspAES carry their key size in TransformSet.
const (
	ESPNone       ESPTransform = iota
	ESPAES                     // esp-aes [128|192|256]
	ESPGCM                     // esp-gcm [128|256]
	ESP3DES                    // esp-3des
	ESPNull                    // esp-null
	ESPSHAHMAC                 // esp-sha-hmac
	ESPSHA256HMAC              // esp-sha256-hmac
	ESPSHA384HMAC              // esp-sha384-hmac
	ESPSHA512HMAC              // esp-sha512-hmac
	ESPMD5HMAC                 // esp-md5-hmac
)

var espNames = []algName{
	{uint8(ESPAES), "esp-aes", "esp-aes"},
	{uint8(ESPGCM), "esp-gcm", "esp-gcm"},
	{uint8(ESP3DES), "esp-3des", "esp-3des"},
	{uint8(ESPNull), "esp-null", "esp-null"},
	{uint8(ESPSHAHMAC), "esp-sha-hmac", "esp-sha-hmac"},
	{uint8(ESPSHA256HMAC), "esp-sha256-hmac", "esp-sha256-hmac"},
	{uint8(ESPSHA384HMAC), "esp-sha384-hmac", "esp-sha384-hmac"},
	{uint8(ESPSHA512HMAC), "esp-sha512-hmac", "esp-sha512-hmac"},
	{uint8(ESPMD5HMAC), "esp-md5-hmac", "esp-md5-hmac"},
}

func (t ESPTransform) String() string               { return nameOf(espNames, uint8(t), false) }
func (t ESPTransform) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// isCipher reports whether t is an ESP encryption transform (as opposed to an
// integrity one).
func (t ESPTransform) isCipher() bool {
	return t == ESPAES || t == ESPGCM || t == ESP3DES || t == ESPNull
}
