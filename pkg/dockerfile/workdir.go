package dockerfile

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
)

// ensureDir makes WORKDIR's directory when the image lacks it, in a layer
// of its own, as BuildKit's llb.Mkdir does: the path is followed through
// the image's symlinks inside the image (a dangling link's target is
// made), and what is made is 0755, owned by the current USER.
func (s *stageState) ensureDir(dir string, cmd instructions.Command) error {
	root, err := s.rootDir()
	if err != nil {
		return err
	}
	real, err := inRoot(root, dir)
	if err != nil {
		return err
	}
	if isDir(real) {
		s.history(cmd)
		return nil
	}
	rel, err := filepath.Rel(root, real)
	if err != nil {
		return err
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if fi, err := os.Lstat(filepath.Join(root, p)); err == nil && !fi.IsDir() {
			return fmt.Errorf("WORKDIR %s: /%s is not a directory in the image", dir, p)
		}
	}
	uid, gid := 0, 0
	if u := s.conf.File.Config.User; u != "" {
		if uid, gid, err = rootfs.LookupUser(root, u, true); err != nil {
			return err
		}
	}
	return s.cachedLayer(fmt.Sprint(cmd), fixedKey(s.stepKey(cmd)), fmt.Sprint(cmd), func() (layer.Built, error) {
		return layer.FromWriter(s.b.ctx, s.b.st, s.b.o.Compression, s.oci(), func(w io.Writer) error {
			tw := tar.NewWriter(w)
			for i := range parts {
				p := strings.Join(parts[:i+1], "/")
				// real has no link on its way: what exists is a directory.
				if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
					continue
				}
				hdr := rootfs.Meta{Name: p, Mode: fs.ModeDir | 0o755, UID: uid, GID: gid, ModTime: s.b.o.Created}.Header()
				if err := tw.WriteHeader(hdr); err != nil {
					return err
				}
			}
			return tw.Close()
		})
	})
}

// dispatchWorkdir sets the working directory and makes it when the image
// lacks it.
func (s *stageState) dispatchWorkdir(in *instructions.WorkdirCommand) error {
	s.conf.File.Config.WorkingDir = s.workdir()
	err := s.conf.Apply(in, nil)
	wd := s.conf.File.Config.WorkingDir
	s.conf.File.Config.WorkingDir = s.osPath(wd)
	if err != nil {
		return err
	}
	return s.ensureDir(wd, in)
}
