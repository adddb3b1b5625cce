package dockerfile

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/gantry-build/gantry/pkg/layer"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/sandbox"
	"github.com/gantry-build/gantry/pkg/store"
)

// buildUnpacked builds a COPY layer and the root filesystem the next step
// will need. When this COPY ran before on the same parent and its tree is
// still cached, the new tree starts from that one and only the entries that
// differ are written (a changed source file costs one file, not the whole
// folder); otherwise the layer's tar stream is applied while it is
// compressed, so nothing is decompressed afterwards.
func (s *stageState) buildUnpacked(cmd instructions.Command, entries []layer.Entry, o layer.Options) (layer.Built, error) {
	b := s.b
	if built, ok, err := s.copyIntoContainerRoot(entries, o); ok {
		return built, err
	}
	rec, recPath := s.copyRecord(cmd, o)
	if rec != nil {
		built, err := layer.Build(b.ctx, b.st, entries, o, b.o.Compression, s.oci())
		if err != nil || built.Cached {
			return built, err
		}
		if s.revise(rec, entries, o, built) == nil {
			s.saveCopyRecord(recPath, entries, o, built)
			return built, nil
		}
		return built, nil // the tree is unpacked later, when needed
	}
	pending, err := b.cache.Extend(s.img)
	if err != nil {
		return layer.Build(b.ctx, b.st, entries, o, b.o.Compression, s.oci())
	}
	built, applyErr, err := s.buildApplying(entries, o, pending.Apply)
	if err != nil || applyErr != nil || built.Cached {
		pending.Abort()
		return built, err
	}
	if pending.Commit(built.DiffID) == nil {
		s.saveCopyRecord(recPath, entries, o, built)
	}
	return built, nil
}

// buildApplying builds the COPY layer and hands its tar stream to apply
// while it is compressed, so that nothing is decompressed afterwards. A
// layer the content cache knew streams nothing: apply then sees an empty
// stream.
func (s *stageState) buildApplying(entries []layer.Entry, o layer.Options, apply func(io.Reader) error) (built layer.Built, applyErr, err error) {
	pr, pw := io.Pipe()
	applied := make(chan error, 1)
	go func() {
		err := apply(pr)
		io.Copy(io.Discard, pr) // let the writer finish even if apply stopped early
		applied <- err
	}()
	built, err = layer.BuildTee(s.b.ctx, s.b.st, entries, o, s.b.o.Compression, s.oci(), pw)
	pw.CloseWithError(err)
	return built, <-applied, err
}

// copyRecord is what the last build of this COPY on this parent left: the
// chain ID of its tree and each entry's signature.
type copyRecord struct {
	Chain string            `json:"chain"`
	Sigs  map[string]string `json:"sigs"`
}

func (s *stageState) copyRecord(cmd instructions.Command, o layer.Options) (*copyRecord, string) {
	parent, err := s.img.Digest()
	if err != nil {
		return nil, ""
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\n%s\n%d:%d:%v", parent, cmd, o.UID, o.GID, o.KeepOwners)))
	p := filepath.Join(s.b.st.CacheDir(store.CacheCopyTrees), hex.EncodeToString(sum[:]))
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, p
	}
	var rec copyRecord
	if json.Unmarshal(raw, &rec) != nil {
		return nil, p
	}
	return &rec, p
}

func (s *stageState) saveCopyRecord(p string, entries []layer.Entry, o layer.Options, built layer.Built) {
	if p == "" {
		return
	}
	sigs, ok := layer.Signatures(s.b.st, entries, o)
	if !ok {
		return
	}
	chain, err := s.b.cache.ChainAfter(s.img, built.DiffID)
	if err != nil {
		return
	}
	raw, err := json.Marshal(copyRecord{Chain: chain, Sigs: sigs})
	if err != nil || os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	os.WriteFile(p, raw, 0o644)
}

// revise makes the tree of the new layer from the earlier version's tree:
// entries gone since are removed (and what the parent had there comes
// back), entries that differ are applied; hard links always are.
func (s *stageState) revise(rec *copyRecord, entries []layer.Entry, o layer.Options, built layer.Built) error {
	b := s.b
	sigs, ok := layer.Signatures(b.st, entries, o)
	if !ok {
		return fmt.Errorf("no signatures")
	}
	pending, parentDir, ok, err := b.cache.Revise(s.img, rec.Chain)
	if err != nil || !ok {
		return fmt.Errorf("no earlier tree")
	}
	var gone []string
	for name := range rec.Sigs {
		if _, ok := sigs[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(gone)))
	for _, name := range gone {
		p := filepath.Join(pending.Dir(), name)
		if err := os.RemoveAll(p); err != nil {
			pending.Abort()
			return err
		}
		if _, err := os.Lstat(filepath.Join(parentDir, name)); err == nil {
			if err := rootfs.LinkTree(filepath.Join(parentDir, name), p); err != nil {
				pending.Abort()
				return err
			}
		}
	}
	var changed []layer.Entry
	for _, e := range entries {
		if e.HardLink || rec.Sigs[e.Name] != sigs[e.Name] {
			changed = append(changed, e)
		}
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := layer.WriteEntries(tw, changed, o)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = pending.Apply(pr)
	io.Copy(io.Discard, pr)
	if err != nil {
		pending.Abort()
		return err
	}
	return pending.Commit(built.DiffID)
}

// copyIntoContainerRoot writes a COPY's files straight over "/" in the
// container isolation when a RUN of the stage comes later and needs them
// there (kaniko's way): once, not into the unpacked-tree cache and then
// again over "/". ok is false where that does not apply (the sandbox, no
// RUN to come, no isolation to be had): the caller builds as usual.
func (s *stageState) copyIntoContainerRoot(entries []layer.Entry, o layer.Options) (built layer.Built, ok bool, err error) {
	b := s.b
	if !s.runFollows() {
		return layer.Built{}, false, nil
	}
	if iso, err := b.isolation(); err != nil || iso != sandbox.IsolationContainer {
		return layer.Built{}, false, nil
	}
	b.hostMu.Lock()
	defer b.hostMu.Unlock()
	if _, err := s.layContainerRoot(); err != nil {
		return layer.Built{}, false, nil // the RUN will say why
	}
	built, applyErr, err := s.buildApplying(entries, o, b.host.Apply)
	if err == nil && applyErr == nil && built.Cached {
		// The content cache knew the layer: nothing was streamed.
		applyErr = s.applyStoredLayer(built)
	}
	if err == nil {
		err = applyErr
	}
	if err == nil {
		b.host.Assume(treeID(s.img, built.DiffID))
	}
	return built, true, err
}

// applyStoredLayer lays a stored layer over "/" (container isolation).
func (s *stageState) applyStoredLayer(built layer.Built) error {
	l, err := layer.Open(s.b.st, built)
	if err != nil {
		return err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return s.b.host.Apply(rc)
}
