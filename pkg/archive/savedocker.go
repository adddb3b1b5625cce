package archive

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/gantry-build/gantry/pkg/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dockerItem is an element of manifest.json as Docker 1.10–24 writes it
// (RepoTags is null, not absent, for an untagged image).
type dockerItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// dockerWriter writes what `docker load` of Docker 1.10 and later reads:
// single-platform images as `docker save` of Docker 1.10–24 lays them out
// (so pre-25 engines load them), multi-platform ones as an OCI layout that
// manifest.json points into for the chosen platform.
type dockerWriter struct {
	tw    *tarWriter
	opts  SaveOptions
	blobs blobWriter

	manifest []dockerItem
	repos    map[string]map[string]string
	index    []v1.Descriptor

	layout     bool // some item is multi-platform: the archive is an OCI layout too
	v1Saved    map[string]bool
	diffIDPath map[v1.Hash]string // the one real layer.tar of each diff ID
	singles    []single           // for the OCI view of a mixed archive
}

type single struct {
	g       *group
	config  []byte
	diffIDs []v1.Hash
}

func (d *dockerWriter) write(groups []*group) error {
	d.blobs = blobWriter{tw: d.tw}
	d.manifest = []dockerItem{} // docker load refuses a null manifest.json
	d.repos = map[string]map[string]string{}
	d.v1Saved = map[string]bool{}
	d.diffIDPath = map[v1.Hash]string{}
	for _, g := range groups {
		d.layout = d.layout || g.index != nil
	}
	if d.layout {
		if err := d.tw.bytes("oci-layout", []byte(ociLayoutFile)); err != nil {
			return err
		}
	}
	for _, g := range groups {
		var err error
		if g.image != nil {
			err = d.image(g)
		} else {
			err = d.multi(g)
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", g.label(), err)
		}
	}
	if d.layout {
		if err := d.ociView(); err != nil {
			return err
		}
		if err := writeIndexJSON(d.tw, d.index); err != nil {
			return err
		}
	}
	if err := d.writeJSON("manifest.json", d.manifest); err != nil {
		return err
	}
	if len(d.repos) > 0 {
		return d.writeJSON("repositories", d.repos)
	}
	return nil
}

// writeJSON encodes like Docker (json.Encoder: a trailing newline).
func (d *dockerWriter) writeJSON(name string, v any) error {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return err
	}
	return d.tw.bytes(name, b.Bytes())
}

