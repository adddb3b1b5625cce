package dockerfile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gantry-build/gantry/pkg/platform"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Build arguments: the meta ARGs, expansion, and the --build-arg names
// nothing reads.

// metaArgs resolves the ARGs before the first FROM, after the predefined
// platform and target args (which --build-arg may override), as BuildKit's
// defaultArgs and buildMetaArgs do: a given build arg wins and its default
// is never read; a default that fails to expand (${X:?msg}) fails the
// build; an ARG with neither stays unset.
func (b *dfBuild) metaArgs(args []instructions.ArgCommand) (map[string]string, error) {
	host := platform.Host()
	out := map[string]string{
		"TARGETPLATFORM": platform.String(b.platform), "TARGETOS": b.platform.OS,
		"TARGETARCH": b.platform.Architecture, "TARGETVARIANT": b.platform.Variant,
		"BUILDPLATFORM": platform.String(host), "BUILDOS": host.OS,
		"BUILDARCH": host.Architecture, "BUILDVARIANT": host.Variant,
		"TARGETOSVERSION": b.platform.OSVersion, "BUILDOSVERSION": host.OSVersion,
		"TARGETSTAGE": b.targetStage(),
	}
	for k := range out {
		if v, ok := b.o.BuildArgs[k]; ok {
			out[k] = v
		}
	}
	for _, a := range args {
		for _, kv := range a.Args {
			if v, ok := b.o.BuildArgs[kv.Key]; ok {
				out[kv.Key] = v
				continue
			}
			if kv.Value == nil {
				continue
			}
			v, err := b.expandWith(*kv.Value, out)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", b.o.Dockerfile, a.String(), err)
			}
			out[kv.Key] = v
		}
	}
	return out, nil
}

// targetStage is TARGETSTAGE: the --target given, else the last stage's
// name, else "default", as BuildKit names it.
func (b *dfBuild) targetStage() string {
	if b.o.Target != "" {
		return b.o.Target
	}
	if n := b.stages[len(b.stages)-1].Name; n != "" {
		return n
	}
	return "default"
}

func (b *dfBuild) expandWith(word string, vars map[string]string) (string, error) {
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	out, _, err := shell.NewLex(b.escape).ProcessWord(word, shell.EnvsFromSlice(env))
	return out, err
}

// unusedBuildArgs are the --build-arg names no ARG of the Dockerfile
// declares and that are not predefined (platform args, proxy args,
// BuildKit's own), sorted.
func unusedBuildArgs(stages []instructions.Stage, meta []instructions.ArgCommand, given map[string]string) []string {
	declared := map[string]bool{}
	for _, a := range meta {
		for _, kv := range a.Args {
			declared[kv.Key] = true
		}
	}
	for _, st := range stages {
		for _, cmd := range st.Commands {
			if a, ok := cmd.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					declared[kv.Key] = true
				}
			}
		}
	}
	var unused []string
	for k := range given {
		predefined := strings.HasPrefix(k, "BUILDKIT_") || strings.HasPrefix(k, "TARGET") || strings.HasPrefix(k, "BUILD") ||
			slices.Contains(proxyArgs, strings.ToLower(k))
		if !declared[k] && !predefined {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	return unused
}
