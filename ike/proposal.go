package ike

import (
	"errors"
	"fmt"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/wire"
)

// keyLengthAttr reports whether an encryption algorithm carries the Key
// Length attribute (RFC 7296 §3.3.5: the variable-key-size ciphers).
func keyLengthAttr(e wire.EncrID) bool {
	switch e {
	case wire.EncrAESCBC, wire.EncrAESCTR, wire.EncrAESGCM8, wire.EncrAESGCM12, wire.EncrAESGCM16, wire.EncrNullGMAC:
		return true
	}
	return false
}

// wireProposal converts p into a proposal of the given protocol. withDH=false
// leaves the DH transform out (Child SAs created by IKE_AUTH).
func wireProposal(num uint8, proto wire.ProtocolID, spi []byte, p suite.Proposal, withDH bool) wire.Proposal {
	wp := wire.Proposal{Number: num, Protocol: proto, SPI: spi}
	kb := 0
	if keyLengthAttr(p.Encr) {
		kb = p.KeyBits
	}
	wp.Transforms = append(wp.Transforms, wire.EncrTransform(p.Encr, kb))
	if proto == wire.ProtocolIKE {
		wp.Transforms = append(wp.Transforms, wire.PRFTransform(p.PRF))
	}
	if p.Integ != wire.IntegNone {
		wp.Transforms = append(wp.Transforms, wire.IntegTransform(p.Integ))
	}
	if withDH && p.DH != wire.DHNone {
		wp.Transforms = append(wp.Transforms, wire.DHTransform(p.DH))
	}
	if proto == wire.ProtocolESP {
		esn := wire.ESNNo
		if p.ESN {
			esn = wire.ESNYes
		}
		wp.Transforms = append(wp.Transforms, wire.ESNTransform(esn))
	}
	return wp
}

// wireSA builds an SA payload offering ps in order, numbered from 1.
func wireSA(proto wire.ProtocolID, spi []byte, ps []suite.Proposal, withDH bool) *wire.SA {
	sa := &wire.SA{}
	for i, p := range ps {
		sa.Proposals = append(sa.Proposals, wireProposal(uint8(i+1), proto, spi, p, withDH))
	}
	return sa
}

// offers reports whether the received proposal op contains the transforms
// of local proposal lp. ignoreDH skips the DH check (IKE_AUTH Child SAs).
func offers(op *wire.Proposal, lp suite.Proposal, proto wire.ProtocolID, ignoreDH bool) bool {
	var encr, prf, integ, dh, esn bool
	var hasInteg, hasDH, hasESN bool
	for _, t := range op.Transforms {
		if t.HasUnknownAttributes() {
			continue
		}
		switch t.Type {
		case wire.TransformENCR:
			kb := 0
			if keyLengthAttr(lp.Encr) {
				kb = lp.KeyBits
			}
			if t.Encr() == lp.Encr && int(t.KeyLength) == kb {
				encr = true
			}
		case wire.TransformPRF:
			if t.PRF() == lp.PRF {
				prf = true
			}
		case wire.TransformINTEG:
			hasInteg = true
			if t.Integ() == lp.Integ {
				integ = true
			}
		case wire.TransformDH:
			hasDH = true
			if t.DH() == lp.DH {
				dh = true
			}
		case wire.TransformESN:
			hasESN = true
			if (t.ESN() == wire.ESNYes) == lp.ESN {
				esn = true
			}
		default:
			return false // RFC 7296 §3.3.6: unknown transform type rejects the proposal
		}
	}
	if !encr {
		return false
	}
	if proto == wire.ProtocolIKE && !prf {
		return false
	}
	if lp.Integ != wire.IntegNone && !integ || lp.Integ == wire.IntegNone && hasInteg && !integ {
		return false
	}
	if !ignoreDH {
		if lp.DH != wire.DHNone && !dh || lp.DH == wire.DHNone && hasDH && !dh {
			return false
		}
	}
	if proto == wire.ProtocolESP && (hasESN && !esn || !hasESN && lp.ESN) {
		return false
	}
	return true
}

// selectProposal is the responder's choice (RFC 7296 §2.7): the first
// received proposal, in the initiator's order (IOS prefers the initiator),
// that contains one of the local proposals. It returns the local proposal
// and the received one (for its number and SPI).
func selectProposal(sa *wire.SA, local []suite.Proposal, proto wire.ProtocolID, ignoreDH bool) (suite.Proposal, *wire.Proposal, bool) {
	if sa == nil {
		return suite.Proposal{}, nil, false
	}
	for i := range sa.Proposals {
		op := &sa.Proposals[i]
		if op.Protocol != proto {
			continue
		}
		if proto == wire.ProtocolESP && len(op.SPI) != 4 || proto == wire.ProtocolIKE && len(op.SPI) != 0 && len(op.SPI) != 8 {
			continue
		}
		for _, lp := range local {
			if suite.Supported(lp) != nil {
				continue
			}
			if offers(op, lp, proto, ignoreDH) {
				if ignoreDH {
					lp.DH = wire.DHNone
				}
				return lp, op, true
			}
			// A Child SA policy without PFS still accepts an initiator that
			// asks for it, with the first group offered that we implement
			// (what a FlexVPN hub does for spokes configured with PFS).
			if proto == wire.ProtocolESP && !ignoreDH && lp.DH == wire.DHNone && offers(op, lp, proto, true) {
				for _, t := range op.Transforms {
					if t.Type != wire.TransformDH || t.DH() == wire.DHNone {
						continue
					}
					if _, err := suite.PublicLen(t.DH()); err == nil {
						lp.DH = t.DH()
						return lp, op, true
					}
				}
			}
		}
	}
	return suite.Proposal{}, nil, false
}

var errBadResponseSA = errors.New("response SA payload is not one of our proposals")

// acceptedProposal checks the responder's SA payload (exactly one proposal,
// one transform per type, among what we offered) and returns it.
func acceptedProposal(sa *wire.SA, offered []suite.Proposal, proto wire.ProtocolID, ignoreDH bool) (suite.Proposal, *wire.Proposal, error) {
	if sa == nil || len(sa.Proposals) != 1 {
		return suite.Proposal{}, nil, fmt.Errorf("%w: want one proposal", errBadResponseSA)
	}
	op := &sa.Proposals[0]
	if op.Protocol != proto {
		return suite.Proposal{}, nil, fmt.Errorf("%w: protocol %d", errBadResponseSA, op.Protocol)
	}
	seen := map[wire.TransformType]bool{}
	for _, t := range op.Transforms {
		if seen[t.Type] {
			return suite.Proposal{}, nil, fmt.Errorf("%w: two transforms of type %d", errBadResponseSA, t.Type)
		}
		seen[t.Type] = true
	}
	for _, lp := range offered {
		if offers(op, lp, proto, ignoreDH) {
			if ignoreDH {
				lp.DH = wire.DHNone
			}
			return lp, op, nil
		}
	}
	return suite.Proposal{}, nil, errBadResponseSA
}
