package config

import (
	"bytes"
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// go-containerregistry's v1.HealthConfig has no StartInterval (HEALTHCHECK
// --start-interval, Docker's Healthcheck.StartInterval): marshalling a
// ConfigFile drops it. A Stage carries it beside the ConfigFile, and
// WithStartInterval writes it into the config an image serves.

// StartIntervalOf reads Healthcheck.StartInterval from a raw image config
// (a base's), 0 when there is none.
func StartIntervalOf(raw []byte) time.Duration {
	var cf struct {
		Config struct {
			Healthcheck *struct{ StartInterval time.Duration }
		} `json:"config"`
	}
	if json.Unmarshal(raw, &cf) != nil || cf.Config.Healthcheck == nil {
		return 0
	}
	return cf.Config.Healthcheck.StartInterval
}

// The config with the field added: the outer Healthcheck shadows
// v1.Config's, so everything else is marshalled as go-containerregistry
// marshals it.
type healthWithStart struct {
	v1.HealthConfig
	StartInterval time.Duration `json:",omitempty"`
}

type configWithStart struct {
	v1.Config
	Healthcheck *healthWithStart `json:",omitempty"`
}

type fileWithStart struct {
	v1.ConfigFile
	Config configWithStart `json:"config"`
}

// WithStartInterval is img serving a config whose healthcheck has
// StartInterval d; img itself when d is 0 or there is no healthcheck.
func WithStartInterval(img v1.Image, d time.Duration) (v1.Image, error) {
	if d == 0 {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if cf.Config.Healthcheck == nil {
		return img, nil
	}
	out := fileWithStart{ConfigFile: *cf, Config: configWithStart{Config: cf.Config, Healthcheck: &healthWithStart{HealthConfig: *cf.Config.Healthcheck, StartInterval: d}}}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return WithRawConfig(img, raw)
}

// WithRawConfig is img serving raw as its config, byte for byte: fields
// go-containerregistry's ConfigFile has no place for (a healthcheck's
// StartInterval, an inline build cache) survive, and nothing else changes
// but the manifest's config descriptor. raw must be img's config with such
// fields added: its diff IDs are img's layers'.
func WithRawConfig(img v1.Image, raw []byte) (v1.Image, error) {
	name, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	m.Config.Digest, m.Config.Size = name, int64(len(raw))
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &rawConfigImage{Image: img, raw: raw, name: name, manifest: m, rawManifest: rawManifest}, nil
}

// rawConfigImage is an image whose config is given as bytes.
type rawConfigImage struct {
	v1.Image
	raw         []byte
	name        v1.Hash
	manifest    *v1.Manifest
	rawManifest []byte
}

func (i *rawConfigImage) RawConfigFile() ([]byte, error) { return i.raw, nil }
func (i *rawConfigImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.raw))
}
func (i *rawConfigImage) ConfigName() (v1.Hash, error)    { return i.name, nil }
func (i *rawConfigImage) Manifest() (*v1.Manifest, error) { return i.manifest.DeepCopy(), nil }
func (i *rawConfigImage) RawManifest() ([]byte, error)    { return i.rawManifest, nil }
func (i *rawConfigImage) Size() (int64, error)            { return int64(len(i.rawManifest)), nil }

func (i *rawConfigImage) MediaType() (types.MediaType, error) { return i.Image.MediaType() }

func (i *rawConfigImage) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.rawManifest))
	return h, err
}
