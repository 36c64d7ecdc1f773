package ike

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// Denial-of-service protection for IKE_SA_INIT (RFC 7296 §2.6, RFC 8019):
// stateless cookies once the half-open SAs pass Config.CookieThreshold, with
// a secret that rotates every CookieSecretLifetime (the previous secret
// stays valid for one more period so that a challenge issued just before a
// rotation still works), and call admission control: MaxSAs, MaxHalfOpen
// (incoming in-negotiation SAs), MaxHalfOpenPerSource and
// MaxInNegotiationOutgoing. Requests beyond a limit are dropped unanswered
// and counted: an answer would cost the same as the state it saves and
// could be reflected at a spoofed source.

// DefaultCookieSecretLifetime is how long one cookie secret is issued.
const DefaultCookieSecretLifetime = 2 * time.Minute

// ErrAdmission is returned by Initiate when call admission control refuses
// a new IKE SA (Config.MaxSAs or MaxInNegotiationOutgoing).
var ErrAdmission = errors.New("call admission control refused a new IKE SA")

// cookieLen is a cookie's size: a version byte and a 16-byte truncated HMAC.
const cookieLen = 17

// maxUsedCookies bounds the memory spent remembering accepted cookies; when
// it is reached the secret rotates early, which forgets half of them.
const maxUsedCookies = 1 << 15

// cookieJar holds the rotating cookie secrets and the cookies accepted
// under them. Owned by the Run goroutine.
type cookieJar struct {
	cur, prev         [32]byte
	version           byte
	havePrev          bool
	rotated           time.Time
	usedCur, usedPrev map[[cookieLen]byte]struct{}
}

// initCookies draws the first secret.
func (e *Engine) initCookies() error {
	if _, err := io.ReadFull(e.rand, e.cookies.cur[:]); err != nil {
		return fmt.Errorf("ike: cookie secret: %w", err)
	}
	e.cookies.rotated = e.clock.Now()
	e.cookies.usedCur = make(map[[cookieLen]byte]struct{})
	return nil
}

// rotateCookies makes the current secret the previous one and draws a new
// one, when its lifetime is over (or force).
func (e *Engine) rotateCookies(force bool) {
	j := &e.cookies
	now := e.clock.Now()
	age := now.Sub(j.rotated)
	if !force && age < e.cfg.CookieSecretLifetime {
		return
	}
	var next [32]byte
	if _, err := io.ReadFull(e.rand, next[:]); err != nil {
		return // keep the old secret rather than lose cookies
	}
	j.prev, j.usedPrev, j.havePrev = j.cur, j.usedCur, true
	if !force && age >= 2*e.cfg.CookieSecretLifetime {
		j.havePrev, j.usedPrev = false, nil // both secrets are out of date
	}
	j.cur, j.usedCur = next, make(map[[cookieLen]byte]struct{})
	j.version++
	j.rotated = now
}

// cookieFor computes the COOKIE of RFC 7296 §2.6 under one secret:
// <version> | HMAC-SHA256(secret, Ni | IPi | SPIi) truncated to 16 bytes.
func cookieFor(secret *[32]byte, version byte, ni []byte, remote netip.AddrPort, spii uint64) [cookieLen]byte {
	mac := hmac.New(sha256.New, secret[:])
	mac.Write(ni)
	mac.Write(remote.Addr().Unmap().AsSlice())
	var spi [8]byte
	binary.BigEndian.PutUint64(spi[:], spii)
	mac.Write(spi[:])
	var c [cookieLen]byte
	c[0] = version
	var sum [sha256.Size]byte
	copy(c[1:], mac.Sum(sum[:0]))
	return c
}

// cookie returns the cookie to challenge this IKE_SA_INIT with.
func (e *Engine) cookie(ni []byte, remote netip.AddrPort, spii uint64) []byte {
	c := cookieFor(&e.cookies.cur, e.cookies.version, ni, remote, spii)
	return c[:]
}

// cookieVerdict is the outcome of checking a request's cookie.
type cookieVerdict int

const (
	cookieOK       cookieVerdict = iota
	cookieMissing                // no COOKIE notify first: challenge
	cookieInvalid                // wrong MAC: challenge again
	cookieStale                  // from a retired secret: challenge again
	cookieReplayed               // already accepted once: drop
)

