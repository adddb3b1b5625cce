// Package publish sends a built image (or index) everywhere the user asked:
// the store (-t), registries (--push), archives, OCI layouts, a daemon, a
// root filesystem. It knows nothing of how the image was made.
package publish

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gantry-build/gantry/internal/atomicfile"
	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/gantry-build/gantry/pkg/progress"
	"github.com/gantry-build/gantry/pkg/reference"
	"github.com/gantry-build/gantry/pkg/registry"
	"github.com/gantry-build/gantry/pkg/rootfs"
	"github.com/gantry-build/gantry/pkg/store"
	"github.com/gantry-build/gantry/pkg/transfer"
)

// Output is one -o type=…,dest=….
type Output struct {
	Type string // docker, oci, local, daemon
	Dest string
}

// ParseOutput reads -o: type=docker,dest=x.tar; a bare path means a docker
// archive, as docker buildx does for files.
func ParseOutput(s string) (Output, error) {
	var o Output
	if !strings.Contains(s, "=") {
		return Output{Type: "docker", Dest: s}, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return o, fmt.Errorf("invalid -o %q: unknown key %q (use type= and dest=)", s, k)
		}
	}
	switch o.Type {
	case "docker", "oci":
		if o.Dest == "" {
			return o, fmt.Errorf("invalid -o %q: type=%s needs dest=FILE", s, o.Type)
		}
	case "daemon":
	case "local":
		if o.Dest == "" {
			return o, fmt.Errorf("invalid -o %q: type=local needs dest=DIR", s)
		}
	default:
		return o, fmt.Errorf("invalid -o %q: type must be docker, oci, local or daemon", s)
	}
	return o, nil
}

// Targets says where a built image goes.
type Targets struct {
	Names   []string // -t: stored under these names
	Push    bool     // --push: to the registry of each name
	Outputs []Output
}

// Validate checks the names before any work is done.
func (t Targets) Validate() error {
	if len(t.Names) == 0 && len(t.Outputs) == 0 {
		return errors.New("the image would go nowhere: give -t NAME, --push or -o")
	}
	if t.Push && len(t.Names) == 0 {
		return errors.New("--push needs -t NAME: the registry and repository to push to")
	}
	for _, n := range t.Names {
		if _, err := reference.Parse(n); err != nil {
			return err
		}
	}
	return nil
}

// Delivered reports one thing Deliver did, for printing.
type Delivered struct {
	What   string // "stored", "pushed", "written", "loaded"
	Where  string
	Digest v1.Hash
}

func item(a images.Artifact, tags []name.Tag) archive.Item {
	return archive.Item{Names: tags, Image: a.Image, Index: a.Index}
}

