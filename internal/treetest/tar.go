package treetest

import (
	"archive/tar"
	"io"
	"testing"
)

// EachInTar calls fn with each header of the tar r and its content.
func EachInTar(t testing.TB, r io.Reader, fn func(h *tar.Header, content []byte)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(h, content)
	}
}
