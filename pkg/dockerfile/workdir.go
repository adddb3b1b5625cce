package dockerfile

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/layer"
)

// ensureDir makes WORKDIR's directory when the image lacks it, in a layer
// of its own, as BuildKit does.
func (s *stageState) ensureDir(dir string, cmd instructions.Command) error {
	root, err := s.rootDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
		s.history(cmd)
		return nil
	}
	return s.cachedLayer(fmt.Sprint(cmd), fixedKey(s.stepKey(cmd)), fmt.Sprint(cmd), func() (layer.Built, error) {
		return layer.FromWriter(s.b.ctx, s.b.st, s.b.o.Compression, s.oci(), func(w io.Writer) error {
			tw := tar.NewWriter(w)
			parts := strings.Split(strings.Trim(dir, "/"), "/")
			for i := range parts {
				p := strings.Join(parts[:i+1], "/")
				if _, err := os.Stat(filepath.Join(root, p)); err == nil && i < len(parts)-1 {
					continue
				}
				if err := tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: s.b.o.Created}); err != nil {
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
	if err := s.conf.Apply(in, nil); err != nil {
		return err
	}
	return s.ensureDir(s.conf.File.Config.WorkingDir, in)
}
