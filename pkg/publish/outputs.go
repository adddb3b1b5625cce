package publish

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-build/gantry/pkg/reference"
)

// Output is one -o, in buildx's spelling:
//
//	type=docker,dest=F.tar     a docker load archive (without dest: loaded into the daemon, as buildx --load)
//	type=oci,dest=DIR|F.tar    an OCI layout
//	type=local,dest=DIR        the root filesystem
//	type=tar,dest=F.tar        the root filesystem as a tar
//	type=daemon                loaded into the Docker/Podman engine at DOCKER_HOST
//	type=image,name=N[,push=true]  stored under N (and pushed)
//	type=registry[,name=N]     pushed to N (default: the -t names), not stored
//	type=cacheonly             built (and its steps cached) only, as buildx has it
type Output struct {
	Type  string
	Dest  string
	Names []string
	Push  bool
}

// ParseOutput reads -o. A bare path means a docker archive.
func ParseOutput(s string) (Output, error) {
	if !strings.Contains(s, "=") {
		return Output{Type: "docker", Dest: s}, nil
	}
	// buildx reads -o as CSV, so that name="a,b" holds several names.
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return Output{}, fmt.Errorf("invalid -o %q: %v", s, err)
	}
	var o Output
	for _, kv := range fields {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "name":
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					o.Names = append(o.Names, n)
				}
			}
		case "push":
			if o.Push, err = strconv.ParseBool(v); err != nil {
				return o, fmt.Errorf("invalid -o %q: push=%s is not true or false", s, v)
			}
		default:
			return o, fmt.Errorf("invalid -o %q: unknown key %q (gantry takes type=, dest=, name= and push=)", s, k)
		}
	}
	needsDest := func() error {
		if o.Dest == "" {
			return fmt.Errorf("invalid -o %q: type=%s needs dest=", s, o.Type)
		}
		return nil
	}
	switch o.Type {
	case "docker":
		if o.Dest == "" {
			o.Type = "daemon" // buildx loads into the daemon then
		}
	case "oci", "local", "tar":
		err = needsDest()
	case "daemon", "cacheonly":
	case "image":
		if len(o.Names) == 0 {
			err = fmt.Errorf("invalid -o %q: type=image needs name=NAME", s)
		}
	case "registry":
		o.Push = true
	case "":
		err = fmt.Errorf("invalid -o %q: give type=docker|oci|local|tar|daemon|image|registry", s)
	default:
		err = fmt.Errorf("invalid -o %q: unknown type %q (gantry writes docker, oci, local, tar, daemon, image, registry and cacheonly)", s, o.Type)
	}
	for _, n := range o.Names {
		if _, perr := reference.Parse(n); perr != nil && err == nil {
			err = fmt.Errorf("invalid -o %q: %w", s, perr)
		}
	}
	return o, err
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
	for _, o := range t.Outputs {
		if o.Type == "registry" && len(o.Names) == 0 && len(t.Names) == 0 {
			return errors.New("-o type=registry needs name=NAME or -t NAME")
		}
	}
	for _, n := range t.Names {
		if _, err := reference.Parse(n); err != nil {
			return err
		}
	}
	return nil
}

// Check makes sure, before a build spends any time, that the outputs can
// be reached: a daemon output needs an engine that answers.
func (t Targets) Check(ctx context.Context) error {
	for _, o := range t.Outputs {
		if o.Type == "daemon" {
			if err := pingDaemon(ctx); err != nil {
				return fmt.Errorf("-o type=%s: %w", o.Type, err)
			}
		}
	}
	return nil
}

// stored is every name the image is stored under: -t and type=image.
func (t Targets) stored() []string {
	names := append([]string{}, t.Names...)
	for _, o := range t.Outputs {
		if o.Type == "image" {
			names = append(names, o.Names...)
		}
	}
	return names
}

// pushed is every name the image is pushed to: -t with --push,
// type=image,push=true and type=registry (its names, or the -t names).
func (t Targets) pushed() []string {
	var names []string
	if t.Push {
		names = append(names, t.Names...)
	}
	for _, o := range t.Outputs {
		switch {
		case o.Type == "registry" && len(o.Names) == 0:
			names = append(names, t.Names...)
		case o.Push && (o.Type == "image" || o.Type == "registry"):
			names = append(names, o.Names...)
		}
	}
	return unique(names)
}

func unique(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
