//go:build !linux

package main

import (
	"context"
	"errors"
	"io"
	"os"
)

func serve(ctx context.Context, o options, hup <-chan os.Signal, stderr io.Writer) error {
	return errors.New("esphubd runs on Linux only")
}
