//go:build !linux && !darwin

package rootfs

import "testing"

// fuzzApplied has no folder of Unix files to apply to here.
func fuzzApplied(t *testing.T, layer []byte, want Meta, body []byte) {}
