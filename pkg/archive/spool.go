package archive

import (
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// spooled is a compressed layer being decompressed to a temp file ahead of
// its turn in the tar: a tar header needs the size first, and decompressing
// the layers of an image one after another would leave all cores but one idle.
type spooled struct {
	done chan struct{}
	file *os.File // nil when the layer needs no spooling (already a tar of known size)
	size int64
	err  error
}

// spoolLayers starts decompressing layers on all cores. Call release when
// done with them, whatever happened.
func spoolLayers(layers []v1.Layer, diffIDs []v1.Hash, tempDir string) (map[v1.Hash]*spooled, func()) {
	out := map[v1.Hash]*spooled{}
	sem := make(chan struct{}, runtime.NumCPU())
	for i, l := range layers {
		if _, ok := out[diffIDs[i]]; ok {
			continue
		}
		s := &spooled{done: make(chan struct{})}
		out[diffIDs[i]] = s
		go func(l v1.Layer, diffID v1.Hash) {
			defer close(s.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			s.file, s.size, s.err = spoolLayer(l, diffID, tempDir)
		}(l, diffIDs[i])
	}
	release := func() {
		for _, s := range out {
			<-s.done
			if s.file != nil {
				s.file.Close()
				os.Remove(s.file.Name())
			}
		}
	}
	return out, release
}

func spoolLayer(l v1.Layer, diffID v1.Hash, tempDir string) (*os.File, int64, error) {
	rc, size, err := uncompressedLayer(l)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	if size >= 0 {
		return nil, size, nil // streamed at its turn
	}
	tmp, err := os.CreateTemp(tempDir, "gantry-layer-*.tar")
	if err != nil {
		return nil, 0, err
	}
	mismatch := func(got v1.Hash) error {
		return fmt.Errorf("uncompressed content is %s (digest mismatch)", got)
	}
	if size, err = io.Copy(tmp, newVerifyReader(rc, nil, diffID, mismatch)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	return tmp, size, nil
}

// writeSpooled writes a layer whose spooling spoolLayers started.
func writeSpooled(tw *tarWriter, name string, l v1.Layer, diffID v1.Hash, s *spooled, tempDir string) error {
	<-s.done
	if s.err != nil {
		return s.err
	}
	if s.file == nil {
		_, err := writeUncompressed(tw, name, l, diffID, tempDir)
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tw.stream(name, s.size, s.file); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	return nil
}
