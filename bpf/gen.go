package bpf

// The generated steer_bpfel.go and steer_bpfel.o are committed so that
// building and testing need no clang; `make generate` reproduces them.
//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel steer steer.c -- -I./headers
