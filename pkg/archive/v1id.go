package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The structs below mirror moby's image.V1Image and container.Config as of
// Docker 20.10, field for field and tag for tag: a v1 layer ID is the hash of
// this exact serialization, and legacy archives are re-serialized through it.
// Fields Docker added later are left out on purpose, so IDs match what Docker
// 1.10–24 computes for the same image.

type v1Image struct {
	ID              string           `json:"id,omitempty"`
	Parent          string           `json:"parent,omitempty"`
	Comment         string           `json:"comment,omitempty"`
	Created         time.Time        `json:"created"`
	Container       string           `json:"container,omitempty"`
	ContainerConfig containerConfig  `json:"container_config,omitempty"`
	DockerVersion   string           `json:"docker_version,omitempty"`
	Author          string           `json:"author,omitempty"`
	Config          *containerConfig `json:"config,omitempty"`
	Architecture    string           `json:"architecture,omitempty"`
	Variant         string           `json:"variant,omitempty"`
	OS              string           `json:"os,omitempty"`
	Size            int64            `json:",omitempty"`
}

type containerConfig struct {
	Hostname        string
	Domainname      string
	User            string
	AttachStdin     bool
	AttachStdout    bool
	AttachStderr    bool
	ExposedPorts    map[string]struct{} `json:",omitempty"`
	Tty             bool
	OpenStdin       bool
	StdinOnce       bool
	Env             []string
	Cmd             strSlice
	Healthcheck     *healthConfig `json:",omitempty"`
	ArgsEscaped     bool          `json:",omitempty"`
	Image           string
	Volumes         map[string]struct{}
	WorkingDir      string
	Entrypoint      strSlice
	NetworkDisabled bool   `json:",omitempty"`
	MacAddress      string `json:",omitempty"`
	OnBuild         []string
	Labels          map[string]string
	StopSignal      string   `json:",omitempty"`
	StopTimeout     *int     `json:",omitempty"`
	Shell           strSlice `json:",omitempty"`
}

type healthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	Retries     int           `json:",omitempty"`
}

// strSlice accepts a string or an array of strings, as moby's StrSlice does
// (old configs wrote "Cmd": "sh").
type strSlice []string

func (s *strSlice) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	p := make([]string, 0, 1)
	if err := json.Unmarshal(b, &p); err != nil {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		p = append(p, one)
	}
	*s = p
	return nil
}

// parseV1Image reads an image config (or a legacy v1 json) the way moby's
// image.Image does: its own "parent" key belongs to the outer struct, so the
// embedded V1Image never sees it.
func parseV1Image(raw []byte) (v1Image, error) {
	var img v1Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return v1Image{}, err
	}
	img.Parent = ""
	return img, nil
}

// chainIDs returns the chain ID of every prefix of diffIDs (the layer IDs of
// Docker's layer store).
func chainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return out
}

// createV1ID is moby's image/v1.CreateID: the v1 JSON without its id, with
// layer_id and parent added, keys sorted, hashed.
func createV1ID(img v1Image, layerID v1.Hash, parent string) (string, error) {
	img.ID = ""
	b, err := json.Marshal(img)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	m["layer_id"], _ = json.Marshal(layerID.String())
	if parent != "" {
		m["parent"], _ = json.Marshal("sha256:" + parent)
	}
	b, err = json.Marshal(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// v1Layer is the directory of one layer in a Docker 1.10–24 archive.
type v1Layer struct {
	id   string
	json []byte // <id>/json
}

// v1Layers computes the `<id>/` directories docker save writes for an image:
// lower layers carry only a fixed creation time (what pre-1.9 Docker needed)
// and the OS, the top layer carries the whole image config.
func v1Layers(rawConfig []byte, diffIDs []v1.Hash) ([]v1Layer, error) {
	top, err := parseV1Image(rawConfig)
	if err != nil {
		return nil, err
	}
	chains := chainIDs(diffIDs)
	out := make([]v1Layer, len(diffIDs))
	parent := ""
	for i := range diffIDs {
		img := v1Image{Created: time.Unix(0, 0).UTC()}
		if i == len(diffIDs)-1 {
			img = top
		}
		id, err := createV1ID(img, chains[i], parent)
		if err != nil {
			return nil, err
		}
		// Docker 20.10 stamps the OS on every layer's json after
		// hashing, so it is in the file but not in the ID.
		img.ID, img.Parent, img.OS = id, parent, top.OS
		b, err := json.Marshal(img)
		if err != nil {
			return nil, err
		}
		out[i] = v1Layer{id: id, json: b}
		parent = id
	}
	return out, nil
}
