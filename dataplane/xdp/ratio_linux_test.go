package xdp

import (
	"slices"
	"testing"
)

func TestPairedRatio(t *testing.T) {
	// Round 2 was slow for both cases: the paired ratio ignores that, the
	// ratio of the medians (300/200 = 1.5) does not.
	a := []float64{400, 100, 300}
	b := []float64{200, 50, 100}
	if got := pairedRatios(a, b); !slices.Equal(got, []float64{2, 2, 3}) {
		t.Errorf("pairedRatios = %v", got)
	}
	if got := pairedRatio(a, b); got != 2 {
		t.Errorf("pairedRatio = %v, want 2", got)
	}
	if got := pairedRatio([]float64{1}, []float64{0}); got != 0 {
		t.Errorf("no usable round: %v, want 0", got)
	}
	if got := pairedRatio([]float64{6, 8}, []float64{2}); got != 3 {
		t.Errorf("unequal lengths: %v, want 3", got)
	}
}
