// Package reference parses image references by Docker's rules and prints them
// the two ways Docker does: canonical (docker.io/library/busybox:latest) and
// familiar (busybox:latest).
//
// go-containerregistry's name package does the parsing; this package only adds
// what it lacks: Docker Hub spelled "docker.io" rather than "index.docker.io",
// and the familiar short form used in archives and tables.
package reference

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

const (
	hubRegistry   = "docker.io"
	hubIndex      = name.DefaultRegistry // "index.docker.io", ggcr's spelling
	officialRepos = "library/"
)

// Parse parses s as Docker does: no registry means Docker Hub, a one-part name
// on Docker Hub means library/NAME, no tag means latest. NAME:TAG@DIGEST pins the
// digest and keeps the tag for display only, as Docker does.
func Parse(s string, opts ...name.Option) (name.Reference, error) {
	if s == "" {
		return nil, fmt.Errorf("invalid reference: empty name")
	}
	if strings.ToLower(s) != s && !strings.Contains(s, "@") {
		// ggcr accepts upper case in the repository path; Docker does not.
		repoPart := s
		if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
			repoPart = s[:i]
		}
		if i := strings.Index(repoPart, "/"); i >= 0 {
			repoPart = repoPart[i+1:]
		}
		if strings.ToLower(repoPart) != repoPart {
			return nil, fmt.Errorf("invalid reference %q: repository name must be lowercase", s)
		}
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %w", s, err)
	}
	for _, part := range strings.Split(ref.Context().RepositoryStr(), "/") {
		if !pathComponent.MatchString(part) {
			return nil, fmt.Errorf("invalid reference %q: repository path component %q is not lowercase letters and digits joined by '.', '_', '__' or '-'", s, part)
		}
	}
	return ref, nil
}

// pathComponent is Docker's grammar for one repository path component
// (distribution/reference); ggcr accepts more, e.g. "-bad" and empty components.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

// Registry returns the registry host of ref as Docker names it ("docker.io" for Docker Hub).
func Registry(r name.Registry) string {
	if r.RegistryStr() == hubIndex {
		return hubRegistry
	}
	return r.RegistryStr()
}

// Repository returns the canonical repository name: docker.io/library/busybox.
func Repository(repo name.Repository) string {
	return Registry(repo.Registry) + "/" + repo.RepositoryStr()
}

// Canonical returns the full reference: docker.io/library/busybox:latest or
// docker.io/library/busybox@sha256:….
func Canonical(ref name.Reference) string {
	return Repository(ref.Context()) + separator(ref) + ref.Identifier()
}

// FamiliarRepository returns the repository as Docker prints it: busybox,
// user/app, 127.0.0.1:5000/app.
func FamiliarRepository(repo name.Repository) string {
	if Registry(repo.Registry) != hubRegistry {
		return Repository(repo)
	}
	return strings.TrimPrefix(repo.RepositoryStr(), officialRepos)
}

// Familiar returns the reference as Docker prints it: busybox:latest.
func Familiar(ref name.Reference) string {
	return FamiliarRepository(ref.Context()) + separator(ref) + ref.Identifier()
}

func separator(ref name.Reference) string {
	if _, ok := ref.(name.Digest); ok {
		return "@"
	}
	return ":"
}
