//go:build windows

package rawfile

import (
	"errors"
	"io/fs"
	"os"
)

// File is an open file. On Windows it is an *os.File: rawfile.go's system
// calls are Unix's, and what they save (the poller's set-up per file) is a
// cost of Linux's.
type File struct{ f *os.File }

// Open opens path for reading.
func Open(path string) (File, error) {
	f, err := os.Open(path)
	return File{f}, err
}

// OpenNoFollow is Open on Windows: links are followed.
func OpenNoFollow(path string) (File, error) { return Open(path) }

// OpenNoLinks is Open on Windows: links on the way are followed.
func OpenNoLinks(path string) (File, error) { return Open(path) }

// ErrLinkOnPath is OpenNoLinks's refusal elsewhere; Windows never gives it.
var ErrLinkOnPath = errors.New("a link is on the path")

// CreateNew creates path, which must not exist (fs.ErrExist otherwise),
// for writing.
func CreateNew(path string, perm uint32) (File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fs.FileMode(perm)&fs.ModePerm)
	return File{f}, err
}

func (f File) Read(p []byte) (int, error)  { return f.f.Read(p) }
func (f File) Write(p []byte) (int, error) { return f.f.Write(p) }

// Chmod sets the mode bits that Windows keeps (read-only or not).
func (f File) Chmod(mode uint32) error { return f.f.Chmod(fs.FileMode(mode) & fs.ModePerm) }

// Stat_t is the part of unix.Stat_t that Windows has: callers read the
// same fields on every system.
type Stat_t struct {
	Size int64
	Mtim Timespec
}

// Timespec is a modification time, as unix.Timespec.
type Timespec struct{ Sec, Nsec int64 }

// Unix returns the time as seconds and nanoseconds since the epoch.
func (t Timespec) Unix() (sec, nsec int64) { return t.Sec, t.Nsec }

// Nano returns the time as nanoseconds since the epoch.
func (t Timespec) Nano() int64 { return t.Sec*1e9 + t.Nsec }

// Stat describes the open file.
func (f File) Stat() (Stat_t, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return Stat_t{}, err
	}
	ns := fi.ModTime().UnixNano()
	return Stat_t{Size: fi.Size(), Mtim: Timespec{ns / 1e9, ns % 1e9}}, nil
}

func (f File) Close() error { return f.f.Close() }
