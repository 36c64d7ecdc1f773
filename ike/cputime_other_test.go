//go:build !unix

package ike

import "time"

func processCPU() time.Duration { return 0 }
