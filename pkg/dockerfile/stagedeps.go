package dockerfile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// checkStages finds what BuildKit refuses before it builds anything: a
// COPY --from with a variable or an index past the last stage, and a cycle
// between stages (FROM an earlier stage, COPY --from any stage), reported
// as BuildKit's validateCircularDependency reports it: on the first stage,
// in order, from which a cycle is reached.
func (b *dfBuild) checkStages() error {
	deps := make([][]int, len(b.stages))
	for i, st := range b.stages {
		base, err := b.expandWith(st.BaseName, b.meta)
		if err == nil && !strings.ContainsAny(base, "/:") {
			if j := stageIndex(b.stages[:i], base); j >= 0 {
				deps[i] = append(deps[i], j)
			}
		}
		for _, cmd := range st.Commands {
			c, ok := cmd.(*instructions.CopyCommand)
			if !ok || c.From == "" {
				continue
			}
			if res, _, err := shell.NewLex(b.escape).ProcessWord(c.From, shell.EnvsFromSlice(nil)); err != nil || res != c.From {
				return fmt.Errorf("%s: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround", c)
			}
			if n, err := strconv.Atoi(c.From); err == nil {
				if n < 0 || n >= len(b.stages) {
					return fmt.Errorf("%s: invalid stage index %d", c, n)
				}
				deps[i] = append(deps[i], n)
			} else if j := stageIndex(b.stages, c.From); j >= 0 {
				deps[i] = append(deps[i], j)
			}
		}
	}
	visited := map[int]bool{}
	onPath := map[int]bool{}
	var cyclic func(i int) bool
	cyclic = func(i int) bool {
		if visited[i] {
			return false
		}
		visited[i], onPath[i] = true, true
		for _, d := range deps[i] {
			if onPath[d] || cyclic(d) {
				return true
			}
		}
		delete(onPath, i)
		return false
	}
	for i, st := range b.stages {
		if cyclic(i) {
			return fmt.Errorf("circular dependency detected on stage: %s", st.Name)
		}
	}
	b.deps = deps
	return nil
}
