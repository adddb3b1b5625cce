package layer

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/gantry-build/gantry/internal/rawfile"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// Write writes entries as a tar stream: every entry owned by o.UID:o.GID,
// dated o.Time. A file whose size or mtime changes while it is read fails
// the layer: its digest would not describe what the image holds.
func Write(w io.Writer, entries []Entry, o Options) error {
	return write(w, entries, o, nil)
}

// WriteEntries writes entries into tw, which the caller closes (to add
// more to the same layer).
func WriteEntries(tw *tar.Writer, entries []Entry, o Options) error {
	for _, e := range entries {
		if err := writeEntry(tw, e, o, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// write is Write that also records each regular file's sha256 in sums
// (when not nil), hashing the bytes as they go into the tar.
func write(w io.Writer, entries []Entry, o Options, sums [][]byte) error {
	tw := tar.NewWriter(w)
	ahead := startReadAhead(entries, sums != nil)
	defer ahead.stop()
	for i, e := range entries {
		var sum *[]byte
		if sums != nil {
			sum = &sums[i]
		}
		read := ahead.take(i)
		err := writeEntry(tw, e, o, sum, read)
		ahead.recycle(read)
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// writeEntry writes e into tw: its content from read when it was read
// ahead (nil: from its file).
func writeEntry(tw *tar.Writer, e Entry, o Options, sum *[]byte, read *fileRead) error {
	m := rootfs.Meta{Name: e.Name, Mode: e.Mode, Size: e.Size, Link: e.Link, HardLink: e.HardLink, ModTime: o.Time, Xattrs: e.xattrs}
	m.UID, m.GID = e.owner(o)
	if m.Mode&fs.ModeDevice != 0 {
		m.Devmajor, m.Devminor = devNumbers(e.rdev)
	}
	// PAX keeps long names exact; with no records it is plain ustar, and
	// zero access/change times keep it free of host time.
	hdr := m.Header()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("layer: %s: %w", e.Name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	if read != nil {
		if read.err != nil {
			return read.err
		}
		if sum != nil {
			*sum = read.sum
		}
		_, err := tw.Write(read.data)
		return err
	}
	if sum == nil {
		return copyFile(tw, e)
	}
	h := sha256.New()
	if err := copyFile(io.MultiWriter(tw, h), e); err != nil {
		return err
	}
	*sum = h.Sum(nil)
	return nil
}

func copyFile(w io.Writer, e Entry) error {
	f, err := openListed(e)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(w, io.LimitReader(f, e.Size), *buf)
	if err != nil {
		return fmt.Errorf("layer: reading %s: %w", e.Source, err)
	}
	return checkStable(f, e, n)
}

// copyBuffers are copyFile's: a buffer per large file (io.Copy's 32 KiB)
// was garbage, and read four times as many system calls.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// openListed opens the file e was listed from by a path with no link in
// it (Collect resolved them all): a link put on the way since, to a host
// secret or a device, is not followed, and a FIFO put there is not waited
// on. checkStable then tells whether what was read is the file listed.
func openListed(e Entry) (rawfile.File, error) {
	f, err := rawfile.OpenNoLinks(e.Source)
	if errors.Is(err, rawfile.ErrLinkOnPath) {
		return f, fmt.Errorf("layer: %s changed while it was being read (a link is now on its path); build again when it is stable", e.Source)
	}
	if err != nil {
		return f, fmt.Errorf("layer: %w", err)
	}
	return f, nil
}

// checkStable fails when the file f (e's, n bytes read) is not what was
// listed: its digest would not describe what the image holds.
func checkStable(f rawfile.File, e Entry, n int64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("layer: %s: %w", e.Source, err)
	}
	if n != e.Size || st.Size != e.Size || st.Mtim.Nano() != e.stat.Mtime || !listedAs(st, e) {
		return fmt.Errorf("layer: %s changed while it was being read; build again when it is stable", e.Source)
	}
	return nil
}

// Epoch is the time written into layers and configs unless told otherwise:
// SOURCE_DATE_EPOCH when set, else the Unix epoch.
func Epoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	var sec int64
	if _, err := fmt.Sscanf(s, "%d", &sec); err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}
