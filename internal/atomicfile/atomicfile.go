// Package atomicfile writes files that appear whole or not at all.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write calls write with a temp file beside path and renames it to path
// only if write succeeded: a failed or killed gantry never leaves half an
// archive under the name the user asked for.
//
// A path that is (or links to) a device, a FIFO or another special file is
// written through instead, opened for writing without truncation, as
// `docker save -o /dev/null` or `-o >(gzip >x)` expect: renaming over it
// would replace /dev/null with a regular file for the whole machine.
func Write(path string, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory: give a file name", path)
		}
		return writeThrough(path, write)
	}
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

func writeThrough(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
