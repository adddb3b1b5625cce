package dockerfile

import (
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/gantry-build/gantry/pkg/config"
)

// pipesDir is where BuildKit mounts a RUN heredoc that starts with a
// shebang, as an executable file named after its delimiter.
const pipesDir = "/dev/pipes/"

// heredocScript is the file a shebang heredoc runs as.
type heredocScript struct {
	name string // base name under pipesDir
	data string
}

// runArgs is RUN's argv as BuildKit's dispatchRun makes it: a command that
// is one heredoc alone runs the heredoc's body in the shell, or, when the
// body starts with "#!", runs it as a file (returned as script) by its
// interpreter; any other command with heredocs gets them written back
// after it, body then delimiter, for the shell to feed them as stdin.
// Variables in heredocs are the shell's to expand, never the build's.
func runArgs(in *instructions.RunCommand, shell []string) ([]string, *heredocScript) {
	cl := in.ShellDependantCmdLine
	if len(in.Files) == 0 || len(cl.CmdLine) != 1 || !cl.PrependShell {
		return config.CommandLine(cl, shell), nil
	}
	var script *heredocScript
	if parser.MustParseHeredoc(cl.CmdLine[0]) != nil {
		data := in.Files[0].Data
		if in.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			script = &heredocScript{name: in.Files[0].Name, data: data}
			data = path.Join(pipesDir, in.Files[0].Name)
		}
		cl.CmdLine = []string{data}
	} else {
		var b strings.Builder
		b.WriteString(cl.CmdLine[0])
		for _, f := range in.Files {
			b.WriteByte('\n')
			b.WriteString(f.Data)
			b.WriteString(f.Name)
		}
		cl.CmdLine = []string{b.String()}
	}
	return config.CommandLine(cl, shell), script
}