// Deliver sends img everywhere t names.
func Deliver(ctx context.Context, st *store.Store, rc *registry.Client, img images.Artifact, t Targets, rep progress.Reporter) ([]Delivered, error) {
	var out []Delivered
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	var tags []name.Tag
	for _, n := range t.Names {
		ref, err := rc.ParseReference(n)
		if err != nil {
			return out, err
		}
		if tag, ok := ref.(name.Tag); ok {
			tags = append(tags, tag)
		}
	}
	if len(t.Names) > 0 {
		done, err := st.Writing()
		if err != nil {
			return out, err
		}
		// Built layers are in the store already; only a base image's layers
		// that the build never needed may still arrive from a registry.
		wopts := store.WriteOptions{Jobs: rc.Jobs(), Progress: progress.WithoutSkips(rep)}
		var desc v1.Descriptor
		if img.Index != nil {
			desc, err = st.WriteIndex(ctx, img.Index, wopts)
		} else {
			desc, err = st.WriteImage(ctx, img.Image, wopts)
		}
		if err != nil {
			done()
			return out, err
		}
		for _, tag := range tags {
			if err := st.SetName(reference.Canonical(tag), desc); err != nil {
				done()
				return out, err
			}
			out = append(out, Delivered{What: "stored", Where: reference.Canonical(tag), Digest: digest})
		}
		done()
	}
	if t.Push {
		var top remote.Taggable = img.Image
		if img.Index != nil {
			top = img.Index
		}
		for _, tag := range tags {
			if _, err := transfer.PushImage(ctx, rc, top, tag.String(), transfer.PushOptions{Store: st, Progress: rep}); err != nil {
				return out, err
			}
			out = append(out, Delivered{What: "pushed", Where: reference.Canonical(tag), Digest: digest})
		}
	}
	for _, o := range t.Outputs {
		var err error
		switch o.Type {
		case "docker":
			err = atomicfile.Write(o.Dest, func(w io.Writer) error {
				return archive.Save(w, []archive.Item{item(img, tags)}, archive.SaveOptions{})
			})
		case "oci":
			err = writeOCI(o.Dest, img, tags)
		case "daemon":
			o.Dest, err = loadIntoDaemon(ctx, img, tags)
		case "local":
			err = writeLocal(o.Dest, img)
		}
		if err != nil {
			return out, fmt.Errorf("-o type=%s: %w", o.Type, err)
		}
		what := "written"
		if o.Type == "daemon" {
			what = "loaded"
		}
		out = append(out, Delivered{What: what, Where: o.Dest, Digest: digest})
	}
	return out, nil
}

// writeLocal writes the root filesystem; of an index, the host's platform.
func writeLocal(dest string, img images.Artifact) error {
	one := img.Image
	if img.Index != nil {
		var err error
		if one, _, err = transfer.PickImage(img.Index, nil, "the built index"); err != nil {
			return err
		}
	}
	return rootfs.Unpack(one, dest)
}

func writeOCI(dest string, img images.Artifact, tags []name.Tag) error {
	if strings.HasSuffix(dest, ".tar") {
		return atomicfile.Write(dest, func(w io.Writer) error {
			return archive.Save(w, []archive.Item{item(img, tags)}, archive.SaveOptions{Format: "oci", OCIMediaTypes: true})
		})
	}
	p, err := layout.FromPath(dest)
	if err != nil {
		if p, err = layout.Write(dest, empty.Index); err != nil {
			return err
		}
	}
	var opts []layout.Option
	for _, t := range tags {
		opts = append(opts, layout.WithAnnotations(map[string]string{
			store.AnnotationRefName:   t.TagStr(),
			store.AnnotationImageName: reference.Canonical(t),
		}))
		break // one descriptor per image; further names would duplicate it
	}
	if img.Index != nil {
		return p.AppendIndex(img.Index, opts...)
	}
	return p.AppendImage(img.Image, opts...)
}

// loadIntoDaemon streams a docker archive into POST /images/load of the
// Docker or Podman engine at DOCKER_HOST (default the usual socket).
func loadIntoDaemon(ctx context.Context, img images.Artifact, tags []name.Tag) (string, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return host, fmt.Errorf("DOCKER_HOST %q is not a URL", host)
	}
	client := &http.Client{}
	base := "http://docker"
	switch u.Scheme {
	case "unix":
		sock := u.Path
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}
	case "tcp", "http":
		base = "http://" + u.Host
	default:
		return host, fmt.Errorf("DOCKER_HOST %q: only unix:// and tcp:// engines are supported", host)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.Save(pw, []archive.Item{item(img, tags)}, archive.SaveOptions{}))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/images/load?quiet=1", pr)
	if err != nil {
		return host, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return host, fmt.Errorf("no Docker or Podman engine answers at %s (%v): start one or set DOCKER_HOST", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return host, fmt.Errorf("the engine at %s refused the image: %s %s", host, resp.Status, strings.TrimSpace(string(b)))
	}
	// The answer is a stream of JSON messages; an error arrives as one.
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var msg struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Error != "" {
			return host, fmt.Errorf("the engine at %s: %s", host, msg.Error)
		}
	}
	return host, sc.Err()
}
