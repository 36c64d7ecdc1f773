package ike

import (
	"context"
	"fmt"

	"github.com/esphub/esphub/pki"
)

// Settings are the engine options an operator may change while the engine
// runs (a configuration reload). They mean what the Config fields of the
// same names mean; like those, a change affects SAs negotiated afterwards
// (fragmentation is decided in IKE_SA_INIT, a follower's redirect budget
// when it initiates) and the admission checks of later requests.
type Settings struct {
	CookieThreshold          int
	MaxHalfOpen              int
	MaxHalfOpenPerSource     int
	MaxSAs                   int
	MaxInNegotiationOutgoing int
	Fragmentation            bool
	FragmentMTU              int
	FollowRedirects          bool
	MaxRedirects             int
	Trustpoints              []*pki.Trustpoint
}

// SettingsOf returns the reconfigurable part of cfg.
func SettingsOf(cfg Config) Settings {
	return Settings{
		CookieThreshold: cfg.CookieThreshold, MaxHalfOpen: cfg.MaxHalfOpen,
		MaxHalfOpenPerSource: cfg.MaxHalfOpenPerSource, MaxSAs: cfg.MaxSAs,
		MaxInNegotiationOutgoing: cfg.MaxInNegotiationOutgoing,
		Fragmentation:            cfg.Fragmentation, FragmentMTU: cfg.FragmentMTU,
		FollowRedirects: cfg.FollowRedirects, MaxRedirects: cfg.MaxRedirects,
		Trustpoints: cfg.Trustpoints,
	}
}

// Apply copies s into cfg.
func (s Settings) Apply(cfg *Config) {
	cfg.CookieThreshold, cfg.MaxHalfOpen, cfg.MaxHalfOpenPerSource = s.CookieThreshold, s.MaxHalfOpen, s.MaxHalfOpenPerSource
	cfg.MaxSAs, cfg.MaxInNegotiationOutgoing = s.MaxSAs, s.MaxInNegotiationOutgoing
	cfg.Fragmentation, cfg.FragmentMTU = s.Fragmentation, s.FragmentMTU
	cfg.FollowRedirects, cfg.MaxRedirects = s.FollowRedirects, s.MaxRedirects
	cfg.Trustpoints = s.Trustpoints
}

// Reconfigure replaces the engine's Settings, as a configuration reload
// does. Established and half-open SAs keep what they negotiated. It fails
// without changing anything when a value is out of range, and waits until
// the engine goroutine took the change (so Run must be running).
func (e *Engine) Reconfigure(ctx context.Context, s Settings) error {
	if s.FragmentMTU != 0 && (s.FragmentMTU < 68 || s.FragmentMTU > 65535) {
		return fmt.Errorf("ike: fragmentation MTU %d out of range 68-65535", s.FragmentMTU)
	}
	return e.call(ctx, func() { s.Apply(&e.cfg) })
}

// Settings returns the engine's current Settings.
func (e *Engine) Settings(ctx context.Context) (Settings, error) {
	var s Settings
	err := e.call(ctx, func() { s = SettingsOf(e.cfg) })
	return s, err
}
