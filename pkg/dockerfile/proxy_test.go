package dockerfile

import (
	"sort"
	"strings"
	"testing"
)

// The proxy args are predefined, as in BuildKit (proxyEnvFromBuildArgs and
// the exec op's proxyEnvList): given with --build-arg, in either case, they
// reach RUN's environment in both cases without an ARG line, over what the
// stage sets; they stay out of $VAR expansion and the step's cache key
// (stepKey reads only declared ARGs). Empty ones are not set.
func TestProxyArgsReachRun(t *testing.T) {
	b := &dfBuild{o: DockerfileOptions{BuildArgs: map[string]string{
		"http_proxy": "hp", "NO_PROXY": "np", "ftp_proxy": "", "FOO": "foo",
	}}}
	s := &stageState{b: b, args: map[string]string{}, env: map[string]string{"PATH": "/bin", "no_proxy": "stage"}}
	env := s.runEnv()
	sort.Strings(env)
	got := strings.Join(env, " ")
	for _, w := range []string{"HTTP_PROXY=hp", "http_proxy=hp", "NO_PROXY=np", "no_proxy=np"} {
		if !strings.Contains(" "+got+" ", " "+w+" ") {
			t.Errorf("RUN env %s: no %s", got, w)
		}
	}
	for _, no := range []string{"FOO=", "ftp_proxy=", "FTP_PROXY=", "no_proxy=stage"} {
		if strings.Contains(got, no) {
			t.Errorf("RUN env %s: has %s", got, no)
		}
	}
	if v, _ := s.expand("${HTTP_PROXY}"); v != "" {
		t.Errorf("$HTTP_PROXY expands to %q without an ARG line, want nothing", v)
	}
}
