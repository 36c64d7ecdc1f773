package wire

import "bytes"

// Cisco IKEv2 Vendor IDs. Cisco's IKEv2 VIDs are plain ASCII strings, not
// MD5 hashes (strongSwan ike_vendor.c, libreswan vendor tables).
const (
	// VendorFlexVPNSupported tells a Cisco peer we speak FlexVPN; with it a
	// Cisco responder does not narrow our TSi to the assigned address and
	// accepts 0.0.0.0/0 selectors (strongSwan charon.cisco_flexvpn).
	VendorFlexVPNSupported = "FLEXVPN-SUPPORTED"
	// VendorCiscoDeleteReason announces that Delete payloads may carry a reason.
	VendorCiscoDeleteReason = "CISCO-DELETE-REASON"
	// VendorCiscoDynamicRoute announces FlexVPN route exchange in configuration payloads.
	VendorCiscoDynamicRoute = "CISCO-DYNAMIC-ROUTE"
	// VendorCiscoCTSSGT is our assumption for the Cisco TrustSec SGT inline
	// tagging VID: no public implementation confirms the bytes (wire-formats.md §1.4).
	VendorCiscoCTSSGT = "CISCO-CTS-SGT"
	// VendorCiscoCopyright is the copyright VID Cisco IOS sends.
	VendorCiscoCopyright = "CISCO(COPYRIGHT)&Copyright (c) 2009 Cisco Systems, Inc."
)

// Vendor identifies a recognised Vendor ID payload.
type Vendor uint8

// Recognised vendor IDs.
const (
	VendorUnknown Vendor = iota
	VendorFlexVPN
	VendorDeleteReason
	VendorDynamicRoute
	VendorCTSSGT
	VendorCopyright
	VendorCiscoFragmentation
	VendorCiscoUnity
)

var vendorNames = [...]string{
	VendorUnknown:            "unknown",
	VendorFlexVPN:            "FLEXVPN-SUPPORTED",
	VendorDeleteReason:       "CISCO-DELETE-REASON",
	VendorDynamicRoute:       "CISCO-DYNAMIC-ROUTE",
	VendorCTSSGT:             "CISCO-CTS-SGT",
	VendorCopyright:          "CISCO-COPYRIGHT",
	VendorCiscoFragmentation: "CISCO-FRAGMENTATION",
	VendorCiscoUnity:         "CISCO-UNITY",
}

func (v Vendor) String() string {
	if int(v) < len(vendorNames) {
		return vendorNames[v]
	}
	return "unknown"
}

// Raw VIDs that are hashes rather than strings.
var (
	vidCiscoFragmentation = []byte{0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3}
	vidCiscoUnity         = []byte{0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00}
)

// Identify returns which known vendor ID data is, or VendorUnknown. The
// engine hands unknown ones to its caller.
func Identify(data []byte) Vendor {
	switch string(data) {
	case VendorFlexVPNSupported:
		return VendorFlexVPN
	case VendorCiscoDeleteReason:
		return VendorDeleteReason
	case VendorCiscoDynamicRoute:
		return VendorDynamicRoute
	case VendorCiscoCTSSGT:
		return VendorCTSSGT
	case VendorCiscoCopyright:
		return VendorCopyright
	}
	switch {
	case bytes.HasPrefix(data, vidCiscoFragmentation) && (len(data) == 16 || len(data) == 20):
		return VendorCiscoFragmentation
	case bytes.Equal(data, vidCiscoUnity):
		return VendorCiscoUnity
	}
	return VendorUnknown
}

// NewVendorID returns a Vendor ID payload carrying s (for the string VIDs above).
func NewVendorID(s string) *VendorID { return &VendorID{Data: []byte(s)} }
