package pki

import "time"

// IKELifetime bounds an IKE SA's lifetime by the peer's certificate, as
// IOS does unless the profile says `no lifetime certificate`: the SA is
// not to outlive the earliest expiry along the peer's chain (rekeying
// does not re-validate the certificate, so expiry must end the SA).
// configured is the profile's lifetime; the result is never negative.
// With certLifetime false, or no certificate, it returns configured.
func IKELifetime(configured time.Duration, now time.Time, pc *PeerCertificate, certLifetime bool) time.Duration {
	if !certLifetime || pc == nil || pc.NotAfter.IsZero() {
		return configured
	}
	left := pc.NotAfter.Sub(now)
	if left < 0 {
		left = 0
	}
	return min(configured, left)
}