// image writes a single-platform image: `<config hex>.json` with the exact
// config bytes (Docker's image ID is their digest) and one `<v1 id>/`
// directory per layer, a layer seen before becoming a symlink to its first
// copy, as moby's tarexport does.
func (d *dockerWriter) image(g *group) error {
	cfgName, err := g.image.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := g.image.RawConfigFile()
	if err != nil {
		return err
	}
	diffIDs, err := diffIDsOf(cfg)
	if err != nil {
		return fmt.Errorf("config %v", err)
	}
	layers, err := g.image.Layers()
	if err != nil {
		return err
	}
	if len(layers) != len(diffIDs) {
		return fmt.Errorf("image has %d layers, but its config lists %d diff_ids", len(layers), len(diffIDs))
	}
	v1s, err := v1Layers(cfg, diffIDs)
	if err != nil {
		return fmt.Errorf("config is not a Docker image config: %w", err)
	}
	cfgFile := cfgName.Hex + ".json"
	if err := d.tw.bytes(cfgFile, cfg); err != nil {
		return err
	}
	// --compressed-layers keeps a layer as stored, but not a zstd one:
	// docker load before Docker 23 reads it as a plain tar and fails.
	keep := make([]bool, len(layers))
	for i, l := range layers {
		mt, err := l.MediaType()
		keep[i] = d.opts.CompressedLayers && err == nil && mt != types.OCILayerZStd
	}
	// Only the layers this image writes for the first time are spooled.
	var todoLayers []v1.Layer
	var todoIDs []v1.Hash
	for i, v := range v1s {
		_, linked := d.diffIDPath[diffIDs[i]]
		if !d.v1Saved[v.id] && !linked && !d.blobs.has(diffIDs[i]) && !keep[i] {
			todoLayers, todoIDs = append(todoLayers, layers[i]), append(todoIDs, diffIDs[i])
		}
	}
	spools, release := spoolLayers(todoLayers, todoIDs, d.opts.TempDir)
	defer release()
	write := func(name string, i int) error {
		if s, ok := spools[diffIDs[i]]; ok {
			return writeSpooled(d.tw, name, layers[i], diffIDs[i], s, d.opts.TempDir)
		}
		_, err := writeUncompressed(d.tw, name, layers[i], diffIDs[i], d.opts.TempDir)
		return err
	}
	item := dockerItem{Config: cfgFile, Layers: []string{}}
	for i, v := range v1s {
		layerFile := v.id + "/layer.tar"
		item.Layers = append(item.Layers, layerFile)
		if d.v1Saved[v.id] {
			continue
		}
		d.v1Saved[v.id] = true
		if err := d.tw.bytes(v.id+"/VERSION", []byte("1.0")); err != nil {
			return err
		}
		if err := d.tw.bytes(v.id+"/json", v.json); err != nil {
			return err
		}
		if keep[i] {
			// The layer as stored, gzip and all: every docker load since
			// 1.10 decompresses layer.tar itself.
			if err := d.blobs.layer(layers[i]); err != nil {
				return err
			}
			h, err := layers[i].Digest()
			if err != nil {
				return err
			}
			if err := d.tw.symlink(layerFile, "../"+blobPath(h)); err != nil {
				return err
			}
			continue
		}
		if d.layout {
			// ggcr and other layout readers refuse symlinked blobs, so
			// in an archive that is also an OCI layout the blob is the
			// file and layer.tar the link (Docker follows links in it).
			blob := blobPath(diffIDs[i])
			if !d.blobs.has(diffIDs[i]) {
				if err := write(blob, i); err != nil {
					return err
				}
			}
			if err := d.tw.symlink(layerFile, "../"+blob); err != nil {
				return err
			}
			continue
		}
		if first, ok := d.diffIDPath[diffIDs[i]]; ok {
			if err := d.tw.symlink(layerFile, "../"+first); err != nil {
				return err
			}
			continue
		}
		if err := write(layerFile, i); err != nil {
			return err
		}
		d.diffIDPath[diffIDs[i]] = layerFile
	}
	for _, t := range g.names {
		item.RepoTags = append(item.RepoTags, reference.Familiar(t))
		if len(v1s) > 0 {
			repo := reference.FamiliarRepository(t.Context())
			if d.repos[repo] == nil {
				d.repos[repo] = map[string]string{}
			}
			d.repos[repo][t.TagStr()] = v1s[len(v1s)-1].id
		}
	}
	d.manifest = append(d.manifest, item)
	d.singles = append(d.singles, single{g: g, config: cfg, diffIDs: diffIDs})
	return nil
}

// multi writes every blob of a multi-platform image and points manifest.json
// at the platform Docker would run. Docker 20.10 decompresses the blob
// layers itself when loading.
func (d *dockerWriter) multi(g *group) error {
	want := platform.Host()
	if d.opts.Platform != nil {
		want = *d.opts.Platform
	}
	desc, err := choosePlatform(g.index, want)
	if err != nil {
		return err
	}
	id, err := d.blobs.index(g.index)
	if err != nil {
		return err
	}
	img, err := g.index.Image(desc.Digest)
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	item := dockerItem{Config: blobPath(m.Config.Digest)}
	for _, l := range m.Layers {
		if !d.blobs.has(l.Digest) {
			return fmt.Errorf("platform %s: layer %s is not distributable, and docker load needs it", platform.String(want), l.Digest)
		}
		item.Layers = append(item.Layers, blobPath(l.Digest))
	}
	for _, t := range g.names {
		item.RepoTags = append(item.RepoTags, reference.Familiar(t))
	}
	d.manifest = append(d.manifest, item)
	d.index = append(d.index, namedDescriptors(id, g.names)...)
	return nil
}

// ociView lists the single-platform images of a mixed archive in index.json
// too, with an OCI manifest over the uncompressed layer blobs, so that one
// archive is one consistent OCI layout as well.
func (d *dockerWriter) ociView() error {
	for _, s := range d.singles {
		cfgDigest := hashBytes(s.config)
		if err := d.blobs.bytes(cfgDigest, s.config); err != nil {
			return err
		}
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(s.config)), Digest: cfgDigest},
		}
		for _, diffID := range s.diffIDs {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: d.tw.size(blobPath(diffID)), Digest: diffID})
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		h := hashBytes(raw)
		if err := d.blobs.bytes(h, raw); err != nil {
			return err
		}
		desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: int64(len(raw))}
		if v, err := parseV1Image(s.config); err == nil && v.OS != "" {
			desc.Platform = &v1.Platform{OS: v.OS, Architecture: v.Architecture, Variant: v.Variant}
		}
		d.index = append(d.index, namedDescriptors(desc, s.g.names)...)
	}
	return nil
}
