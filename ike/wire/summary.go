package wire

import "strconv"

// notifyShort holds the abbreviations strongSwan's charon logs for
// notifies ("N(NATD_S_IP)"), so an operator can compare our log lines with
// a strongSwan peer's side by side.
var notifyShort = map[NotifyType]string{
	NotifyUnsupportedCriticalPayload: "UNSUPPORTED_CRITICAL_PAYLOAD", NotifyInvalidIKESPI: "INVAL_IKE_SPI",
	NotifyInvalidMajorVersion: "INVAL_MAJOR", NotifyInvalidSyntax: "INVAL_SYN", NotifyInvalidMessageID: "INVAL_MID",
	NotifyInvalidSPI: "INVAL_SPI", NotifyNoProposalChosen: "NO_PROP", NotifyInvalidKEPayload: "INVAL_KE",
	NotifyAuthenticationFailed: "AUTH_FAILED", NotifySinglePairRequired: "SINGLE_PAIR", NotifyNoAdditionalSAs: "NO_ADD_SAS",
	NotifyInternalAddressFailure: "INT_ADDR_FAIL", NotifyFailedCPRequired: "FAIL_CP_REQ", NotifyTSUnacceptable: "TS_UNACCEPT",
	NotifyInvalidSelectors: "INVAL_SEL", NotifyTemporaryFailure: "TEMP_FAIL", NotifyChildSANotFound: "CHILD_SA_NOT_FOUND",
	NotifyInitialContact: "INIT_CONTACT", NotifySetWindowSize: "SET_WINSIZE", NotifyAdditionalTSPossible: "ADD_TS_POSS",
	NotifyIPCompSupported: "IPCOMP_SUP", NotifyNATDetectionSourceIP: "NATD_S_IP", NotifyNATDetectionDestinationIP: "NATD_D_IP",
	NotifyCookie: "COOKIE", NotifyUseTransportMode: "USE_TRANSP", NotifyHTTPCertLookupSupported: "HTTP_CERT_LOOK",
	NotifyRekeySA: "REKEY_SA", NotifyESPTFCPaddingNotSupported: "ESP_TFC_PAD_N", NotifyNonFirstFragmentsAlso: "NON_FIRST_FRAG",
	NotifyMOBIKESupported: "MOBIKE_SUP", NotifyNoAdditionalAddresses: "NO_ADD_ADDR", NotifyRedirectSupported: "REDIR_SUP",
	NotifyRedirect: "REDIR", NotifyRedirectedFrom: "REDIR_FROM", NotifyEAPOnlyAuthentication: "EAP_ONLY",
	NotifyChildlessIKEv2Supported: "CHDLESS_SUP", NotifyMultipleAuthSupported: "MULT_AUTH",
	NotifyIKEv2FragmentationSupported: "FRAG_SUP", NotifySignatureHashAlgorithms: "HASH_ALG",
	NotifyMessageIDSyncSupported: "MSG_ID_SYN_SUP", NotifyAdditionalIP4Address: "ADD_4_ADDR",
	NotifyAdditionalIP6Address: "ADD_6_ADDR", NotifyUpdateSAAddresses: "UPD_SA_ADDR", NotifyCookie2: "COOKIE2",
	NotifyAnotherAuthFollows: "AUTH_FOLLOWS", NotifyAuthLifetime: "AUTH_LFT", NotifyUsePPK: "USE_PPK",
	NotifyIntermediateExchangeSupported: "IKE_INT_SUP",
}

// AppendSummary appends a strongSwan-style one-line summary of a payload
// chain ("[ SA KE No N(NATD_S_IP) V ]") to dst, looking inside nothing: an SK
// payload appears as "SK" (or "EF(1/3)" for a fragment, as charon logs it).
func AppendSummary(dst []byte, ps []Payload) []byte {
	dst = append(dst, '[')
	for _, p := range ps {
		dst = append(dst, ' ')
		switch q := p.(type) {
		case *Notify:
			dst = append(dst, "N("...)
			if s, ok := notifyShort[q.NotifyType]; ok {
				dst = append(dst, s...)
			} else {
				dst = strconv.AppendUint(dst, uint64(q.NotifyType), 10)
			}
			dst = append(dst, ')')
		case *EncryptedFragment:
			dst = append(dst, "EF("...)
			dst = strconv.AppendUint(dst, uint64(q.Number), 10)
			dst = append(dst, '/')
			dst = strconv.AppendUint(dst, uint64(q.Total), 10)
			dst = append(dst, ')')
		case *Delete:
			dst = append(dst, 'D')
		case *Configuration:
			switch q.CFGType {
			case CFGRequest:
				dst = append(dst, "CPRQ"...)
			case CFGReply:
				dst = append(dst, "CPRP"...)
			case CFGSet:
				dst = append(dst, "CPS"...)
			case CFGAck:
				dst = append(dst, "CPA"...)
			default:
				dst = append(dst, "CP"...)
			}
		default:
			dst = append(dst, p.Type().String()...)
		}
	}
	return append(dst, " ]"...)
}

// String returns e.g. "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) ]",
// the format strongSwan logs messages in.
func (m *Message) String() string {
	b := append([]byte(m.Header.Exchange.String()), ' ')
	if m.Header.IsResponse() {
		b = append(b, "response "...)
	} else {
		b = append(b, "request "...)
	}
	b = strconv.AppendUint(b, uint64(m.Header.MessageID), 10)
	b = append(b, ' ')
	return string(AppendSummary(b, m.Payloads))
}
