//go:build !linux && !darwin

package layer

import (
	"fmt"
	"io/fs"

	"github.com/gantry-build/gantry/internal/rawfile"
)

// Host files on systems without Unix owners, modes, inodes or device nodes
// (Windows): as in Docker's builds from Windows, files and folders are
// root's and 0755 in the image (--chown and --chmod change that); hard
// links are copies, and an unchanged file is told by size and mtime alone.

// hostMode gives files and folders 0755: Windows keeps no execute bits
// (fs.FileMode reports 0666, or 0444 for read-only files), and a program
// added to an image must run.
func hostMode(m fs.FileMode) fs.FileMode { return m&^fs.ModePerm | 0o755 }

func withOwner(e Entry, fi fs.FileInfo, path string) Entry { return e }

func inodeKey(fi fs.FileInfo) string { return "" }

func statOf(fi fs.FileInfo) fileStat {
	return fileStat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
}

func hostRdev(fi fs.FileInfo, path string) (uint64, error) {
	if fi.Mode()&fs.ModeDevice == 0 {
		return 0, nil
	}
	return 0, fmt.Errorf("%s is a device node, which gantry reads on Linux only", path)
}

func devNumbers(rdev uint64) (major, minor int64) { return 0, 0 }

// hostXattrs: Windows files carry none an image could hold.
func hostXattrs(path string) map[string]string { return nil }

// listedAs: without inodes, the size and time checks (checkStable) are
// what tells a file changed.
func listedAs(st rawfile.Stat_t, e Entry) bool { return true }
