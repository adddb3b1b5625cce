package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// COPY of context files that carry xattrs (user.*, security.capability)
// gives what BuildKit v0.34 gives: its context transfer leaves them out, and
// so does gantry (from the context, and through another stage).
func TestCopyXattrsAsBuildKit(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "plain"), []byte("x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "capable"), []byte("#!/bin/sh\n"), 0o755)
	if err := unix.Setxattr(filepath.Join(dir, "plain"), "user.origin", []byte("context"), 0); err != nil {
		t.Fatal(err)
	}
	// cap_net_bind_service=+ep, as setcap writes it (VFS_CAP_REVISION_2).
	capability := []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := unix.Setxattr(filepath.Join(dir, "capable"), "security.capability", capability, 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM $BASE AS first\nCOPY plain capable /ctx/\n"+
		"FROM $BASE\nCOPY --from=first /ctx /from-stage\nCOPY plain /again\n"), 0o644)
	buildBoth(t, e, dir, "copy-xattrs")
}
