package config

import (
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// ApplyChanges applies Dockerfile instructions (--change 'CMD ["x"]'), as
// docker commit -c and docker import -c do: CMD, ENTRYPOINT, ENV, EXPOSE,
// LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK. BuildKit's
// own parser reads them, so quoting and forms are exactly Dockerfile's.
//
// The changes are one sequence, as moby's BuildFromConfig runs them: an
// ENTRYPOINT drops the inherited CMD unless a CMD came before it.
func ApplyChanges(cf *v1.ConfigFile, changes []string, created time.Time) error {
	c := &cf.Config
	st := &Stage{File: cf}
	for _, change := range changes {
		res, err := parser.Parse(strings.NewReader(change))
		if err != nil {
			return fmt.Errorf("invalid --change %q: %v", change, err)
		}
		if len(res.AST.Children) != 1 {
			return fmt.Errorf("invalid --change %q: give one instruction per --change", change)
		}
		inst, err := instructions.ParseInstruction(res.AST.Children[0])
		if err != nil {
			return fmt.Errorf("invalid --change %q: %v", change, err)
		}
		// Expansion resolves quotes and $VARS against the image's ENV, as
		// the builder does for these instructions.
		if ex, ok := inst.(instructions.SupportsSingleWordExpansion); ok {
			lex := shell.NewLex(res.EscapeToken)
			err := ex.Expand(func(word string) (string, error) {
				out, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(c.Env))
				return out, err
			})
			if err != nil {
				return fmt.Errorf("invalid --change %q: %v", change, err)
			}
		}
		switch inst.(type) {
		case *instructions.CmdCommand, *instructions.EntrypointCommand, *instructions.EnvCommand, *instructions.ExposeCommand,
			*instructions.LabelCommand, *instructions.OnbuildCommand, *instructions.UserCommand, *instructions.VolumeCommand,
			*instructions.WorkdirCommand, *instructions.StopSignalCommand, *instructions.HealthCheckCommand:
		default:
			return fmt.Errorf("invalid --change %q: only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL and HEALTHCHECK change a config", change)
		}
		if err := st.Apply(inst.(instructions.Command), nil); err != nil {
			return fmt.Errorf("invalid --change %q: %v", change, err)
		}
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: strings.TrimSpace(change), EmptyLayer: true})
	}
	return nil
}
