package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/template"
	"time"

	"github.com/docker/cli/templates"
	"github.com/docker/go-units"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gantry-build/gantry/pkg/reference"
)

// ParseTemplate reads a --format Go template with Docker's template
// functions (json, join, split, upper, lower, title, pad, truncate, and
// text/template's println), as docker's --format does.
func ParseTemplate(format string) (*template.Template, error) {
	t, err := templates.Parse(format)
	if err != nil {
		return nil, fmt.Errorf("invalid --format template %q: %w", format, err)
	}
	return t, nil
}

// ParseHeaderTemplate reads format for the header line of a "table …"
// format: the functions leave the column names as they are.
func ParseHeaderTemplate(format string) (*template.Template, error) {
	return templates.New("").Funcs(templates.HeaderFunctions).Parse(format)
}

// Execute runs t on v as docker inspect does: on the value itself, and, if
// a field is missing there, on v's JSON read into maps, so that the JSON
// names work too ({{.Id}} as well as {{.ID}}). A newline ends the output.
func Execute(w io.Writer, t *template.Template, v any) error {
	var b bytes.Buffer
	err := t.Execute(&b, v)
	if err != nil {
		raw, merr := json.Marshal(v)
		if merr != nil {
			return fmt.Errorf("--format: %w", err)
		}
		var m any
		if json.Unmarshal(raw, &m) != nil {
			return fmt.Errorf("--format: %w", err)
		}
		b.Reset()
		if rerr := t.Execute(&b, m); rerr != nil {
			return fmt.Errorf("--format: %w", err) // the typed error names the field better
		}
	}
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}

// DockerImage is an image in the shape of docker image inspect's JSON: the
// data of gantry inspect --format, so that docker's templates work
// unchanged ({{.Config.Entrypoint}}, {{.Os}}, {{json .RootFS}}).
type DockerImage struct {
	ID           string `json:"Id"`
	RepoTags     []string
	RepoDigests  []string
	Comment      string
	Created      string
	Author       string
	Config       v1.Config
	Architecture string
	Variant      string `json:",omitempty"`
	Os           string
	OsVersion    string `json:",omitempty"`
	Size         int64
	RootFS       DockerRootFS
	// Descriptor is what gantry adds: the manifest the image was read from.
	Descriptor DockerDescriptor
}

// DockerRootFS lists the image's layers by diff ID.
type DockerRootFS struct {
	Type   string
	Layers []string
}

// DockerDescriptor names the manifest, and the index it came from.
type DockerDescriptor struct {
	Digest    string
	MediaType string
	Index     string   `json:",omitempty"`
	Platforms []string `json:",omitempty"`
}

// Docker is r in docker image inspect's shape.
func (r *Report) Docker() DockerImage {
	cf := r.Config
	d := DockerImage{
		ID: r.ID, RepoTags: []string{}, RepoDigests: []string{}, Author: cf.Author, Config: cf.Config,
		Architecture: cf.Architecture, Variant: cf.Variant, Os: cf.OS, OsVersion: cf.OSVersion, Size: r.Size,
		RootFS:     DockerRootFS{Type: cf.RootFS.Type, Layers: []string{}},
		Descriptor: DockerDescriptor{Digest: r.Digest, MediaType: string(r.MediaType), Index: r.Index, Platforms: r.Platforms},
	}
	if !cf.Created.IsZero() {
		d.Created = cf.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, l := range cf.RootFS.DiffIDs {
		d.RootFS.Layers = append(d.RootFS.Layers, l.String())
	}
	if n := len(cf.History); n > 0 {
		d.Comment = cf.History[n-1].Comment
	}
	if ref, err := reference.Parse(r.Name); err == nil && r.Name != "" {
		repo := reference.FamiliarRepository(ref.Context())
		if _, byDigest := ref.(name.Digest); !byDigest {
			d.RepoTags = append(d.RepoTags, repo+":"+ref.Identifier())
		}
		digest := r.Digest
		if r.Index != "" {
			digest = r.Index // what a pull by digest names
		}
		d.RepoDigests = append(d.RepoDigests, repo+"@"+digest)
	}
	return d
}

// ImageLine is one image as docker images --format sees it: every field a
// string, as docker's.
type ImageLine struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	Platform     string
	Size         string
	CreatedAt    string
	CreatedSince string
}

// ImageLineHeader is the header of a "table …" images --format.
var ImageLineHeader = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "Platform": "PLATFORM",
	"Size": "SIZE", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
}

// ImageID is a row's image ID: the config digest of an image, the digest of
// an index; 12 hex characters unless full.
func (r Row) ImageID(full bool) string {
	id := r.ID
	if id == "" {
		id = r.Digest
	}
	if full {
		return id
	}
	return short(id)
}

// Line is r for images --format; now makes CreatedSince.
func (r Row) Line(full bool, now time.Time) ImageLine {
	l := ImageLine{ID: r.ImageID(full), Repository: r.Repository, Tag: r.Tag, Digest: r.Digest, Platform: r.Platform,
		Size: HumanSize(r.Size), CreatedAt: "N/A", CreatedSince: "N/A"}
	if r.Created != nil {
		l.CreatedAt = r.Created.Format("2006-01-02 15:04:05 -0700 MST")
		l.CreatedSince = units.HumanDuration(now.Sub(*r.Created)) + " ago"
	}
	return l
}
