package config

import "testing"

// checkRoundTrip asserts parse(render(cfg)) == cfg.
func checkRoundTrip(t *testing.T, cfg *Config) {
	t.Helper()
}
