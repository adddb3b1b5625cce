package dockerfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// parseDockerfile reads the Dockerfile: its stages, the ARGs before the
// first FROM, and its escape character.
func parseDockerfile(path string) ([]instructions.Stage, []instructions.ArgCommand, rune, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, 0, fmt.Errorf("no Dockerfile at %s: give -f FILE, or --from BASE --add SRC:DEST for a build without one", path)
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("dockerfile: %w", err)
	}
	ast, err := parser.Parse(f)
	f.Close()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	// A linter that reports nothing: BuildKit's parser reads "# check=" comments
	// through it, and a nil one panics.
	stages, metaArgs, err := instructions.Parse(ast.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(stages) == 0 {
		return nil, nil, 0, fmt.Errorf("%s has no FROM", path)
	}
	return stages, metaArgs, ast.EscapeToken, nil
}

// stageIndex finds a stage by name (the last of that name, as BuildKit's
// map of names keeps it) or by index.
func stageIndex(stages []instructions.Stage, name string) int {
	for i := len(stages) - 1; i >= 0; i-- {
		if strings.EqualFold(stages[i].Name, name) {
			return i
		}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(stages) {
		return i
	}
	return -1
}
