//go:build linux

// Package treetest makes folders holding every kind of entry an image
// layer can carry, and compares two folders entry by entry: the fixture of
// the tar codec's round-trip tests (pkg/rootfs, pkg/layer).
package treetest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Root reports whether the tree may hold what only root makes: device
// nodes, other owners, security.capability.
func Root() bool { return os.Geteuid() == 0 }

// Capability is a security.capability value (VFS_CAP_REVISION_2,
// effective, cap_net_raw permitted), as setcap cap_net_raw+ep writes it.
var Capability = string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

// LongDir is a folder name that makes the paths below it longer than a
// ustar header's 100 bytes.
var LongDir = strings.Repeat("long-directory-name-", 6)

// Make fills dir with one entry of every kind, each with a fixed mtime
// that has nanoseconds (folders' set last), so two calls give equal trees.
func Make(t testing.TB, dir string) {
	t.Helper()
	f := &maker{t: t, root: dir}
	f.file("empty", "", 0o644)
	f.file("setuid", "#!/bin/sh\n", 0o4755)
	f.file("setgid", "g", 0o2711)
	f.file("sticky", "s", 0o1644)
	f.file("mode-zero", "0", 0)
	f.file("mode-odd", "odd", 0o517)
	f.dir("dir-odd", 0o705)
	f.file("dir-odd/inside", "in", 0o600)
	f.dir("dir-sticky", 0o1777)
	f.dir("dir-setgid", 0o2775)
	f.dir("dir-zero", 0)
	f.dir("dir-empty", 0o755)
	f.symlink("link-relative", "dir-odd/inside")
	f.symlink("link-absolute", "/etc/passwd")
	f.symlink("link-dangling", "nowhere/at/all")
	f.file("hard-a", "shared inode", 0o640)
	f.link("hard-a", "hard-b")
	f.link("hard-a", "dir-odd/hard-c")
	f.fifo("fifo", 0o620)
	f.dir(LongDir, 0o755)
	f.file(LongDir+"/"+strings.Repeat("f", 150), "long", 0o644)
	f.file("ünïcødé name ☃ with spaces.txt", "unicode", 0o644)
	f.file("sparse", "", 0o644)
	f.grow("sparse", 8<<20)
	f.file("xattr-user", "x", 0o644)
	f.xattr("xattr-user", "user.gantry.test", "a value")
	f.xattr("xattr-user", "user.empty", "")
	f.dir("dir-xattr", 0o755)
	f.xattr("dir-xattr", "user.dir", "d")
	if Root() {
		f.device("char-null", unix.S_IFCHR, 1, 3, 0o666)
		f.device("block-loop", unix.S_IFBLK, 7, 0, 0o660)
		f.file("capable", "ping", 0o755)
		f.xattr("capable", "security.capability", Capability)
		f.file("owned", "o", 0o4750)
		f.chown("owned", 1000, 1001)
		f.dir("dir-owned", 0o750)
		f.chown("dir-owned", 0, 1234)
		f.symlink("link-owned", "owned")
		f.chown("link-owned", 2000, 2001)
	}
	f.times()
}

type maker struct {
	t    testing.TB
	root string
	made []string
}

func (f *maker) p(name string) string { return filepath.Join(f.root, name) }

func (f *maker) check(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *maker) file(name, body string, mode os.FileMode) {
	f.t.Helper()
	f.check(os.WriteFile(f.p(name), []byte(body), 0o600))
	f.check(unix.Chmod(f.p(name), uint32(mode)))
	f.made = append(f.made, name)
}

func (f *maker) grow(name string, size int64) {
	f.t.Helper()
	// A hole, then one block of data at the end.
	w, err := os.OpenFile(f.p(name), os.O_WRONLY, 0)
	f.check(err)
	_, err = w.WriteAt([]byte("end of a sparse file\n"), size-21)
	f.check(err)
	f.check(w.Close())
}

func (f *maker) dir(name string, mode os.FileMode) {
	f.t.Helper()
	f.check(os.Mkdir(f.p(name), 0o755))
	f.check(unix.Chmod(f.p(name), uint32(mode)))
	f.made = append(f.made, name)
}

func (f *maker) symlink(name, to string) {
	f.t.Helper()
	f.check(os.Symlink(to, f.p(name)))
	f.made = append(f.made, name)
}

func (f *maker) link(from, name string) {
	f.t.Helper()
	f.check(os.Link(f.p(from), f.p(name)))
}

