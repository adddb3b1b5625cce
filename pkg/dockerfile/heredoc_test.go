package dockerfile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func parseRun(t *testing.T, text string) *instructions.RunCommand {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		t.Fatal(err)
	}
	return cmd.(*instructions.RunCommand)
}

// RUN with heredocs is what BuildKit's dispatchRun makes of it: a command
// made only of one heredoc runs its body in the shell (tabs stripped for
// <<-), or, with a shebang, as a file at /dev/pipes/NAME; any other
// command gets its heredocs back after it, for the shell to feed them as
// stdin (several on one line too).
func TestRunHeredocArgs(t *testing.T) {
	sh := []string{"/bin/sh", "-c"}
	cases := []struct {
		text   string
		args   []string
		script string // the file at /dev/pipes, "" for none
	}{
		{"RUN <<EOT\necho hi\necho there\nEOT\n", []string{"/bin/sh", "-c", "echo hi\necho there\n"}, ""},
		{"RUN <<-EOT\n\techo tab\nEOT\n", []string{"/bin/sh", "-c", "echo tab\n"}, ""},
		{"RUN <<EOT\n#!/usr/bin/env python3\nprint(1)\nEOT\n", []string{"/bin/sh", "-c", "/dev/pipes/EOT"}, "#!/usr/bin/env python3\nprint(1)\n"},
		{"RUN cat <<EOT > /out\nline $HOME\nEOT\n", []string{"/bin/sh", "-c", "cat <<EOT > /out\nline $HOME\nEOT"}, ""},
		{"RUN python3 <<EOF\nprint(2)\nEOF\n", []string{"/bin/sh", "-c", "python3 <<EOF\nprint(2)\nEOF"}, ""},
		{"RUN cat <<A <<B\na\nA\nb\nB\n", []string{"/bin/sh", "-c", "cat <<A <<B\na\nA\nb\nB"}, ""},
		{"RUN cat <<'EOT'\n$NOT\nEOT\n", []string{"/bin/sh", "-c", "cat <<'EOT'\n$NOT\nEOT"}, ""},
	}
	for _, c := range cases {
		args, script := runArgs(parseRun(t, c.text), sh)
		if !reflect.DeepEqual(args, c.args) {
			t.Errorf("%q: args %q, want %q", c.text, args, c.args)
		}
		got := ""
		if script != nil {
			got = script.data
		}
		if got != c.script {
			t.Errorf("%q: script %q, want %q", c.text, got, c.script)
		}
	}
}

// COPY heredocs expand the stage's variables unless the delimiter is
// quoted, as BuildKit's ExpandRaw (quotes in the body stay); <<- strips
// leading tabs.
func TestCopyHeredocExpansion(t *testing.T) {
	dir := t.TempDir()
	tree, err := dfBuildTree(t, dir, "FROM scratch\nARG NAME=world\nENV GREETING=hello\n"+
		"COPY <<EOT /a\n$GREETING ${NAME} \"q\" 'x' \\$NAME\nEOT\n"+
		"COPY <<'EOT' /b\n$GREETING\nEOT\n"+
		"COPY <<-EOT /c\n\ttabbed $NAME\nEOT\n", DockerfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"a": "hello world \"q\" 'x' $NAME\n", "b": "$GREETING\n", "c": "tabbed world\n"} {
		if tree[p].body != want {
			t.Errorf("/%s: %q, want %q", p, tree[p].body, want)
		}
	}
}
