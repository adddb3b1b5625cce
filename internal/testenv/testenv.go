// Package testenv gives tests a fresh store and a registry client, so that
// packages do not copy the same set-up between their tests.
package testenv

import (
	"testing"

	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/store"
)

// Store is an empty store in a folder the test removes.
func Store(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Client is a registry client with default options (no registry is
// contacted until a test asks).
func Client(t testing.TB) *registry.Client {
	t.Helper()
	rc, err := registry.New(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}