func (f *maker) fifo(name string, mode uint32) {
	f.t.Helper()
	f.check(unix.Mkfifo(f.p(name), mode))
	f.check(unix.Chmod(f.p(name), mode))
	f.made = append(f.made, name)
}

func (f *maker) device(name string, kind uint32, major, minor uint32, mode uint32) {
	f.t.Helper()
	f.check(unix.Mknod(f.p(name), kind|mode, int(unix.Mkdev(major, minor))))
	f.check(unix.Chmod(f.p(name), mode))
	f.made = append(f.made, name)
}

func (f *maker) xattr(name, key, value string) {
	f.t.Helper()
	f.check(unix.Lsetxattr(f.p(name), key, []byte(value), 0))
}

func (f *maker) chown(name string, uid, gid int) {
	f.t.Helper()
	fi, err := os.Lstat(f.p(name))
	f.check(err)
	f.check(os.Lchown(f.p(name), uid, gid))
	if fi.Mode()&fs.ModeSymlink == 0 {
		// chown clears setuid and setgid: put them back.
		f.check(unix.Chmod(f.p(name), uint32(fi.Mode().Perm())|special(fi.Mode())))
	}
}

// times gives every entry its own mtime with nanoseconds, deepest first so
// that a folder's is not moved by what is made in it afterwards.
func (f *maker) times() {
	f.t.Helper()
	names := append([]string{}, f.made...)
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for i, name := range names {
		ts := unix.NsecToTimespec(time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC).Add(time.Duration(i)*time.Hour + 123456789).UnixNano())
		f.check(unix.UtimesNanoAt(unix.AT_FDCWD, f.p(name), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
	}
}

func special(m fs.FileMode) uint32 {
	var b uint32
	if m&fs.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

// Options say what Describe leaves out: what a layer writer does not
// promise to keep.
type Options struct {
	NoMtime     bool // the writer sets its own times
	NoDirMtime  bool // folders' times are not kept
	NoXattrs    bool
	NoOwners    bool // every entry is root's
	NoDevices   bool // device nodes are not made (rootless Apply)
	SkipEntries []string
}

// Describe is one line per entry below dir, sorted: type and mode bits,
// owner, size, content hash, link target, device number, xattrs, mtime, and
// which entries share an inode. Two trees are equal for a writer when
// their descriptions are.
func Describe(t testing.TB, dir string, o Options) []string {
	t.Helper()
	var lines []string
	inodes := map[uint64]string{}
	skip := map[string]bool{}
	for _, s := range o.SkipEntries {
		skip[s] = true
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || skip[rel] {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if o.NoDevices && fi.Mode()&fs.ModeDevice != 0 {
			return nil
		}
		line := fmt.Sprintf("%q %v", rel, fi.Mode())
		if !o.NoOwners {
			line += fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
		}
		switch {
		case fi.Mode().IsRegular():
			sum, err := hashFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" size=%d sha256=%x", fi.Size(), sum)
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					line += " same-inode-as=" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + l
		case fi.Mode()&fs.ModeDevice != 0:
			line += fmt.Sprintf(" dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if !o.NoXattrs {
			line += " xattrs=" + xattrs(t, p)
		}
		if !o.NoMtime && !(o.NoDirMtime && fi.IsDir()) {
			line += " mtime=" + fi.ModTime().UTC().Format(time.RFC3339Nano)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

// Equal fails t with the lines that differ between want and got.
func Equal(t testing.TB, want, got []string) {
	t.Helper()
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	for _, l := range got {
		g[l] = true
	}
	var diff []string
	for _, l := range want {
		if !g[l] {
			diff = append(diff, "- "+l)
		}
	}
	for _, l := range got {
		if !w[l] {
			diff = append(diff, "+ "+l)
		}
	}
	if len(diff) > 0 {
		t.Errorf("the trees differ (- want, + got):\n%s", strings.Join(diff, "\n"))
	}
}

func hashFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	return h.Sum(nil), err
}

// xattrs lists p's xattrs as name=value, sorted, leaving out the
// bookkeeping of overlayfs and of rootless gantry.
func xattrs(t testing.TB, p string) string {
	n, err := unix.Llistxattr(p, nil)
	if err != nil || n == 0 {
		return ""
	}
	buf := make([]byte, n)
	n, err = unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") || name == "user.gantry.owner" {
			continue
		}
		m, _ := unix.Lgetxattr(p, name, nil)
		val := make([]byte, m)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			t.Fatalf("xattr %s of %s: %v", name, p, err)
		}
		out = append(out, fmt.Sprintf("%s=%q", name, val[:m]))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
