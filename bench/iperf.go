package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// parseIperf3 returns the receiver's Mbit/s from iperf3 -J output, or the
// error iperf3 reported.
func parseIperf3(out []byte) (float64, error) {
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, fmt.Errorf("iperf3 output: %w", err)
	}
	if res.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", res.Error)
	}
	bps := res.End.SumReceived.BitsPerSecond
	if bps <= 0 || math.IsNaN(bps) || math.IsInf(bps, 0) {
		return 0, errors.New("iperf3 output has no received throughput")
	}
	return bps / 1e6, nil
}
