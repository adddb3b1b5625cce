// Package inspect describes images for people and scripts: the summary of
// gantry inspect and the rows of gantry images.
package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gantry-build/gantry/internal/terminal"
	"github.com/gantry-build/gantry/pkg/platform"
)

// Report is what gantry inspect shows of one image.
type Report struct {
	Name      string          `json:"name,omitempty"`
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// Index is the digest of the multi-platform index the image was picked
	// from, and Platforms what that index offers.
	Index     string         `json:"index,omitempty"`
	Platforms []string       `json:"platforms,omitempty"`
	Platform  string         `json:"platform"`
	ID        string         `json:"id"` // Docker's image ID: the config digest
	Created   *time.Time     `json:"created,omitempty"`
	Size      int64          `json:"size"` // compressed layers + config
	Config    *v1.ConfigFile `json:"config"`
	Layers    []Layer        `json:"layers"`
}

// Layer is one layer and the history entry that made it.
type Layer struct {
	Digest    string          `json:"digest"`
	DiffID    string          `json:"diffID,omitempty"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
	CreatedBy string          `json:"createdBy,omitempty"`
}

// Image builds the report of img.
func Image(name string, img v1.Image) (*Report, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	r := &Report{
		Name: name, Digest: digest.String(), MediaType: mt, ID: m.Config.Digest.String(),
		Platform: platform.String(platform.OfConfig(cf)), Config: cf, Size: m.Config.Size,
	}
	if !cf.Created.IsZero() {
		t := cf.Created.UTC()
		r.Created = &t
	}
	// History entries marked empty_layer made no layer; the others pair with
	// the layers in order.
	var made []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			by := h.CreatedBy
			if by == "" {
				by = h.Comment // docker import writes "Imported from -" here
			}
			made = append(made, by)
		}
	}
	for i, l := range m.Layers {
		layer := Layer{Digest: l.Digest.String(), Size: l.Size, MediaType: l.MediaType}
		if i < len(cf.RootFS.DiffIDs) {
			layer.DiffID = cf.RootFS.DiffIDs[i].String()
		}
		if i < len(made) {
			layer.CreatedBy = made[i]
		}
		r.Size += l.Size
		r.Layers = append(r.Layers, layer)
	}
	return r, nil
}

// FromIndex records that r was picked out of an index offering platforms.
func (r *Report) FromIndex(digest v1.Hash, im *v1.IndexManifest) {
	r.Index = digest.String()
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS != "unknown" {
			r.Platforms = append(r.Platforms, platform.String(*d.Platform))
		}
	}
}

// WriteJSON writes r as indented JSON, with the characters a terminal
// would act on escaped (see terminal.JSON).
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(terminal.JSON(b), '\n'))
	return err
}

// WriteText writes the readable summary. Every value the image supplies is
// escaped (terminal.Escape): one line stays one line.
func (r *Report) WriteText(w io.Writer) error {
	c := r.Config.Config
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", k+":", terminal.Escape(v))
		}
	}
	line("Name", r.Name)
	line("Digest", r.Digest)
	line("Index", r.Index)
	if len(r.Platforms) > 0 {
		line("Platforms", strings.Join(r.Platforms, ", "))
	}
	line("Platform", r.Platform)
	line("ID", r.ID)
	if r.Created != nil {
		line("Created", r.Created.Format(time.RFC3339))
	}
	line("Size", HumanSize(r.Size))
	line("Entrypoint", jsonList(c.Entrypoint))
	line("Cmd", jsonList(c.Cmd))
	line("WorkingDir", c.WorkingDir)
	line("User", c.User)
	for _, e := range c.Env {
		line("Env", e)
	}
	line("Ports", strings.Join(sortedKeys(c.ExposedPorts), " "))
	line("Volumes", strings.Join(sortedKeys(c.Volumes), " "))
	labels := make([]string, 0, len(c.Labels))
	for k, v := range c.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	for _, l := range labels {
		line("Label", l)
	}
	line("StopSignal", c.StopSignal)
	fmt.Fprintf(&b, "Layers:\n")
	for i, l := range r.Layers {
		by := l.CreatedBy
		if by == "" {
			by = "-"
		}
		fmt.Fprintf(&b, "  %2d  %s  %10s  %s\n", i+1, short(l.Digest), HumanSize(l.Size), terminal.Escape(oneLine(by)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func jsonList(s []string) string {
	if s == nil {
		return ""
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func short(digest string) string {
	if i := strings.IndexByte(digest, ':'); i >= 0 && len(digest) >= i+13 {
		return digest[i+1 : i+13]
	}
	return digest
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

// HumanSize prints bytes the way docker images does (decimal units).
func HumanSize(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < 1000 || u == "TB" {
			if u == "B" {
				return fmt.Sprintf("%dB", n)
			}
			return fmt.Sprintf("%.3g%s", f, u)
		}
		f /= 1000
	}
	return ""
}
