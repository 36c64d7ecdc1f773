package ike

import "sync/atomic"

// Counter names one of the engine's counters. Drops are counted by reason
// instead of logged, so that a flood of bad datagrams costs no log I/O.
type Counter int

const (
	CounterRxMessages                Counter = iota // datagrams handed to the engine
	CounterTxMessages                               // datagrams sent, retransmissions included
	CounterRetransmits                              // requests sent again after a timeout
	CounterDupRequests                              // duplicate requests answered from the response cache
	CounterDropTruncated                            // shorter than the IKE header or than its Length
	CounterDropOversized                            // larger than Config.MaxMessageSize
	CounterDropMalformed                            // failed to decode (answered with a notify where the RFC says so)
	CounterDropUnknownSPI                           // no IKE SA for the SPIs
	CounterDropBadICV                               // SK payload failed its integrity check
	CounterDropReplay                               // request older than the window with no cached response
	CounterDropWindow                               // request beyond our window
	CounterDropUnexpected                           // response to no outstanding request, or wrong exchange
	CounterDropFragment                             // SKF payloads without negotiated fragmentation, or stale or malformed
	CounterDropHalfOpenLimit                        // IKE_SA_INIT refused: too many half-open SAs
	CounterCookiesSent                              // IKE_SA_INIT answered with a COOKIE challenge
	CounterInvalidKESent                            // IKE_SA_INIT answered with INVALID_KE_PAYLOAD
	CounterAuthFailures                             // AUTH payloads that did not verify
	CounterNoProposal                               // NO_PROPOSAL_CHOSEN sent
	CounterTSUnacceptable                           // TS_UNACCEPTABLE sent
	CounterIKEUp                                    // IKE SAs established
	CounterIKEDown                                  // IKE SAs removed
	CounterIKEFailed                                // IKE SAs that failed to establish or died
	CounterChildUp                                  // Child SAs installed
	CounterChildDown                                // Child SAs removed
	CounterRekeyCollisions                          // simultaneous rekeys resolved (RFC 7296 §2.8.1)
	CounterConfigFailures                           // CFG_REQUESTs answered with INTERNAL_ADDRESS_FAILURE
	CounterFragmentsSent                            // SKF fragments sent, retransmissions included
	CounterFragmentsReceived                        // SKF fragments that verified
	CounterDropFragmentLimit                        // fragmented messages dropped for exceeding the count or byte limits (fragment bombs)
	CounterFragmentTimeouts                         // partly received fragmented messages dropped after FragmentTimeout
	CounterCookiesInvalid                           // IKE_SA_INIT with a COOKIE whose MAC did not verify
	CounterCookiesStale                             // IKE_SA_INIT with a COOKIE of a retired secret
	CounterCookiesReplayed                          // IKE_SA_INIT with a COOKIE already accepted once, dropped
	CounterDropMaxSA                                // IKE SAs refused: Config.MaxSAs reached
	CounterDropHalfOpenPerSource                    // IKE_SA_INIT refused: the source's half-open cap reached
	CounterDropInNegotiationOutgoing                // Initiate refused: MaxInNegotiationOutgoing reached
	CounterDPDChecks                                // liveness checks started by the DPD timer
	CounterDPDDead                                  // IKE SAs removed because DPD found the peer dead
	CounterRedirectsSent                            // REDIRECTs we sent as a gateway
	CounterRedirectsFollowed                        // REDIRECTs we followed as a client
	CounterRedirectBadNonce                         // IKE_SA_INIT REDIRECTs dropped: not our nonce
	CounterRedirectLoops                            // redirects refused: loop or max-redirects
	CounterCertRejected                             // peer certificates refused (by reason: Engine.CertificateRejects)
	CounterRekeyedExpired                           // replaced SAs we deleted because the peer never did (RFC 7296 §2.8)
	counterCount
)

var counterNames = [counterCount]string{
	"rx_messages", "tx_messages", "retransmits", "duplicate_requests",
	"drop_truncated", "drop_oversized", "drop_malformed", "drop_unknown_spi",
	"drop_bad_icv", "drop_replay", "drop_window", "drop_unexpected", "drop_fragment",
	"drop_half_open_limit", "cookies_sent", "invalid_ke_sent", "auth_failures",
	"no_proposal_chosen", "ts_unacceptable", "ike_up", "ike_down", "ike_failed",
	"child_up", "child_down", "rekey_collisions", "config_failures",
	"fragments_sent", "fragments_received", "drop_fragment_limit", "fragment_timeouts",
	"cookies_invalid", "cookies_stale", "cookies_replayed", "drop_max_sa",
	"drop_half_open_per_source", "drop_in_negotiation_outgoing",
	"dpd_checks", "dpd_dead_peers",
	"redirects_sent", "redirects_followed", "redirect_bad_nonce", "redirect_loops",
	"cert_rejected", "rekeyed_sa_expired",
}

// String returns the counter's snake_case name, as used in metric names.
func (c Counter) String() string {
	if c >= 0 && c < counterCount {
		return counterNames[c]
	}
	return "unknown"
}

// Stats is a snapshot of the engine's counters, indexed by Counter.
type Stats [counterCount]uint64

// Get returns one counter's value.
func (s Stats) Get(c Counter) uint64 { return s[c] }

// Map returns the counters by name, for JSON and Prometheus exporters.
func (s Stats) Map() map[string]uint64 {
	m := make(map[string]uint64, counterCount)
	for i, v := range s {
		m[counterNames[i]] = v
	}
	return m
}

type counters [counterCount]atomic.Uint64

func (c *counters) inc(k Counter) { c[k].Add(1) }

func (c *counters) snapshot() Stats {
	var s Stats
	for i := range c {
		s[i] = c[i].Load()
	}
	return s
}
