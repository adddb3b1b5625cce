package archive

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// hostileArchives are archives made to lead the reader astray: metadata
// naming files outside the archive, links out, a layer listed twice,
// sizes far beyond the bytes present, counts meant to exhaust memory. They
// seed FuzzOpen and must each end in an error or in images whose bytes
// are checked (never a panic, never a file outside the archive).
func hostileArchives(t testing.TB) map[string][]byte {
	t.Helper()
	layer := layerTar(t, map[string]string{"a": "b"})
	diffID := sha(layer)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + diffID + `"]}}`)
	twice := []byte(`{"rootfs":{"type":"layers","diff_ids":["` + diffID + `","` + diffID + `"]}}`)
	cfgDigest := sha(cfg)
	blob := func(b []byte) tarFile { return reg("blobs/sha256/"+strings.TrimPrefix(sha(b), "sha256:"), b) }
	ociManifest := func(configSize, layerSize int64) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cfgDigest, configSize, diffID, layerSize))
	}
	index := func(m []byte, size int64) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,`+
			`"annotations":{"io.containerd.image.name":"docker.io/library/h:1"}}]}`, sha(m), size))
	}
	huge := int64(1) << 62
	okManifest := ociManifest(int64(len(cfg)), int64(len(layer)))
	manyEntries := make([]map[string]any, 5000)
	for i := range manyEntries {
		manyEntries[i] = map[string]any{"Config": "c.json", "RepoTags": []string{fmt.Sprintf("h:%d", i)}, "Layers": []string{"l/layer.tar"}}
	}
	many, _ := json.Marshal(manyEntries)
	return map[string][]byte{
		"manifest.json names files outside": buildTar(t, reg("c.json", cfg), reg("l/layer.tar", layer),
			reg("manifest.json", []byte(`[{"Config":"../../etc/passwd","Layers":["/../../etc/shadow"]}]`))),
		"manifest.json names absolute paths": buildTar(t, reg("c.json", cfg), reg("l/layer.tar", layer),
			reg("manifest.json", []byte(`[{"Config":"/c.json","Layers":["/etc/shadow"]}]`))),
		"layer symlink out": buildTar(t, reg("c.json", cfg), symlink("l/layer.tar", "../../../../etc/passwd"),
			reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`))),
		"config hard link out": buildTar(t, tarFile{hdr: &tar.Header{Name: "c.json", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}},
			reg("l/layer.tar", layer), reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`))),
		"layer listed twice": buildTar(t, reg("c.json", twice), reg("l/layer.tar", layer),
			reg("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["h:1"],"Layers":["l/layer.tar","l/layer.tar"]}]`))),
		"thousands of manifest.json entries": buildTar(t, reg("c.json", cfg), reg("l/layer.tar", layer), reg("manifest.json", many)),
		"huge sizes in the oci manifest": buildTar(t, reg("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
			blob(cfg), blob(layer), blob(ociManifest(huge, huge)), reg("index.json", index(ociManifest(huge, huge), int64(len(ociManifest(huge, huge)))))),
		"huge size in index.json": buildTar(t, reg("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
			blob(cfg), blob(layer), blob(okManifest), reg("index.json", index(okManifest, huge))),
		"negative sizes": buildTar(t, reg("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)),
			blob(cfg), blob(layer), blob(ociManifest(-1, -1)), reg("index.json", index(ociManifest(-1, -1), -1))),
		"legacy id climbing out": buildTar(t, reg("repositories", []byte(`{"h":{"1":"../../etc"}}`))),
		"legacy parent loop": buildTar(t,
			reg("repositories", []byte(`{"h":{"1":"aaaa"}}`)),
			reg("aaaa/json", []byte(`{"id":"aaaa","parent":"bbbb"}`)), reg("aaaa/layer.tar", layer),
			reg("bbbb/json", []byte(`{"id":"bbbb","parent":"aaaa"}`)), reg("bbbb/layer.tar", layer)),
		"entry larger than the archive": truncatedTo(buildTar(t, reg("c.json", cfg), reg("l/layer.tar", layer),
			reg("manifest.json", []byte(`[{"Config":"c.json","Layers":["l/layer.tar"]}]`))), 1536),
	}
}

// truncatedTo cuts b, keeping a header whose size promises more.
func truncatedTo(b []byte, n int) []byte { return append([]byte(nil), b[:n]...) }

func TestOpenHostileArchives(t *testing.T) {
	for name, b := range hostileArchives(t) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			defer func() {
				// 5,000 entries naming one image took 12 s when each
				// name was compared with all the others.
				if took := time.Since(start); took > 3*time.Second {
					t.Errorf("reading took %v", took)
				}
			}()
			p := writeTemp(t, "h.tar", b)
			a, err := Open(p)
			if err != nil {
				return
			}
			defer a.Close()
			loaded, err := a.Images()
			if err != nil {
				return
			}
			for _, l := range loaded {
				if l.Image != nil {
					readAll(l.Image)
				}
			}
			if strings.Contains(name, "outside") || strings.Contains(name, "out") && !strings.Contains(name, "twice") {
				t.Errorf("an archive that leads out was read: %d images", len(loaded))
			}
		})
	}
}
