package archive

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
)

// dirSource serves an unpacked archive (an OCI layout directory, or an
// extracted docker-save tar). os.Root keeps every link inside the directory.
type dirSource struct {
	root *os.Root
}

func (d *dirSource) open(name string) (*file, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	if clean == "" {
		return nil, fmt.Errorf("%q is not a regular file", name)
	}
	f, err := d.root.Open(clean)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("%q: %w", name, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%q is not a regular file", name)
	}
	return &file{SectionReader: io.NewSectionReader(f, 0, st.Size()), name: clean, closer: f}, nil
}

func (d *dirSource) topDirs() []string {
	ents, err := fs.ReadDir(d.root.FS(), ".")
	if err != nil {
		return nil
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	return dirs
}

func (d *dirSource) complete() bool { return true }
