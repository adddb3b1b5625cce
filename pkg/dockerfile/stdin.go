package dockerfile

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/gantry-build/gantry/pkg/rootfs"
)

// StdinInputs turns docker build's standard-input forms into files under
// dir: with dockerfile "-" the Dockerfile is r and the context a folder as
// usual (docker build -f- .); with contextDir "-", r is a context tar
// (plain or compressed, its Dockerfile inside) or else a Dockerfile with an
// empty context (docker build - < Dockerfile). It returns the context and
// Dockerfile to build.
func StdinInputs(r io.Reader, contextDir, dockerfile, dir string) (string, string, error) {
	switch {
	case contextDir == "-" && dockerfile == "-":
		return "", "", errors.New("only one of CONTEXT and -f can be - (standard input)")
	case dockerfile == "-":
		p := filepath.Join(dir, "Dockerfile")
		return contextDir, p, writeFrom(p, r)
	case contextDir != "-":
		return contextDir, dockerfile, nil
	}
	ctxDir := filepath.Join(dir, "context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return "", "", err
	}
	in, err := decompress(r)
	if err != nil {
		return "", "", err
	}
	br := bufio.NewReaderSize(in, 1024)
	head, _ := br.Peek(512)
	if len(head) == 512 && bytes.Equal(head[257:262], []byte("ustar")) {
		// Entries that would leave the folder fail, as in any layer; only
		// files, folders and links are made, owned by the caller.
		if err := rootfs.Apply(ctxDir, plainFiles(br)); err != nil {
			return "", "", err
		}
		if dockerfile == "" {
			dockerfile = filepath.Join(ctxDir, "Dockerfile")
		} else if !filepath.IsAbs(dockerfile) {
			dockerfile = filepath.Join(ctxDir, dockerfile) // -f names a file of the tar
		}
		return ctxDir, dockerfile, nil
	}
	p := filepath.Join(dir, "Dockerfile")
	return ctxDir, p, writeFrom(p, br)
}

// plainFiles rewrites a context tar as one rootfs.Apply unpacks without
// privileges: regular files, folders and links only (a hostile tar's device
// nodes are dropped), no owners, no xattrs.
func plainFiles(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(r)
		tw := tar.NewWriter(pw)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			switch h.Typeflag {
			case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
			default:
				continue
			}
			clean := &tar.Header{Typeflag: h.Typeflag, Name: h.Name, Linkname: h.Linkname, Size: h.Size, Mode: h.Mode & 0o777, ModTime: h.ModTime, Format: tar.FormatPAX}
			if err := tw.WriteHeader(clean); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

func writeFrom(p string, r io.Reader) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
