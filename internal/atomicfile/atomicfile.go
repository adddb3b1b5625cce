// Package atomicfile writes files that appear whole or not at all.
package atomicfile

import (
	"fmt"
	"io"
	"math/rand/v2"
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
	f, err := createTemp(path)
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

// createTemp makes a new file beside path, with the mode a shell
// redirection or `docker save -o` gives the file: path's own when it
// exists, else 0666 less the umask (the kernel applies it), where
// os.CreateTemp would give 0600 and an archive no one else could read.
func createTemp(path string) (*os.File, error) {
	perm := os.FileMode(0o666)
	existing, statErr := os.Stat(path)
	for i := 0; ; i++ {
		name := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d-%d", filepath.Base(path), os.Getpid(), rand.Uint32()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if os.IsExist(err) && i < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if statErr == nil {
			if err := f.Chmod(existing.Mode().Perm()); err != nil {
				f.Close()
				os.Remove(name)
				return nil, err
			}
		}
		return f, nil
	}
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