// checkCookie verifies the COOKIE notify that must come first in m and, when
// it is good, remembers it so that a replay of the same request (after its
// half-open SA is gone) cannot create state again.
func (e *Engine) checkCookie(m *inMessage, ni []byte, spii uint64) cookieVerdict {
	if len(m.payloads) == 0 {
		return cookieMissing
	}
	n, ok := m.payloads[0].(*wire.Notify)
	if !ok || n.NotifyType != wire.NotifyCookie {
		return cookieMissing
	}
	if len(n.Data) != cookieLen {
		return cookieInvalid
	}
	j := &e.cookies
	var secret *[32]byte
	used := j.usedCur
	switch v := n.Data[0]; {
	case v == j.version:
		secret = &j.cur
	case j.havePrev && v == j.version-1:
		secret, used = &j.prev, j.usedPrev
	default:
		return cookieStale
	}
	want := cookieFor(secret, n.Data[0], ni, m.remote, spii)
	if !hmac.Equal(n.Data, want[:]) {
		return cookieInvalid
	}
	if _, dup := used[want]; dup {
		return cookieReplayed
	}
	used[want] = struct{}{}
	if len(j.usedCur)+len(j.usedPrev) >= maxUsedCookies {
		e.rotateCookies(true)
	}
	return cookieOK
}

// admitInit applies call admission control and the cookie exchange to an
// IKE_SA_INIT request that would create a half-open SA. It answers with a
// cookie challenge where needed and reports whether to go on.
func (e *Engine) admitInit(p transport.Packet, m *inMessage, ni []byte, spii uint64) bool {
	if e.cfg.MaxSAs > 0 && len(e.sas) >= e.cfg.MaxSAs {
		e.stats.inc(CounterDropMaxSA)
		return false
	}
	if e.cfg.MaxHalfOpen > 0 && e.halfOpenCount() >= e.cfg.MaxHalfOpen {
		e.stats.inc(CounterDropHalfOpenLimit)
		return false
	}
	e.rotateCookies(false)
	if t := e.cfg.CookieThreshold; t < 0 || t > 0 && e.halfOpenCount() >= t {
		switch v := e.checkCookie(m, ni, spii); v {
		case cookieOK:
		case cookieReplayed:
			e.stats.inc(CounterCookiesReplayed)
			return false
		default:
			switch v {
			case cookieStale:
				e.stats.inc(CounterCookiesStale)
			case cookieInvalid:
				e.stats.inc(CounterCookiesInvalid)
			}
			e.stats.inc(CounterCookiesSent)
			e.initError(p, spii, notify(wire.NotifyCookie, e.cookie(ni, p.Remote, spii)))
			return false
		}
	}
	// The per-source cap comes after the cookie, which proves the source
	// address: a spoofer cannot use up a real peer's share.
	if lim := e.cfg.MaxHalfOpenPerSource; lim > 0 && e.halfOpenBySource[p.Remote.Addr()] >= lim {
		e.stats.inc(CounterDropHalfOpenPerSource)
		return false
	}
	return true
}

// enterHalfOpen and leaveHalfOpen keep the half-open counts, in total and
// per source address.
func (e *Engine) enterHalfOpen(sa *ikeSA) {
	e.halfOpenN++
	if e.halfOpenBySource == nil {
		e.halfOpenBySource = make(map[netip.Addr]int)
	}
	e.halfOpenBySource[sa.initKey.remote.Addr()]++
}

func (e *Engine) leaveHalfOpen(sa *ikeSA) {
	e.halfOpenN--
	a := sa.initKey.remote.Addr()
	if n := e.halfOpenBySource[a]; n > 1 {
		e.halfOpenBySource[a] = n - 1
	} else {
		delete(e.halfOpenBySource, a)
	}
}

// admitOutgoing applies call admission control to an SA we initiate.
func (e *Engine) admitOutgoing() error {
	if e.cfg.MaxSAs > 0 && len(e.sas) >= e.cfg.MaxSAs {
		e.stats.inc(CounterDropMaxSA)
		return ErrAdmission
	}
	if lim := e.cfg.MaxInNegotiationOutgoing; lim > 0 {
		if e.idx.outgoingN >= lim {
			e.stats.inc(CounterDropInNegotiationOutgoing)
			return ErrAdmission
		}
	}
	return nil
}
