// Package atomicfile writes files that appear whole or not at all.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write calls write with a temp file beside path and renames it to path
// only if write succeeded: a failed or killed gantry never leaves half an
// archive under the name the user asked for.
func Write(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
