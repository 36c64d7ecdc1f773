package wire

import "testing"

func TestValidate(t *testing.T) {
	sa := &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{EncrTransform(EncrAESGCM16, 256)}}}}
	ke := &KE{Group: DHECP256, Data: seq(64, 0)}
	no := &Nonce{Data: seq(32, 0)}
	sk := &Encrypted{NextPayload: PayloadNone, Body: seq(24, 0)}
	init := Header{SPIi: 1, Exchange: ExchangeIKESAInit, Flags: FlagInitiator}
	initResp := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKESAInit, Flags: FlagResponse}
	auth := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	tests := []struct {
		name string
		h    Header
		ps   []Payload
		ok   bool
	}{
		{"init request", init, []Payload{sa, ke, no}, true},
		{"init request with cookie first", init, []Payload{NewCookie(seq(16, 0)), sa, ke, no}, true},
		{"init request with cookie later", init, []Payload{sa, ke, no, NewCookie(seq(16, 0))}, false},
		{"init request without KE", init, []Payload{sa, no}, false},
		{"init request with two SAs", init, []Payload{sa, sa, ke, no}, false},
		{"init request with SPIr", Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKESAInit, Flags: FlagInitiator}, []Payload{sa, ke, no}, false},
		{"init request with message ID 1", Header{SPIi: 1, Exchange: ExchangeIKESAInit, Flags: FlagInitiator, MessageID: 1}, []Payload{sa, ke, no}, false},
		{"init request without I flag", Header{SPIi: 1, Exchange: ExchangeIKESAInit}, []Payload{sa, ke, no}, false},
		{"init response with I flag", Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKESAInit, Flags: FlagResponse | FlagInitiator}, []Payload{sa, ke, no}, false},
		{"init request with SK", init, []Payload{sa, ke, no, sk}, false},
		{"init request with IDi", init, []Payload{sa, ke, no, &ID{IDType: IDFQDN, Data: []byte("a")}}, false},
		{"init response", initResp, []Payload{sa, ke, no}, true},
		{"init response INVALID_KE", initResp, []Payload{NewInvalidKE(DHMODP2048)}, true},
		{"init response COOKIE", initResp, []Payload{NewCookie(seq(16, 0))}, true},
		{"init response empty", initResp, nil, false},
		{"auth", auth, []Payload{sk}, true},
		{"auth without SK", auth, []Payload{no}, false},
		{"auth message ID 0", Header{Exchange: ExchangeIKEAuth}, []Payload{sk}, false},
		{"informational", Header{Exchange: ExchangeInformational}, []Payload{sk}, true},
		{"unknown exchange", Header{Exchange: 99}, []Payload{no}, true},
		{"init request proposals from 2", init, []Payload{&SA{Proposals: []Proposal{{Number: 2, Protocol: ProtocolIKE}}}, ke, no}, false},
		{"init response two proposals", initResp, []Payload{&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE}, {Number: 2, Protocol: ProtocolIKE}}}, ke, no}, false},
		{"init response proposal 3", initResp, []Payload{&SA{Proposals: []Proposal{{Number: 3, Protocol: ProtocolIKE, Transforms: []Transform{EncrTransform(EncrAESGCM16, 256)}}}}, ke, no}, true},
		{"init response two ENCR", initResp, []Payload{&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE,
			Transforms: []Transform{EncrTransform(EncrAESGCM16, 256), EncrTransform(EncrAESGCM16, 128)}}}}, ke, no}, false},
	}
	for _, tt := range tests {
		err := Validate(&Message{Header: tt.h, Payloads: tt.ps})
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil {
			if n, _, _ := NotifyFor(err); n != NotifyInvalidSyntax {
				t.Errorf("%s: notify %v", tt.name, n)
			}
		}
	}
}

