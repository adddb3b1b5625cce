package rootfs

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// Meta is a file's metadata as an image layer holds it. It is the one
// codec between files and tar headers: layer generation (pkg/layer),
// changesets (WriteChanges, WriteSnapshotChanges) and gantry diff read and
// write headers through it, and Apply makes files from it, so that what one
// writes the other reads back whole.
type Meta struct {
	// Name is the path in the layer: slash-separated, without a leading
	// slash; a directory's has no trailing slash (Header adds it).
	Name string
	// Mode holds the type (fs.ModeDir, fs.ModeSymlink, fs.ModeDevice,
	// fs.ModeCharDevice, fs.ModeNamedPipe; none for a regular file or a
	// hard link), the permission bits and setuid, setgid and sticky.
	Mode fs.FileMode
	// UID and GID are numeric: layers carry no user or group names.
	UID, GID int
	Size     int64  // a regular file's; 0 for everything else
	Link     string // a symlink's target, or the Name a hard link shares
	HardLink bool
	// Devmajor and Devminor number a device node.
	Devmajor, Devminor int64
	ModTime            time.Time
	// Xattrs are the file's extended attributes (security.capability,
	// user.*), carried as PAX SCHILY.xattr.NAME records.
	Xattrs map[string]string
}

// xattrRecord prefixes an xattr's name in a PAX record, as GNU tar,
// Docker and BuildKit write them.
const xattrRecord = "SCHILY.xattr."

// Header is m as a tar header, as Docker writes a layer's: PAX (exact long
// names, nanosecond mtimes, xattrs; plain ustar bytes when none is needed),
// directories named with a trailing "/", numeric owners without names,
// no access or change times.
func (m Meta) Header() *tar.Header {
	h := &tar.Header{
		Name:    m.Name,
		Mode:    UnixMode(m.Mode),
		Uid:     m.UID,
		Gid:     m.GID,
		ModTime: m.ModTime,
		Format:  tar.FormatPAX,
	}
	switch {
	case m.Mode.IsDir():
		h.Typeflag, h.Name = tar.TypeDir, m.Name+"/"
	case m.Mode&fs.ModeSymlink != 0:
		h.Typeflag, h.Linkname = tar.TypeSymlink, m.Link
	case m.HardLink:
		h.Typeflag, h.Linkname = tar.TypeLink, m.Link
	case m.Mode&fs.ModeNamedPipe != 0:
		h.Typeflag = tar.TypeFifo
	case m.Mode&fs.ModeDevice != 0:
		h.Typeflag = tar.TypeBlock
		if m.Mode&fs.ModeCharDevice != 0 {
			h.Typeflag = tar.TypeChar
		}
		h.Devmajor, h.Devminor = m.Devmajor, m.Devminor
	default:
		h.Typeflag, h.Size = tar.TypeReg, m.Size
	}
	for k, v := range m.Xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = make(map[string]string, len(m.Xattrs))
		}
		h.PAXRecords[xattrRecord+k] = v
	}
	return h
}

// MetaOf reads a layer's header back: the inverse of Header. ok is false
// for entries that are no file (PAX globals and other extensions), which
// carry nothing to make.
func MetaOf(h *tar.Header) (m Meta, ok bool) {
	m = Meta{
		Name:    strings.TrimSuffix(h.Name, "/"),
		Mode:    ModeFromUnix(h.Mode),
		UID:     h.Uid,
		GID:     h.Gid,
		ModTime: h.ModTime,
	}
	switch h.Typeflag {
	case tar.TypeReg: // archive/tar reports old-style regular files (TypeRegA) as TypeReg
		m.Size = h.Size
	case tar.TypeDir:
		m.Mode |= fs.ModeDir
	case tar.TypeSymlink:
		m.Mode |= fs.ModeSymlink
		m.Link = h.Linkname
	case tar.TypeLink:
		m.HardLink, m.Link = true, h.Linkname
	case tar.TypeFifo:
		m.Mode |= fs.ModeNamedPipe
	case tar.TypeChar, tar.TypeBlock:
		m.Mode |= fs.ModeDevice
		if h.Typeflag == tar.TypeChar {
			m.Mode |= fs.ModeCharDevice
		}
		m.Devmajor, m.Devminor = h.Devmajor, h.Devminor
	default:
		return m, false
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, xattrRecord); ok {
			if m.Xattrs == nil {
				m.Xattrs = map[string]string{}
			}
			m.Xattrs[name] = v
		}
	}
	return m, true
}

// MetaFromInfo is the metadata of the file whose Lstat is fi, named name in
// the layer; link is its symlink target (the caller reads it). Owners and
// device numbers come from the system's stat where it has them; xattrs are
// the caller's to read (ReadXattrs) when its layers carry them, and hard
// links its to find (HardLinks).
func MetaFromInfo(fi fs.FileInfo, name, link string) (Meta, error) {
	mode := fi.Mode()
	m := Meta{Name: name, Mode: mode & (fs.ModeType | permBits), ModTime: fi.ModTime()}
	switch {
	case mode.IsRegular():
		m.Size = fi.Size()
	case mode&fs.ModeSymlink != 0:
		m.Link = link
	case mode.IsDir(), mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
	default:
		// Docker's tar writer refuses them too (a socket lives only as
		// long as the process that listens on it).
		return m, fmt.Errorf("%s is a %s, which a layer cannot hold", name, mode.Type())
	}
	statMeta(fi, &m)
	return m, nil
}

// permBits are the mode bits a layer keeps besides the type.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