func TestValidateInner(t *testing.T) {
	idi := &ID{IDType: IDFQDN, Data: []byte("spoke")}
	idr := &ID{Responder: true, IDType: IDFQDN, Data: []byte("hub")}
	au := &Auth{Method: AuthSharedKeyMIC, Data: seq(32, 0)}
	sa := &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{EncrTransform(EncrAESGCM16, 256)}}}}
	tsi := &TrafficSelectors{Selectors: []TrafficSelector{TSAny(false)}}
	tsr := &TrafficSelectors{Responder: true, Selectors: []TrafficSelector{TSAny(false)}}
	no := &Nonce{Data: seq(32, 0)}
	ke := &KE{Group: DHECP256, Data: seq(64, 0)}
	eap := &EAP{Message: []byte{EAPRequest, 1, 0, 5, 1}}
	tests := []struct {
		name     string
		ex       ExchangeType
		response bool
		ps       []Payload
		ok       bool
	}{
		{"auth request", ExchangeIKEAuth, false, []Payload{idi, idr, au, sa, tsi, tsr}, true},
		{"auth request childless", ExchangeIKEAuth, false, []Payload{idi, au}, true},
		{"auth request asking for EAP", ExchangeIKEAuth, false, []Payload{idi, sa, tsi, tsr}, true},
		{"auth request EAP round", ExchangeIKEAuth, false, []Payload{&EAP{Message: []byte{EAPResponse, 1, 0, 5, 1}}}, true},
		{"auth request without IDi", ExchangeIKEAuth, false, []Payload{sa, tsi, tsr}, false},
		{"auth request IDr only", ExchangeIKEAuth, false, []Payload{idr, au}, false},
		{"auth request SA without TS", ExchangeIKEAuth, false, []Payload{idi, au, sa}, false},
		{"auth request TSi only", ExchangeIKEAuth, false, []Payload{idi, au, sa, tsi}, false},
		{"auth request with KE", ExchangeIKEAuth, false, []Payload{idi, au, ke}, false},
		{"auth request two AUTH", ExchangeIKEAuth, false, []Payload{idi, au, au}, false},
		{"auth response", ExchangeIKEAuth, true, []Payload{idr, au, sa, tsi, tsr}, true},
		{"auth response EAP", ExchangeIKEAuth, true, []Payload{idr, eap}, true},
		{"auth response failed", ExchangeIKEAuth, true, []Payload{NewNotify(NotifyAuthenticationFailed, nil)}, true},
		{"auth response with IDi", ExchangeIKEAuth, true, []Payload{idi, au}, false},
		{"auth response two proposals", ExchangeIKEAuth, true, []Payload{idr, au, &SA{Proposals: []Proposal{sa.Proposals[0], {Number: 2, Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}}}}, tsi, tsr}, false},
		{"child request", ExchangeCreateChildSA, false, []Payload{sa, no, tsi, tsr}, true},
		{"child request PFS", ExchangeCreateChildSA, false, []Payload{NewRekeySA(ProtocolESP, 1), sa, no, ke, tsi, tsr}, true},
		{"IKE rekey", ExchangeCreateChildSA, false, []Payload{sa, no, ke}, true},
		{"IKE rekey without KE", ExchangeCreateChildSA, false, []Payload{sa, no}, false},
		{"child without nonce", ExchangeCreateChildSA, false, []Payload{sa, tsi, tsr}, false},
		{"child with AUTH", ExchangeCreateChildSA, false, []Payload{sa, no, tsi, tsr, au}, false},
		{"child response NO_ADDITIONAL_SAS", ExchangeCreateChildSA, true, []Payload{NewNotify(NotifyNoAdditionalSAs, nil)}, true},
		{"delete", ExchangeInformational, false, []Payload{DeleteIKE()}, true},
		{"liveness", ExchangeInformational, false, nil, true},
		{"informational with SA", ExchangeInformational, false, []Payload{sa}, false},
		{"nested SK", ExchangeInformational, false, []Payload{&Encrypted{Body: seq(4, 0)}}, false},
	}
	for _, tt := range tests {
		err := ValidateInner(tt.ex, tt.response, tt.ps)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
